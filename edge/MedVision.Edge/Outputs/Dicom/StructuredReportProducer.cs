using System.Globalization;
using MedVision.Dicom;
using static MedVision.Edge.Outputs.Dicom.SrContent;

namespace MedVision.Edge.Outputs.Dicom;

/// <summary>
/// The study's findings as a Comprehensive 3D SR following TID 1500 (Measurement Report) as IHE AI Results profiles it: device observer
/// context, procedure reported, image library (TID 1600) of the source instances, one measurement group (TID 1501) per finding with the
/// finding code, probability, decision and threshold, algorithm identification (TID 4019), references to the source image and heat-map
/// object, and the change since the prior study when a comparison exists. Always UNVERIFIED and PRELIMINARY.
/// </summary>
public sealed class StructuredReportProducer(OutputObjectContext context, ILogger<StructuredReportProducer> logger) : IStudyOutputProducer
{
    public bool IsEnabled => true;

    public Task<IReadOnlyList<StudyOutput>> ProduceAsync(StudyResults results, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(results);
        cancellationToken.ThrowIfCancellationRequested();
        if (results.Findings.Count == 0)
        {
            return Task.FromResult<IReadOnlyList<StudyOutput>>([]);
        }
        var dataset = Build(results);
        OutputsLog.Produced(logger, results.Study.StudyInstanceUid, nameof(StructuredReportProducer), 1);
        return Task.FromResult<IReadOnlyList<StudyOutput>>([OutputObjectContext.ToOutput(StudyOutputKinds.StructuredReport, dataset)]);
    }

    public DicomDataset Build(StudyResults results)
    {
        var now = context.Now;
        var study = results.Study;
        var sopInstanceUid = context.Uids.NewUid();
        var dataset = context.NewObject(study, OutputObjectContext.Comprehensive3DSrStorage, sopInstanceUid, "SR", context.Uids.NewUid(),
            context.Options.SeriesNumber, "AI results (preliminary, not verified)", now);

        // SR Document Series: no performed procedure step is known to the appliance (type 2, empty).
        dataset.Sequence(DicomTags.ReferencedPerformedProcedureStepSequence);
        // SR Document General.
        dataset.Text(DicomTags.CompletionFlag, DicomVR.CS, "COMPLETE");
        dataset.Text(DicomTags.VerificationFlag, DicomVR.CS, "UNVERIFIED");
        dataset.Text(DicomTags.PreliminaryFlag, DicomVR.CS, "PRELIMINARY");
        dataset.Sequence(DicomTags.PerformedProcedureCodeSequence);
        dataset.Sequence(DicomTags.CurrentRequestedProcedureEvidenceSequence, Evidence(results));
        dataset.Sequence(DicomTags.CodingSchemeIdentificationSequence, SrCodes.LocalSchemeIdentification(context.Options.Manufacturer));

        // SR Document Content: the root container.
        dataset.Text(DicomTags.ValueType, DicomVR.CS, "CONTAINER");
        dataset.CodeSequence(DicomTags.ConceptNameCodeSequence, SrCodes.ImagingMeasurementReport);
        dataset.Text(DicomTags.ContinuityOfContent, DicomVR.CS, "SEPARATE");
        dataset.Sequence(DicomTags.ContentTemplateSequence, Template("1500"));
        dataset.Sequence(DicomTags.ContentSequence, RootContent(results, sopInstanceUid));
        return dataset;
    }

    private IEnumerable<DicomDataset> RootContent(StudyResults results, string sopInstanceUid)
    {
        yield return CodeItem(HasConceptMod, SrCodes.LanguageOfContent, SrCodes.EnglishUs);
        // TID 1002 observer context, device observer: the appliance itself (no human has verified anything).
        yield return CodeItem(HasObsContext, SrCodes.ObserverType, SrCodes.Device);
        yield return UidItem(HasObsContext, SrCodes.DeviceObserverUid, context.Uids.DerivedUid(context.Options.UidRoot, "device", context.SerialNumber));
        yield return TextItem(HasObsContext, SrCodes.DeviceObserverName, context.Options.ManufacturerModelName);
        yield return TextItem(HasObsContext, SrCodes.DeviceObserverManufacturer, context.Options.Manufacturer);
        yield return TextItem(HasObsContext, SrCodes.DeviceObserverModelName, context.Options.ManufacturerModelName);
        yield return TextItem(HasObsContext, SrCodes.DeviceObserverSerialNumber, context.SerialNumber);
        yield return CodeItem(HasConceptMod, SrCodes.ProcedureReported, SrCodes.ProcedureFor(results.Study.Modality));
        yield return Container(Contains, SrCodes.ImageLibrary, [Container(Contains, SrCodes.ImageLibraryGroup, ImageLibraryGroup(results))], "1600");
        yield return Container(Contains, SrCodes.ImagingMeasurements, results.Findings.Select(f => MeasurementGroup(results, f, sopInstanceUid)));
        yield return TextItem(Contains, SrCodes.Comment,
            "Preliminary result of an AI model, not verified by a physician; not for diagnosis. Research models, not a medical device.");
    }

    private static IEnumerable<DicomDataset> ImageLibraryGroup(StudyResults results)
    {
        if (results.Study.Modality is { Length: > 0 } modality)
        {
            yield return CodeItem(HasAcqContext, SrCodes.Modality, SrCodes.ModalityCode(modality));
        }
        yield return UidItem(HasAcqContext, SrCodes.StudyInstanceUid, results.Study.StudyInstanceUid);
        foreach (var instance in results.Instances)
        {
            yield return ImageItem(Contains, null, instance.SopClassUid, instance.SopInstanceUid);
        }
    }

    private const string HasAcqContext = "HAS ACQ CONTEXT";

    private IEnumerable<DicomDataset> MeasurementGroupContent(StudyResults results, StudyFinding finding, string sopInstanceUid)
    {
        var f = finding.Finding;
        yield return TextItem(HasObsContext, SrCodes.TrackingIdentifier, $"{f.ModelId} {f.Label} finding {finding.FindingId}");
        yield return UidItem(HasObsContext, SrCodes.TrackingUniqueIdentifier, context.Uids.DerivedUid(context.Options.UidRoot, sopInstanceUid, "finding", finding.FindingId.ToString(CultureInfo.InvariantCulture)));
        var findingCode = finding.Code is { } code ? SrCodes.FromConcept(code) : new Code(Truncate(f.Label, 16), SrCodes.LocalScheme, finding.LabelDisplay);
        yield return CodeItem(Contains, SrCodes.Finding, findingCode);
        // TID 4019 algorithm identification.
        yield return TextItem(HasConceptMod, SrCodes.AlgorithmName, f.ModelId);
        yield return TextItem(HasConceptMod, SrCodes.AlgorithmVersion, f.ModelVersion);
        yield return TextItem(HasConceptMod, SrCodes.AlgorithmParameters, $"model sha256 {f.ModelSha256}");
        yield return TextItem(HasConceptMod, SrCodes.AlgorithmParameters, $"execution provider {f.ExecutionProvider}");
        yield return NumItem(Contains, SrCodes.Probability, f.Probability, SrCodes.ProbabilityUnit);
        yield return CodeItem(Contains, SrCodes.Decision, f.Positive ? SrCodes.Positive : SrCodes.Negative);
        yield return NumItem(Contains, SrCodes.DecisionThreshold, f.Threshold, SrCodes.ProbabilityUnit);
        if (results.Instances.FirstOrDefault(i => i.SopInstanceUid == f.SopInstanceUid) is { } source)
        {
            yield return ImageItem(Contains, SrCodes.SourceOfMeasurement, source.SopClassUid, source.SopInstanceUid);
        }
        if (finding.Heatmap is { } heatmap)
        {
            yield return ImageItem(Contains, SrCodes.Heatmap, OutputObjectContext.ParametricMapStorage, heatmap.SopInstanceUid);
        }
        if (results.Prior is { } prior && prior.Changes.FirstOrDefault(c => c.ModelId == f.ModelId && c.Label == f.Label) is { } change)
        {
            yield return CodeItem(Contains, SrCodes.ChangeSincePrior, SrCodes.Change(change.Change));
            yield return UidItem(Contains, SrCodes.PriorStudy, prior.PriorStudyInstanceUid);
            if (prior.PriorStudyDate is { Length: 8 } date)
            {
                yield return DateItem(Contains, SrCodes.PriorStudyDate, date);
            }
            if (change.PriorProbability is { } priorProbability)
            {
                yield return NumItem(Contains, SrCodes.PriorProbability, priorProbability, SrCodes.ProbabilityUnit);
            }
        }
    }

    private DicomDataset MeasurementGroup(StudyResults results, StudyFinding finding, string sopInstanceUid) =>
        Container(Contains, SrCodes.MeasurementGroup, MeasurementGroupContent(results, finding, sopInstanceUid), "1501");

    /// <summary>Every object the SR references, by series: the source instances and the heat-map Parametric Maps.</summary>
    private DicomDataset[] Evidence(StudyResults results)
    {
        var series = new Dictionary<string, List<DicomDataset>>(StringComparer.Ordinal);
        void Add(string seriesUid, string sopClass, string sopInstance)
        {
            if (!series.TryGetValue(seriesUid, out var list))
            {
                series[seriesUid] = list = [];
            }
            if (!list.Any(r => r.GetStringOrDefault(DicomTags.ReferencedSOPInstanceUID) == sopInstance))
            {
                list.Add(Reference(sopClass, sopInstance));
            }
        }
        foreach (var instance in results.Instances)
        {
            // Evidence is listed by series; an instance whose series is unknown even in its file cannot be listed correctly.
            if ((instance.SeriesInstanceUid ?? ReadSeriesUid(instance)) is { Length: > 0 } seriesUid)
            {
                Add(seriesUid, instance.SopClassUid, instance.SopInstanceUid);
            }
        }
        var mapSeries = context.ParametricMapSeriesUid(results.Study.StudyInstanceUid);
        foreach (var finding in results.Findings)
        {
            if (finding.Heatmap is { } heatmap)
            {
                Add(mapSeries, OutputObjectContext.ParametricMapStorage, heatmap.SopInstanceUid);
            }
        }
        var seriesItems = series.Select(s => DicomBuild.Item()
            .Sequence(DicomTags.ReferencedSOPSequence, s.Value)
            .Text(DicomTags.SeriesInstanceUID, DicomVR.UI, s.Key)).ToArray();
        return
        [
            DicomBuild.Item()
                .Sequence(DicomTags.ReferencedSeriesSequence, seriesItems)
                .Text(DicomTags.StudyInstanceUID, DicomVR.UI, results.Study.StudyInstanceUid),
        ];
    }

    private static string? ReadSeriesUid(SourceInstance instance)
    {
        try
        {
            return SourceImageHeader.Read(instance).SeriesInstanceUid;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or DicomFormatException)
        {
            return null;
        }
    }

    private static string Truncate(string value, int length) => value.Length > length ? value[..length] : value;
}
