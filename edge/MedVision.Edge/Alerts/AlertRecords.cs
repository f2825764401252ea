namespace MedVision.Edge.Alerts;

/// <summary>An alert to raise for a study under a rule (one per study and rule).</summary>
public sealed record NewAlert(
    string StudyUid,
    string Rule,
    AlertSeverity Severity,
    string State,
    long? FindingId,
    string SopInstanceUid,
    string ModelId,
    string Label,
    double Probability,
    double Threshold,
    string? Modality,
    string? Priority,
    string? PatientId,
    string? AccessionNumber,
    DateTimeOffset? StudyLastReceivedUtc,
    DateTimeOffset FindingCreatedUtc,
    DateTimeOffset RaisedUtc);

/// <summary>An alert as stored.</summary>
public sealed record AlertRecord(
    long Id,
    string StudyUid,
    string Rule,
    AlertSeverity Severity,
    string State,
    long? FindingId,
    string SopInstanceUid,
    string ModelId,
    string Label,
    double Probability,
    double Threshold,
    string? Modality,
    string? Priority,
    string? PatientId,
    string? AccessionNumber,
    int FindingCount,
    DateTimeOffset? StudyLastReceivedUtc,
    DateTimeOffset FindingCreatedUtc,
    DateTimeOffset RaisedUtc,
    DateTimeOffset? BeaconOnUtc,
    DateTimeOffset? FirstPageUtc,
    int EscalationStep,
    int EscalationRound,
    DateTimeOffset? NextEscalationUtc,
    string? AcknowledgedBy,
    DateTimeOffset? AcknowledgedUtc,
    string? AcknowledgedVia,
    string? ResolvedBy,
    DateTimeOffset? ResolvedUtc)
{
    public bool IsOpen => AlertStates.IsOpen(State);

    public TimeToAlert TimeToAlert => new(
        Between(StudyLastReceivedUtc, BeaconOnUtc),
        Between(FindingCreatedUtc, BeaconOnUtc),
        Between(StudyLastReceivedUtc, FirstPageUtc),
        Between(FindingCreatedUtc, FirstPageUtc));

    private static double? Between(DateTimeOffset? from, DateTimeOffset? to) =>
        from is { } f && to is { } t ? Math.Round((t - f).TotalMilliseconds, 1) : null;
}

/// <summary>
/// Milliseconds from the study's last received instance and from the finding's creation to the beacon lighting and to
/// the first page sent; null while that has not happened.
/// </summary>
public sealed record TimeToAlert(
    double? StudyToBeaconMs,
    double? FindingToBeaconMs,
    double? StudyToFirstPageMs,
    double? FindingToFirstPageMs);

/// <summary>A page to send to one recipient at one escalation step.</summary>
public sealed record NewDelivery(string Recipient, string Channel, string Address);

public sealed record DeliveryRecord(
    long Id,
    long AlertId,
    string Recipient,
    string Channel,
    string Address,
    int Step,
    int Round,
    string State,
    int Attempts,
    string? LastError,
    DateTimeOffset CreatedUtc,
    DateTimeOffset? LastAttemptUtc,
    DateTimeOffset? NextAttemptUtc,
    DateTimeOffset? SentUtc);

public sealed record DeliveryAttemptRecord(
    long Id,
    long DeliveryId,
    int Attempt,
    DateTimeOffset StartedUtc,
    double DurationMs,
    bool Succeeded,
    string? Error);

public enum AckOutcome
{
    Done,
    AlreadyClosed,
    NotFound,
}

/// <summary>Filter of <c>GET /api/alerts</c>.</summary>
public sealed record AlertQuery(string? State = null, AlertSeverity? Severity = null, string? StudyUid = null, int Limit = 50, int Offset = 0);
