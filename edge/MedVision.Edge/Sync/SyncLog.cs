namespace MedVision.Edge.Sync;

/// <summary>The sync agent's log events: ids 6000-6099, and 5410-5419 for review feedback.</summary>
internal static partial class SyncLog
{
    [LoggerMessage(EventId = 6000, Level = LogLevel.Information, Message = "Enrolled with the hub as device {DeviceId} of site {SiteId}")]
    public static partial void Enrolled(ILogger logger, string deviceId, string siteId);

    [LoggerMessage(EventId = 6001, Level = LogLevel.Error, Message = "Not enrolled and no MedVision:Cloud:EnrolmentToken configured; nothing is sent until one is")]
    public static partial void NoEnrolmentToken(ILogger logger);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Information, Message = "Connected to the broker {Host}:{Port} as {DeviceId} (session present: {SessionPresent})")]
    public static partial void Connected(ILogger logger, string host, int port, string deviceId, bool sessionPresent);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Warning, Message = "Hub unreachable (attempt {Attempt}: {Reason}); retrying in {DelayMs} ms")]
    public static partial void Retrying(ILogger logger, int attempt, string? reason, double delayMs);

    [LoggerMessage(EventId = 6004, Level = LogLevel.Warning, Message = "Disconnected from the broker: {Reason}")]
    public static partial void Disconnected(ILogger logger, string reason);

    [LoggerMessage(EventId = 6005, Level = LogLevel.Error, Message = "Message {MessageId} ({Type}) refused by the broker for good: {Reason}")]
    public static partial void Refused(ILogger logger, string messageId, string type, string reason);

    [LoggerMessage(EventId = 6006, Level = LogLevel.Warning, Message = "Outbox full ({Depth} messages): dropped {Dropped} oldest telemetry messages")]
    public static partial void TelemetryDropped(ILogger logger, long depth, int dropped);

    [LoggerMessage(EventId = 6007, Level = LogLevel.Warning, Message = "Outbox over its bound ({Depth} > {Max}) with findings only; findings are kept")]
    public static partial void OverBound(ILogger logger, long depth, int max);

    [LoggerMessage(EventId = 6008, Level = LogLevel.Error, Message = "Queueing findings of instance {SopInstanceUid} for the hub failed")]
    public static partial void QueueFailed(ILogger logger, string sopInstanceUid, Exception exception);

    [LoggerMessage(EventId = 6009, Level = LogLevel.Warning, Message = "Site secret created at {Path}; keep it with the appliance's backups")]
    public static partial void SiteSecretCreated(ILogger logger, string path);

    [LoggerMessage(EventId = 6010, Level = LogLevel.Warning, Message = "Message {MessageId} not taken by the hub ({Reason}); kept for retry")]
    public static partial void NotTaken(ILogger logger, string messageId, string reason);

    [LoggerMessage(EventId = 6011, Level = LogLevel.Error, Message = "Heartbeat failed")]
    public static partial void HeartbeatFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 6020, Level = LogLevel.Information, Message = "Model offer received on {Topic}")]
    public static partial void ModelOffered(ILogger logger, string topic);

    [LoggerMessage(EventId = 6021, Level = LogLevel.Warning, Message = "Malformed model offer on {Topic} ignored")]
    public static partial void BadOffer(ILogger logger, string topic);

    [LoggerMessage(EventId = 6022, Level = LogLevel.Warning, Message = "Model package {PackageId} not fetched yet: {Reason}; retrying later")]
    public static partial void ModelDownloadDeferred(ILogger logger, string packageId, string reason);

    [LoggerMessage(EventId = 6023, Level = LogLevel.Information, Message = "Model package {Name} ({ModelId} {Version}) verified and installed for the hot swap")]
    public static partial void ModelInstalled(ILogger logger, string name, string modelId, string version);

    [LoggerMessage(EventId = 6024, Level = LogLevel.Error, Message = "Model package {Name} rejected: {Reason}")]
    public static partial void ModelRejected(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = 6025, Level = LogLevel.Error, Message = "Model offers in {Directory} could not be listed; retrying on the next pass")]
    public static partial void OffersUnreadable(ILogger logger, string directory, Exception exception);

    [LoggerMessage(EventId = 6030, Level = LogLevel.Warning, Message = "Malformed desired properties from the hub ignored")]
    public static partial void BadDesired(ILogger logger);

    [LoggerMessage(EventId = 6031, Level = LogLevel.Information, Message = "Desired properties version {Version} applied: {Applied} settings applied, {Rejected} refused")]
    public static partial void DesiredApplied(ILogger logger, long version, int applied, int rejected);

    [LoggerMessage(EventId = 6032, Level = LogLevel.Warning, Message = "{Count} findings stored before a stop had not been queued for the hub; queued now")]
    public static partial void CaughtUp(ILogger logger, int count);

    [LoggerMessage(EventId = 6033, Level = LogLevel.Error, Message = "Queueing stored findings for the hub failed (attempt {Attempt}); retrying in {DelayMs} ms")]
    public static partial void CatchUpFailed(ILogger logger, int attempt, double delayMs, Exception exception);

    [LoggerMessage(EventId = 5410, Level = LogLevel.Debug, Message = "Feedback {MessageId} for review {ReviewId} queued for the hub")]
    public static partial void FeedbackQueued(ILogger logger, string messageId, long reviewId);
}
