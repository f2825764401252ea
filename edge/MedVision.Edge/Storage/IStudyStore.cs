namespace MedVision.Edge.Storage;

/// <summary>
/// Durable record of what the appliance received and found. Every method is one short transaction, so a
/// C-STORE can be acknowledged as soon as <see cref="RecordReceivedAsync"/> returns.
/// </summary>
public interface IStudyStore
{
    /// <summary>
    /// Records a received instance (state <c>received</c>) and creates or refreshes its study
    /// (status <c>receiving</c>). A re-send of a known SOP Instance UID replaces the earlier copy.
    /// </summary>
    Task<RecordResult> RecordReceivedAsync(ReceivedInstance instance, CancellationToken cancellationToken);

    /// <summary>
    /// As <see cref="RecordReceivedAsync(ReceivedInstance, CancellationToken)"/>; with <paramref name="syncToDisk"/> false the
    /// commit skips the WAL flush, for callers that can rebuild the record after a power cut (the spool's proven files).
    /// </summary>
    Task<RecordResult> RecordReceivedAsync(ReceivedInstance instance, bool syncToDisk, CancellationToken cancellationToken);

    /// <summary>Every spool path the database knows (start-up recovery compares the spool against it).</summary>
    Task<IReadOnlySet<string>> GetSpoolPathsAsync(CancellationToken cancellationToken);

    /// <summary>Instances still in state <c>received</c>, oldest first; used to resume after a restart.</summary>
    Task<IReadOnlyList<PendingInstance>> GetPendingInstancesAsync(int max, CancellationToken cancellationToken);

    /// <summary>
    /// Sets an instance's state (one of <see cref="InstanceStates"/>) and error text and stamps
    /// <c>processed_utc</c> (cleared again for <c>received</c>). An unknown SOP Instance UID is logged and ignored.
    /// </summary>
    Task MarkInstanceAsync(string sopInstanceUid, string state, string? error, CancellationToken cancellationToken);

    /// <summary>
    /// Recomputes a study's status from its instances: any <c>received</c> → <c>receiving</c>; otherwise any
    /// <c>failed</c> → <c>failed</c>; otherwise (all processed/skipped) → <c>processed</c>.
    /// </summary>
    Task UpdateStudyStatusAsync(string studyUid, CancellationToken cancellationToken);

    /// <summary>Inserts findings, replacing any with the same (SOP instance, model, version, label).</summary>
    Task AddFindingsAsync(IReadOnlyList<FindingRecord> findings, CancellationToken cancellationToken);

    /// <summary>
    /// Stores an instance's findings, its final state and its study's status in ONE transaction, so a crash can never
    /// leave findings recorded for an instance that is still queued (which would process it twice).
    /// </summary>
    Task CompleteInstanceAsync(PendingInstance instance, string state, string? error, IReadOnlyList<FindingRecord> findings, CancellationToken cancellationToken);

    /// <summary>Studies, most recently received first.</summary>
    Task<IReadOnlyList<StudySummary>> ListStudiesAsync(int limit, int offset, CancellationToken cancellationToken);

    Task<StudySummary?> GetStudyAsync(string studyUid, CancellationToken cancellationToken);

    /// <summary>Findings, newest first, optionally for one study.</summary>
    Task<IReadOnlyList<StoredFinding>> ListFindingsAsync(string? studyUid, int limit, CancellationToken cancellationToken);

    Task<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken);

    /// <summary>Marks complete every open study whose last instance arrived before the cut-off; returns their UIDs.</summary>
    Task<IReadOnlyList<string>> CompleteQuietStudiesAsync(DateTimeOffset lastReceivedBefore, CancellationToken cancellationToken);
}

/// <summary>What the ingest knows about an instance once its file is safely in the spool.</summary>
public sealed record ReceivedInstance(
    string SopInstanceUid,
    string SopClassUid,
    string StudyInstanceUid,
    string? SeriesInstanceUid,
    string? Modality,
    string? PatientId,
    string? PatientName,
    string? StudyDate,
    string? AccessionNumber,
    string TransferSyntaxUid,
    string CallingAe,
    string SpoolPath,
    long SizeBytes,
    DateTimeOffset ReceivedUtc);

/// <summary>
/// Outcome of <see cref="IStudyStore.RecordReceivedAsync"/>. For a duplicate, <see cref="PreviousSpoolPath"/> is
/// where the replaced copy was stored: the caller deletes that file when it differs from the new one.
/// </summary>
public sealed record RecordResult(bool IsDuplicate, string? PreviousSpoolPath)
{
    public static RecordResult Added { get; } = new(false, null);

    public static RecordResult Replaced(string previousSpoolPath) => new(true, previousSpoolPath);
}

public sealed record PendingInstance(
    string SopInstanceUid,
    string StudyUid,
    string? Modality,
    string SopClassUid,
    string SpoolPath,
    DateTimeOffset ReceivedUtc);

public sealed record FindingRecord(
    string StudyUid,
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
    HeatmapRecord? Heatmap = null);

/// <summary>A finding as stored, with its row id.</summary>
public sealed record StoredFinding(long Id, FindingRecord Finding);

public sealed record StudySummary(
    string StudyUid,
    string? PatientId,
    string? PatientName,
    string? StudyDate,
    string? AccessionNumber,
    string? Modality,
    string Status,
    int InstanceCount,
    DateTimeOffset FirstReceivedUtc,
    DateTimeOffset LastReceivedUtc,
    DateTimeOffset? CompletedUtc = null);

/// <summary>Counts for /healthz. <see cref="InstancesByState"/> has every known state, zero included.</summary>
public sealed record StoreStatistics(long Studies, IReadOnlyDictionary<string, long> InstancesByState, long Findings)
{
    public long Instances => InstancesByState.Values.Sum();
}

/// <summary>Values of <c>instances.state</c>.</summary>
public static class InstanceStates
{
    public const string Received = "received";
    public const string Processed = "processed";
    public const string Skipped = "skipped";
    public const string Failed = "failed";

    public static IReadOnlyList<string> All { get; } = [Received, Processed, Skipped, Failed];

    public static bool IsValid(string state) => state is Received or Processed or Skipped or Failed;
}

/// <summary>Values of <c>studies.status</c>.</summary>
public static class StudyStatuses
{
    public const string Receiving = "receiving";
    public const string Complete = "complete";
    public const string Processed = "processed";
    public const string Failed = "failed";
}
