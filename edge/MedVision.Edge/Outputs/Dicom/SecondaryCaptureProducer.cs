using MedVision.Dicom;
using MedVision.Dicom.Imaging;
using MedVision.Edge.Outputs.Heatmaps;

namespace MedVision.Edge.Outputs.Dicom;

/// <summary>
/// For viewers that cannot show a Parametric Map: an RGB Secondary Capture of the source image (its own window) with the heat map burned
/// in, Burned In Annotation YES and a derivation description that says it is an AI heat map, not for diagnosis. Optional
/// (<see cref="OutputObjectOptions.BurnedInSecondaryCapture"/>).
/// </summary>
public sealed class SecondaryCaptureProducer(OutputObjectContext context, ILogger<SecondaryCaptureProducer> logger) : IStudyOutputProducer
{
    public const string DerivationText = "AI heatmap, not for diagnosis";

    private static readonly Code DerivationCode = new("113076", "DCM", "Segmentation");

    public bool IsEnabled => context.Options.BurnedInSecondaryCapture;

    public async Task<IReadOnlyList<StudyOutput>> ProduceAsync(StudyResults results, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(results);
        var outputs = new List<StudyOutput>();
        var seriesUid = context.Uids.NewUid();
        foreach (var finding in results.Findings)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (finding.Heatmap is not { } heatmap
                || results.Instances.FirstOrDefault(i => i.SopInstanceUid == finding.Finding.SopInstanceUid) is not { } source)
            {
                continue;
            }
            var map = await HeatmapStore.ReadFloatMapAsync(heatmap.FloatMapPath, heatmap.Columns, heatmap.Rows, cancellationToken).ConfigureAwait(false);
            var background = DicomImage.Open(DicomFile.Open(source.SpoolPath)).Render(0);
            if (background.Width != heatmap.Columns || background.Height != heatmap.Rows)
            {
                throw new InvalidDataException($"Heat map {heatmap.Columns}x{heatmap.Rows} does not fit source {source.SopInstanceUid} ({background.Width}x{background.Height}).");
            }
            var rgb = HeatmapOverlay.Blend(background, map);
            var dataset = Build(results.Study, finding, SourceImageHeader.Read(source), seriesUid, rgb, background.Width, background.Height, outputs.Count + 1);
            outputs.Add(OutputObjectContext.ToOutput(StudyOutputKinds.SecondaryCapture, dataset));
        }
        OutputsLog.Produced(logger, results.Study.StudyInstanceUid, nameof(SecondaryCaptureProducer), outputs.Count);
        return outputs;
    }

    internal DicomDataset Build(StudyHeader study, StudyFinding finding, SourceImageHeader source, string seriesUid, byte[] rgb, int width, int height, int instanceNumber)
    {
        var now = context.Now;
        var f = finding.Finding;
        var dataset = context.NewObject(study, OutputObjectContext.SecondaryCaptureStorage, context.Uids.NewUid(), "OT", seriesUid,
            context.Options.SeriesNumber + 2, "AI heat map overlay (not for diagnosis)", now);
        dataset.Integer(DicomTags.InstanceNumber, instanceNumber);
        dataset.Text(DicomTags.ConversionType, DicomVR.CS, "WSD");
        // Laterality is 2C on paired body parts: copied when the source has one, and Body Part Examined tells a reader when none applies.
        if (source.BodyPartExamined is { Length: > 0 } bodyPart)
        {
            dataset.Text(DicomTags.BodyPartExamined, DicomVR.CS, bodyPart);
        }
        if (source.Laterality is "L" or "R")
        {
            dataset.Text(DicomTags.Laterality, DicomVR.CS, source.Laterality);
        }
        dataset.Text(DicomTags.ImageType, DicomVR.CS, @"DERIVED\SECONDARY");
        dataset.Text(DicomTags.PatientOrientation, DicomVR.CS, source.PatientOrientation);
        dataset.Text(DicomTags.DerivationDescription, DicomVR.ST,
            $"{DerivationText}: {f.ModelId} {f.ModelVersion} {finding.LabelDisplay} probability {f.Probability:0.###} ({(f.Positive ? "positive" : "negative")} at {f.Threshold:0.###}), preliminary, unverified");
        dataset.CodeSequence(DicomTags.DerivationCodeSequence, DerivationCode);
        dataset.Sequence(DicomTags.SourceImageSequence, SrContent.Reference(source.SopClassUid, source.SopInstanceUid));
        dataset.Text(DicomTags.BurnedInAnnotation, DicomVR.CS, "YES");
        dataset.Text(DicomTags.LossyImageCompression, DicomVR.CS, "00");
        dataset.AddOrUpdate(DicomTags.SamplesPerPixel, DicomVR.US, (ushort)3);
        dataset.Text(DicomTags.PhotometricInterpretation, DicomVR.CS, "RGB");
        dataset.AddOrUpdate(DicomTags.PlanarConfiguration, DicomVR.US, (ushort)0);
        dataset.AddOrUpdate(DicomTags.Rows, DicomVR.US, (ushort)height);
        dataset.AddOrUpdate(DicomTags.Columns, DicomVR.US, (ushort)width);
        dataset.AddOrUpdate(DicomTags.BitsAllocated, DicomVR.US, (ushort)8);
        dataset.AddOrUpdate(DicomTags.BitsStored, DicomVR.US, (ushort)8);
        dataset.AddOrUpdate(DicomTags.HighBit, DicomVR.US, (ushort)7);
        dataset.AddOrUpdate(DicomTags.PixelRepresentation, DicomVR.US, (ushort)0);
        dataset.Text(DicomTags.ImageComments, DicomVR.LT, DerivationText);
        var pixels = rgb;
        if ((pixels.Length & 1) == 1)
        {
            // Pixel Data has an even length; the pad byte follows the last pixel.
            Array.Resize(ref pixels, pixels.Length + 1);
        }
        dataset.AddOrUpdate(DicomTags.PixelData, DicomVR.OB, pixels);
        return dataset;
    }
}
