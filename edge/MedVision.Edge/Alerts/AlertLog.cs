namespace MedVision.Edge.Alerts;

/// <summary>Alerting log messages; event ids 4000-4099.</summary>
internal static partial class AlertLog
{
    [LoggerMessage(EventId = 4000, Level = LogLevel.Warning, Message = "Alert {AlertId} raised: {Severity} ({Rule}) for study {StudyUid}, {Label} p={Probability:0.000} (state {State})")]
    public static partial void Raised(ILogger logger, long alertId, string severity, string rule, string studyUid, string label, double probability, string state);

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Alert {AlertId} {State} by {By} via {Via}")]
    public static partial void Closed(ILogger logger, long alertId, string state, string by, string via);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Alert {AlertId}: quiet hours over, now active")]
    public static partial void Activated(ILogger logger, long alertId);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Information, Message = "Alert {AlertId}: escalation step {Step} round {Round} pages {Recipients}")]
    public static partial void Escalated(ILogger logger, long alertId, int step, int round, string recipients);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Warning, Message = "Alert {AlertId}: {Rounds} round(s) of paging done without acknowledgement; paging stops, the beacon stays on")]
    public static partial void PagingExhausted(ILogger logger, long alertId, int rounds);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Information, Message = "Resuming {Alerts} open alert(s) and {Deliveries} unsent page(s) from the database")]
    public static partial void Resuming(ILogger logger, int alerts, int deliveries);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Error, Message = "Alert engine pass failed; retrying")]
    public static partial void EngineFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4008, Level = LogLevel.Warning, Message = "Cannot read the study priority of {SopInstanceUid}: {Reason}")]
    public static partial void PriorityUnreadable(ILogger logger, string sopInstanceUid, string reason);

    [LoggerMessage(EventId = 4009, Level = LogLevel.Debug, Message = "Study {StudyUid} already has alert {AlertId} for rule {Rule}; finding counted")]
    public static partial void Deduplicated(ILogger logger, string studyUid, long alertId, string rule);

    [LoggerMessage(EventId = 4010, Level = LogLevel.Information, Message = "Re-checked {Findings} recent finding(s) of {Instance} instance(s) in studies without alerts")]
    public static partial void CaughtUp(ILogger logger, int findings, int instance);

    [LoggerMessage(EventId = 4020, Level = LogLevel.Information, Message = "Page {DeliveryId} of alert {AlertId} sent to {Recipient} by {Channel} (attempt {Attempt})")]
    public static partial void PageSent(ILogger logger, long deliveryId, long alertId, string recipient, string channel, int attempt);

    [LoggerMessage(EventId = 4021, Level = LogLevel.Warning, Message = "Page {DeliveryId} of alert {AlertId} to {Recipient} by {Channel} failed (attempt {Attempt}): {Reason}")]
    public static partial void PageAttemptFailed(ILogger logger, long deliveryId, long alertId, string recipient, string channel, int attempt, string reason);

    [LoggerMessage(EventId = 4022, Level = LogLevel.Error, Message = "Page {DeliveryId} of alert {AlertId} to {Recipient} by {Channel} failed for good after {Attempts} attempt(s): {Reason}")]
    public static partial void PageFailed(ILogger logger, long deliveryId, long alertId, string recipient, string channel, int attempts, string reason);

    [LoggerMessage(EventId = 4023, Level = LogLevel.Error, Message = "Recording the outcome of page {DeliveryId} failed")]
    public static partial void PageRecordFailed(ILogger logger, long deliveryId, Exception exception);

    [LoggerMessage(EventId = 4024, Level = LogLevel.Warning, Message = "PAGE [{Severity}] alert {AlertId} for {Recipient}: {Subject}")]
    public static partial void LogPage(ILogger logger, string severity, long alertId, string recipient, string subject);

    [LoggerMessage(EventId = 4030, Level = LogLevel.Warning, Message = "Beacon uses the simulated GPIO driver: {Reason}. Pin changes are recorded and shown by GET /api/beacon")]
    public static partial void BeaconSimulated(ILogger logger, string reason);

    [LoggerMessage(EventId = 4031, Level = LogLevel.Information, Message = "Beacon on GPIO chip {Chip} with the {Driver} driver: lights {LightPins}, buzzer {BuzzerPin}")]
    public static partial void BeaconHardware(ILogger logger, int chip, string driver, string lightPins, int buzzerPin);

    [LoggerMessage(EventId = 4032, Level = LogLevel.Error, Message = "Beacon GPIO driver {Driver} could not be used; falling back to the simulated driver")]
    public static partial void BeaconDriverFailed(ILogger logger, string driver, Exception exception);

    [LoggerMessage(EventId = 4033, Level = LogLevel.Information, Message = "Beacon now shows {State}")]
    public static partial void BeaconState(ILogger logger, string state);

    [LoggerMessage(EventId = 4034, Level = LogLevel.Error, Message = "Writing beacon pin {Pin} failed")]
    public static partial void BeaconWriteFailed(ILogger logger, int pin, Exception exception);

    [LoggerMessage(EventId = 4040, Level = LogLevel.Warning, Message = "Generated the acknowledgement-link signing key {Path}")]
    public static partial void SigningKeyGenerated(ILogger logger, string path);

    [LoggerMessage(EventId = 4041, Level = LogLevel.Warning, Message = "Acknowledgement link for alert {AlertId} refused: {Reason}")]
    public static partial void AckLinkRefused(ILogger logger, long alertId, string reason);
}
