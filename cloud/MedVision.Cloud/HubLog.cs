namespace MedVision.Cloud;

/// <summary>The hub's log events: ids 7000-7999.</summary>
internal static partial class HubLog
{
    [LoggerMessage(EventId = 7000, Level = LogLevel.Information, Message = "Hub database ready: {Database}")]
    public static partial void DatabaseReady(ILogger logger, string database);

    [LoggerMessage(EventId = 7001, Level = LogLevel.Information, Message = "Embedded MQTT broker listening on port {Port}")]
    public static partial void BrokerStarted(ILogger logger, int port);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Warning, Message = "MQTT connection refused for client {ClientId} (user {UserName}): {Reason}")]
    public static partial void ConnectionRefused(ILogger logger, string clientId, string? userName, string reason);

    [LoggerMessage(EventId = 7003, Level = LogLevel.Warning, Message = "Device {DeviceId} refused {Action} on {Topic}: not its own topic")]
    public static partial void AclDenied(ILogger logger, string deviceId, string action, string topic);

    [LoggerMessage(EventId = 7004, Level = LogLevel.Warning, Message = "Message on {Topic} rejected: {Reason}")]
    public static partial void MessageRejected(ILogger logger, string topic, string reason);

    [LoggerMessage(EventId = 7005, Level = LogLevel.Error, Message = "Storing a batch of {Count} messages failed")]
    public static partial void BatchFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(EventId = 7010, Level = LogLevel.Information, Message = "Enrolment token created for device {DeviceId} of site {SiteId}")]
    public static partial void TokenCreated(ILogger logger, string deviceId, string siteId);

    [LoggerMessage(EventId = 7011, Level = LogLevel.Information, Message = "Device {DeviceId} of site {SiteId} enrolled")]
    public static partial void DeviceEnrolled(ILogger logger, string deviceId, string siteId);

    [LoggerMessage(EventId = 7012, Level = LogLevel.Warning, Message = "Enrolment refused: {Reason}")]
    public static partial void EnrolmentRefused(ILogger logger, string reason);

    [LoggerMessage(EventId = 7020, Level = LogLevel.Information, Message = "Connected to external broker {Host}:{Port}, subscribed to {Filter}")]
    public static partial void ExternalConnected(ILogger logger, string host, int port, string filter);

    [LoggerMessage(EventId = 7021, Level = LogLevel.Warning, Message = "External broker {Host}:{Port} unreachable ({Reason}); retrying in {DelayMs} ms")]
    public static partial void ExternalConnectFailed(ILogger logger, string host, int port, string reason, double delayMs);

    [LoggerMessage(EventId = 7022, Level = LogLevel.Information, Message = "Broker password file {Path} written with {Count} users")]
    public static partial void PasswordFileWritten(ILogger logger, string path, int count);

    [LoggerMessage(EventId = 7034, Level = LogLevel.Error, Message = "Could not write the broker password file {Path}; enrolled devices may be refused by the broker until a retry succeeds")]
    public static partial void PasswordFileFailed(ILogger logger, string? path, Exception exception);

    [LoggerMessage(EventId = 7023, Level = LogLevel.Warning, Message = "Could not signal the broker to reload its password file")]
    public static partial void ReloadFailed(ILogger logger, Exception exception);
}
