using MedVision.Edge.Storage;

namespace MedVision.Edge.Api;

/// <summary><c>GET /api/studies</c> item.</summary>
public sealed record StudyDto(
    string StudyInstanceUid,
    string? PatientId,
    string? Modality,
    int InstanceCount,
    string Status,
    DateTimeOffset FirstReceivedUtc,
    DateTimeOffset LastReceivedUtc,
    DateTimeOffset? CompletedUtc)
{
    public static StudyDto From(StudySummary study) => new(
        study.StudyUid,
        study.PatientId,
        study.Modality,
        study.InstanceCount,
        study.Status,
        study.FirstReceivedUtc,
        study.LastReceivedUtc,
        study.CompletedUtc);
}

/// <summary><c>GET /api/findings</c> item. <see cref="Review"/> is the current radiologist review, null until there is one.</summary>
public sealed record FindingDto(
    long Id,
    string StudyInstanceUid,
    string SopInstanceUid,
    string ModelId,
    string ModelVersion,
    string ModelSha256,
    string Label,
    double Probability,
    double Threshold,
    bool Positive,
    string ExecutionProvider,
    double? InferenceMs,
    DateTimeOffset CreatedUtc,
    MedVision.Edge.Review.CurrentReviewDto? Review = null)
{
    public static FindingDto From(StoredFinding stored) => From(stored, null);

    public static FindingDto From(StoredFinding stored, MedVision.Edge.Review.FindingReview? review)
    {
        ArgumentNullException.ThrowIfNull(stored);
        var f = stored.Finding;
        return new(stored.Id, f.StudyUid, f.SopInstanceUid, f.ModelId, f.ModelVersion, f.ModelSha256, f.Label,
            f.Probability, f.Threshold, f.Positive, f.ExecutionProvider, f.InferenceMs, f.CreatedUtc,
            review is null ? null : MedVision.Edge.Review.CurrentReviewDto.From(review));
    }
}

/// <summary>The <c>storage</c> part of <c>/healthz</c>.</summary>
public sealed record StorageHealthDto(
    string Root,
    long FreeMegabytes,
    long MinFreeMegabytes,
    long? Studies,
    IReadOnlyDictionary<string, long>? Instances,
    long? Findings,
    string? Error);

/// <summary>One entry of <c>models</c> in <c>/healthz</c>.</summary>
public sealed record ModelHealthDto(
    string Id,
    string Version,
    string Sha256,
    string ExecutionProvider,
    IReadOnlyList<string> Modalities,
    IReadOnlyList<LabelHealthDto> Labels);

public sealed record LabelHealthDto(string Name, string Display, double Threshold);

/// <summary>One entry of <c>modelErrors</c> in <c>/healthz</c>.</summary>
public sealed record ModelErrorDto(string Package, string Reason);
