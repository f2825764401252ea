using MedVision.Edge.Storage;

namespace MedVision.Edge.Outputs;

/// <summary>
/// Everything the output producers (SR, heatmap objects, HTML report, FHIR) need about one processed study: read once from SQLite, the
/// spool headers and the heatmap store by <see cref="IStudyResultsReader"/>, then handed to every <see cref="IStudyOutputProducer"/>.
/// Producers are pure: same results in, same objects out (apart from new UIDs and creation times).
/// </summary>
public sealed record StudyResults(
    StudyHeader Study,
    IReadOnlyList<SourceInstance> Instances,
    IReadOnlyList<StudyFinding> Findings,
    PriorComparison? Prior);

/// <summary>Patient and study attributes as the modality sent them (from the first instance of the study).</summary>
public sealed record StudyHeader(
    string StudyInstanceUid,
    string? PatientName,
    string? PatientId,
    string? PatientBirthDate,
    string? PatientSex,
    string? StudyDate,
    string? StudyTime,
    string? AccessionNumber,
    string? StudyDescription,
    string? StudyId,
    string? ReferringPhysicianName,
    string? Modality);

/// <summary>An instance of the study as stored in the spool; producers open <see cref="SpoolPath"/> when they need pixels or geometry.</summary>
public sealed record SourceInstance(
    string SopClassUid,
    string SopInstanceUid,
    string? SeriesInstanceUid,
    string? Modality,
    string SpoolPath);

/// <summary>
/// One stored finding with what the model package says about its label. <see cref="Heatmap"/> is null when the model has no CAM output
/// or the map was not kept.
/// </summary>
public sealed record StudyFinding(
    long FindingId,
    FindingRecord Finding,
    string LabelDisplay,
    CodedConcept? Code,
    HeatmapReference? Heatmap);

/// <summary>A code from a terminology, e.g. SNOMED CT (system http://snomed.info/sct) 233604007 "Pneumonia (disorder)".</summary>
public sealed record CodedConcept(string System, string Code, string Display);

/// <summary>
/// A class activation map resampled to the source image's geometry (<see cref="Columns"/> × <see cref="Rows"/>), values 0..1, stored as
/// little-endian float32 rows at <see cref="FloatMapPath"/>, with a colour overlay PNG of the same size at <see cref="OverlayPngPath"/>.
/// </summary>
public sealed record HeatmapReference(string SopInstanceUid, int Columns, int Rows, string FloatMapPath, string OverlayPngPath);

/// <summary>The comparison of this study's findings with the same patient's most recent prior study of the same kind.</summary>
public sealed record PriorComparison(
    string PriorStudyInstanceUid,
    string? PriorStudyDate,
    string? PriorAccessionNumber,
    IReadOnlyList<FindingChange> Changes);

/// <summary>How one (model, label) finding changed against the prior; <see cref="Change"/> is one of <see cref="FindingChanges"/>.</summary>
public sealed record FindingChange(
    string ModelId,
    string Label,
    double? PriorProbability,
    bool? PriorPositive,
    double CurrentProbability,
    bool CurrentPositive,
    string Change);

public static class FindingChanges
{
    /// <summary>Positive now, negative (or not assessed) in the prior.</summary>
    public const string New = "new";

    /// <summary>Same decision in both studies.</summary>
    public const string Unchanged = "unchanged";

    /// <summary>Negative now, positive in the prior.</summary>
    public const string Resolved = "resolved";
}

/// <summary>
/// One object made for a study: a DICOM instance (application/dicom, with its SOP Class and Instance UID), the HTML report, a FHIR
/// Bundle, and so on. <see cref="Kind"/> is one of <see cref="StudyOutputKinds"/>.
/// </summary>
public sealed record StudyOutput(
    string Kind,
    string FileName,
    string ContentType,
    byte[] Content,
    string? SopClassUid = null,
    string? SopInstanceUid = null);

public static class StudyOutputKinds
{
    public const string StructuredReport = "sr";
    public const string ParametricMap = "parametric-map";
    public const string SecondaryCapture = "secondary-capture";
    public const string HtmlReport = "report-html";
    public const string PdfReport = "report-pdf";
    public const string FhirBundle = "fhir-bundle";
}

/// <summary>Makes one kind of output from a study's results. Registered as <c>IEnumerable&lt;IStudyOutputProducer&gt;</c>.</summary>
public interface IStudyOutputProducer
{
    /// <summary>Whether this producer is switched on by configuration (e.g. the burned-in Secondary Capture is optional).</summary>
    bool IsEnabled { get; }

    Task<IReadOnlyList<StudyOutput>> ProduceAsync(StudyResults results, CancellationToken cancellationToken);
}

/// <summary>Assembles <see cref="StudyResults"/> for a processed study; null when the study is unknown.</summary>
public interface IStudyResultsReader
{
    Task<StudyResults?> ReadAsync(string studyUid, CancellationToken cancellationToken);
}

/// <summary>The prior comparison for a study when one was made (prior found, retrieved and run through the same models); otherwise null.</summary>
public interface IPriorComparisonSource
{
    Task<PriorComparison?> GetComparisonAsync(string studyUid, CancellationToken cancellationToken);
}
