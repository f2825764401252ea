namespace MedVision.Edge.Api;

/// <summary>HTTP API log messages; event ids 2200-2299.</summary>
internal static partial class ApiLog
{
    [LoggerMessage(EventId = 2200, Level = LogLevel.Error, Message = "Health check could not read storage statistics")]
    public static partial void StorageStatisticsFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2201, Level = LogLevel.Error, Message = "Health contributor {Name} failed to describe itself")]
    public static partial void ContributorFailed(ILogger logger, string name, Exception exception);
}
