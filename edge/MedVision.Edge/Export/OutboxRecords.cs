namespace MedVision.Edge.Export;

/// <summary>Values of <c>deliveries.state</c>.</summary>
public static class DeliveryStates
{
    /// <summary>Waiting for its next attempt (<c>next_attempt_utc</c>); also after a failed attempt with attempts left.</summary>
    public const string Pending = "pending";

    /// <summary>An attempt is under way; reset to pending at start-up (the process stopped mid-send).</summary>
    public const string Delivering = "delivering";

    public const string Delivered = "delivered";

    /// <summary>Given up: attempts exhausted or refused for good (e.g. FHIR 400). <c>POST /api/deliveries/{id}/retry</c> revives it.</summary>
    public const string Dead = "dead";

    public static IReadOnlyList<string> All { get; } = [Pending, Delivering, Delivered, Dead];
}

/// <summary>Values of <c>output_generations.state</c>.</summary>
public static class GenerationStates
{
    public const string Pending = "pending";
    public const string Done = "done";

    /// <summary>The study received more instances before its outputs were made; the later completion has its own row.</summary>
    public const string Superseded = "superseded";

    public const string Failed = "failed";
}

/// <summary>A request to make a study's outputs, recorded when the study completed.</summary>
public sealed record GenerationRecord(long Id, string StudyUid, string GenerationKey, string State, int Attempts, string? LastError);

/// <summary>What the study looks like now, to decide whether its outputs can be made.</summary>
public sealed record StudyProgress(string? LastReceivedUtc, bool Completed, int Unprocessed);

/// <summary>An output written to disk, about to be recorded with its deliveries.</summary>
public sealed record NewOutput(
    string Kind,
    string FileName,
    string ContentType,
    string? SopClassUid,
    string? SopInstanceUid,
    long SizeBytes,
    string Sha256,
    string Path,
    IReadOnlyList<string> Destinations);

public sealed record OutputRecord(
    long Id,
    long GenerationId,
    string StudyUid,
    string Kind,
    string FileName,
    string ContentType,
    string? SopClassUid,
    string? SopInstanceUid,
    long SizeBytes,
    string Sha256,
    string Path,
    DateTimeOffset CreatedUtc);

public sealed record DeliveryRecord(
    long Id,
    long OutputId,
    string Destination,
    string State,
    int Attempts,
    string? LastError,
    DateTimeOffset CreatedUtc,
    DateTimeOffset NextAttemptUtc,
    DateTimeOffset? LastAttemptUtc,
    DateTimeOffset? DeliveredUtc);

/// <summary>A delivery with the output it carries.</summary>
public sealed record DeliveryWork(DeliveryRecord Delivery, OutputRecord Output);

/// <summary>Deliveries per destination and state, for /healthz and the depth gauge.</summary>
public sealed record OutboxCounts(IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>> ByDestination, long PendingGenerations)
{
    public static OutboxCounts Empty { get; } = new(new Dictionary<string, IReadOnlyDictionary<string, long>>(), 0);

    public long Count(string destination, string state) =>
        ByDestination.TryGetValue(destination, out var states) && states.TryGetValue(state, out var n) ? n : 0;
}

public enum RetryOutcome
{
    Done,
    NotFound,
    Conflict,
}
