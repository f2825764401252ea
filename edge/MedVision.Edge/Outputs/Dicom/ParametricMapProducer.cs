using MedVision.Dicom;

namespace MedVision.Edge.Outputs.Dicom;

/// <summary>
/// Each stored heat map as a single-frame DICOM Parametric Map: float32 pixel data at the source image's geometry, a Real World Value
/// Mapping (identity, unit {probability}-like relevance 0..1), the source image as derivation image and Common Instance Reference, in one
/// series per study whose UID every producer derives alike. Its SOP Instance UID is the one reserved when the heat map was stored.
/// </summary>
public sealed class ParametricMapProducer(OutputObjectContext context, ILogger<ParametricMapProducer> logger) : IStudyOutputProducer
{
    public bool IsEnabled => true;

    /// <summary>Image Type and Frame Type: derived primary; flavour HEATMAP (a defined term may be extended); no derived contrast.</summary>
    private const string FrameType = @"DERIVED\PRIMARY\HEATMAP\NONE";

    private static readonly Code HeatmapQuantity = new("HEATMAP", SrCodes.LocalScheme, "AI class activation heat map");
    private static readonly Code UnitlessUnit = new("1", "UCUM", "no units");
    private static readonly Code Quantity = new("246205007", "SCT", "Quantity");
    private static readonly Code DerivationCode = new("113076", "DCM", "Segmentation");
    private static readonly Code SourceImagePurpose = new("121322", "DCM", "Source image for image processing operation");

    public async Task<IReadOnlyList<StudyOutput>> ProduceAsync(StudyResults results, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(results);
        var outputs = new List<StudyOutput>();
        var instanceNumber = 0;
        foreach (var finding in results.Findings)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (finding.Heatmap is not { } heatmap
                || results.Instances.FirstOrDefault(i => i.SopInstanceUid == finding.Finding.SopInstanceUid) is not { } source)
            {
                continue;
            }
            var floats = await File.ReadAllBytesAsync(heatmap.FloatMapPath, cancellationToken).ConfigureAwait(false);
            var dataset = Build(results.Study, finding, heatmap, SourceImageHeader.Read(source), floats, ++instanceNumber);
            outputs.Add(OutputObjectContext.ToOutput(StudyOutputKinds.ParametricMap, dataset));
        }
        OutputsLog.Produced(logger, results.Study.StudyInstanceUid, nameof(ParametricMapProducer), outputs.Count);
        return outputs;
    }

    internal DicomDataset Build(StudyHeader study, StudyFinding finding, HeatmapReference heatmap, SourceImageHeader source, byte[] floats, int instanceNumber)
    {
        if (floats.Length != (long)heatmap.Columns * heatmap.Rows * sizeof(float))
        {
            throw new InvalidDataException($"Heat map {heatmap.FloatMapPath} holds {floats.Length} bytes, not {heatmap.Columns}x{heatmap.Rows} float32.");
        }
        var now = context.Now;
        var f = finding.Finding;
        var dataset = context.NewObject(study, OutputObjectContext.ParametricMapStorage, heatmap.SopInstanceUid, "OT",
            context.ParametricMapSeriesUid(study.StudyInstanceUid), context.Options.SeriesNumber + 1, "AI heat maps (not for diagnosis)", now);
        dataset.Integer(DicomTags.InstanceNumber, instanceNumber);
        dataset.Sequence(DicomTags.CodingSchemeIdentificationSequence, SrCodes.LocalSchemeIdentification(context.Options.Manufacturer));

        // Frame of Reference: the source's, or (projection images have none) one derived from the source instance.
        dataset.Text(DicomTags.FrameOfReferenceUID, DicomVR.UI, source.FrameOfReferenceUid ?? context.FrameOfReferenceFor(source.SopInstanceUid));
        dataset.Text(DicomTags.PositionReferenceIndicator, DicomVR.LO, "");

        // Parametric Map Image + Image Pixel (float).
        dataset.Text(DicomTags.ImageType, DicomVR.CS, FrameType);
        dataset.Text(DicomTags.ContentLabel, DicomVR.CS, "HEATMAP");
        dataset.Text(DicomTags.ContentDescription, DicomVR.LO, Truncate($"AI heat map {f.ModelId} {f.ModelVersion} {finding.LabelDisplay}, not for diagnosis", 64));
        dataset.Text(DicomTags.ContentCreatorName, DicomVR.PN, "");
        dataset.Text(DicomTags.ContentQualification, DicomVR.CS, "RESEARCH");
        dataset.AddOrUpdate(DicomTags.SamplesPerPixel, DicomVR.US, (ushort)1);
        dataset.Text(DicomTags.PhotometricInterpretation, DicomVR.CS, "MONOCHROME2");
        dataset.AddOrUpdate(DicomTags.Rows, DicomVR.US, (ushort)heatmap.Rows);
        dataset.AddOrUpdate(DicomTags.Columns, DicomVR.US, (ushort)heatmap.Columns);
        dataset.AddOrUpdate(DicomTags.BitsAllocated, DicomVR.US, (ushort)32);
        dataset.Text(DicomTags.BurnedInAnnotation, DicomVR.CS, "NO");
        dataset.Text(DicomTags.RecognizableVisualFeatures, DicomVR.CS, "NO");
        dataset.Text(DicomTags.LossyImageCompression, DicomVR.CS, "00");
        dataset.Text(DicomTags.PresentationLUTShape, DicomVR.CS, "IDENTITY");

        // Multi-frame Functional Groups and Dimension (one frame).
        dataset.Integer(DicomTags.NumberOfFrames, 1);
        var dimensionOrganization = context.Uids.DerivedUid(context.Options.UidRoot, heatmap.SopInstanceUid, "dimension-organization");
        dataset.Sequence(DicomTags.DimensionOrganizationSequence, DicomBuild.Item().Text(DicomTags.DimensionOrganizationUID, DicomVR.UI, dimensionOrganization));
        dataset.Sequence(DicomTags.DimensionIndexSequence, DicomBuild.Item()
            .AttributeTag(DicomTags.DimensionIndexPointer, DicomTags.ImagePositionPatient)
            .AttributeTag(DicomTags.FunctionalGroupPointer, DicomTags.PlanePositionSequence)
            .Text(DicomTags.DimensionOrganizationUID, DicomVR.UI, dimensionOrganization)
            .Text(DicomTags.DimensionDescriptionLabel, DicomVR.LO, "Image Position"));
        dataset.Sequence(DicomTags.SharedFunctionalGroupsSequence, SharedGroups(finding, source));
        dataset.Sequence(DicomTags.PerFrameFunctionalGroupsSequence, DicomBuild.Item()
            .Sequence(DicomTags.FrameContentSequence, DicomBuild.Item().AddOrUpdate(DicomTags.DimensionIndexValues, DicomVR.UL, 1u))
            .Sequence(DicomTags.PlanePositionSequence, DicomBuild.Item().Decimal(DicomTags.ImagePositionPatient, 0, 0, 0)));

        // Common Instance Reference: the source image lives in the same study.
        dataset.Sequence(DicomTags.ReferencedSeriesSequence, DicomBuild.Item()
            .Sequence(DicomTags.ReferencedInstanceSequence, SrContent.Reference(source.SopClassUid, source.SopInstanceUid))
            .Text(DicomTags.SeriesInstanceUID, DicomVR.UI, source.SeriesInstanceUid));
        dataset.Sequence(DicomTags.AcquisitionContextSequence);
        dataset.AddOrUpdate(DicomTags.FloatPixelData, DicomVR.OF, floats);
        return dataset;
    }

    private DicomDataset SharedGroups(StudyFinding finding, SourceImageHeader source)
    {
        var spacing = source.PixelSpacing is { Length: > 0 } value ? value : @"1\1";
        var rwvm = DicomBuild.Item()
            .Text(DicomTags.LUTExplanation, DicomVR.LO, Truncate($"{finding.LabelDisplay} relevance 0-1", 64))
            .CodeSequence(DicomTags.MeasurementUnitsCodeSequence, UnitlessUnit)
            .Sequence(DicomTags.QuantityDefinitionSequence, DicomBuild.Item()
                .Text(DicomTags.ValueType, DicomVR.CS, "CODE")
                .CodeSequence(DicomTags.ConceptNameCodeSequence, Quantity)
                .CodeSequence(DicomTags.ConceptCodeSequence, HeatmapQuantity))
            .Text(DicomTags.LUTLabel, DicomVR.SH, "HEATMAP")
            .Double(DicomTags.RealWorldValueIntercept, 0)
            .Double(DicomTags.RealWorldValueSlope, 1);
        rwvm.Double(DicomTags.DoubleFloatRealWorldValueLastValueMapped, 1.0);
        rwvm.Double(DicomTags.DoubleFloatRealWorldValueFirstValueMapped, 0.0);
        return DicomBuild.Item()
            .Sequence(DicomTags.DerivationImageSequence, DicomBuild.Item()
                .Text(DicomTags.DerivationDescription, DicomVR.ST, $"Class activation map of {finding.Finding.ModelId} {finding.Finding.ModelVersion}, bilinear to source geometry")
                .CodeSequence(DicomTags.DerivationCodeSequence, DerivationCode)
                .Sequence(DicomTags.SourceImageSequence, SrContent.Reference(source.SopClassUid, source.SopInstanceUid)
                    .CodeSequence(DicomTags.PurposeOfReferenceCodeSequence, SourceImagePurpose)))
            .Sequence(DicomTags.FrameAnatomySequence, DicomBuild.Item()
                .CodeSequence(DicomTags.AnatomicRegionSequence, source.AnatomicRegion)
                .Text(DicomTags.FrameLaterality, DicomVR.CS, source.Laterality is "L" or "R" or "B" ? source.Laterality : "U"))
            .Sequence(DicomTags.PixelMeasuresSequence, DicomBuild.Item()
                .Text(DicomTags.SliceThickness, DicomVR.DS, "1")
                .Text(DicomTags.PixelSpacing, DicomVR.DS, spacing))
            .Sequence(DicomTags.PlaneOrientationSequence, DicomBuild.Item().Decimal(DicomTags.ImageOrientationPatient, 1, 0, 0, 0, 1, 0))
            .Sequence(DicomTags.RealWorldValueMappingSequence, rwvm)
            .Sequence(DicomTags.ParametricMapFrameTypeSequence, DicomBuild.Item().Text(DicomTags.FrameType, DicomVR.CS, FrameType))
            // Identity: stored values are the real-world values (Real World Value Mapping does the labelling).
            .Sequence(DicomTags.PixelValueTransformationSequence, DicomBuild.Item()
                .Text(DicomTags.RescaleIntercept, DicomVR.DS, "0")
                .Text(DicomTags.RescaleSlope, DicomVR.DS, "1")
                .Text(DicomTags.RescaleType, DicomVR.LO, "US"));
    }

    private static string Truncate(string value, int length) => value.Length > length ? value[..length] : value;
}
