namespace MedVision.Edge.Export;

/// <summary>Export log messages; event ids 5100-5199.</summary>
internal static partial class ExportLog
{
    [LoggerMessage(EventId = 5100, Level = LogLevel.Warning, Message = "No IStudyResultsReader is registered: study outputs are not made. Completed studies stay queued in output_generations until a build with a reader starts")]
    public static partial void NoResultsReader(ILogger logger);

    [LoggerMessage(EventId = 5101, Level = LogLevel.Information, Message = "Export: {Destinations} destination(s) configured ({Names}); {Producers} output producer(s) enabled")]
    public static partial void Started(ILogger logger, int destinations, string names, int producers);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Information, Message = "Queued output generation for study {StudyUid}")]
    public static partial void GenerationRequested(ILogger logger, string studyUid);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Warning, Message = "Requested {Count} output generation(s) for studies completed while the export was not told (restart)")]
    public static partial void CaughtUp(ILogger logger, int count);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Debug, Message = "Study {StudyUid}: {Unprocessed} instance(s) still in the pipeline; outputs wait")]
    public static partial void WaitingForPipeline(ILogger logger, string studyUid, int unprocessed);

    [LoggerMessage(EventId = 5105, Level = LogLevel.Information, Message = "Study {StudyUid}: generation {GenerationId} superseded (the study received more instances)")]
    public static partial void Superseded(ILogger logger, string studyUid, long generationId);

    [LoggerMessage(EventId = 5106, Level = LogLevel.Information, Message = "Study {StudyUid}: {Outputs} output(s) stored (generation {GenerationId}), {Deliveries} delivery(ies) queued")]
    public static partial void OutputsStored(ILogger logger, string studyUid, long generationId, int outputs, int deliveries);

    [LoggerMessage(EventId = 5107, Level = LogLevel.Warning, Message = "Study {StudyUid}: making outputs failed (try {Attempt} of {MaxAttempts}): {Error}")]
    public static partial void GenerationFailed(ILogger logger, string studyUid, int attempt, int maxAttempts, string error);

    [LoggerMessage(EventId = 5108, Level = LogLevel.Error, Message = "Study {StudyUid}: no outputs made: {Error}")]
    public static partial void GenerationGaveUp(ILogger logger, string studyUid, string error);

    [LoggerMessage(EventId = 5109, Level = LogLevel.Error, Message = "Output generation pass failed; retrying")]
    public static partial void GenerationPassFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 5110, Level = LogLevel.Warning, Message = "Output producer {Producer} failed for study {StudyUid}")]
    public static partial void ProducerFailed(ILogger logger, string producer, string studyUid, Exception exception);

    [LoggerMessage(EventId = 5111, Level = LogLevel.Error, Message = "Study {StudyUid}: writing the outputs failed; trying again in {Seconds:0} s")]
    public static partial void OutputsNotWritten(ILogger logger, string studyUid, double seconds, Exception exception);

    [LoggerMessage(EventId = 5120, Level = LogLevel.Information, Message = "Resuming deliveries: {Count} attempt(s) cut short by the last stop are due again")]
    public static partial void ResetDelivering(ILogger logger, int count);

    [LoggerMessage(EventId = 5121, Level = LogLevel.Information, Message = "Delivered output {OutputId} ({Kind}) to {Destination} on attempt {Attempt} in {Milliseconds:0} ms")]
    public static partial void Delivered(ILogger logger, long outputId, string kind, string destination, int attempt, double milliseconds);

    [LoggerMessage(EventId = 5122, Level = LogLevel.Warning, Message = "Delivery {DeliveryId} of output {OutputId} to {Destination} failed (attempt {Attempt} of {MaxAttempts}), next at {NextAttemptUtc:O}: {Error}")]
    public static partial void AttemptFailed(ILogger logger, long deliveryId, long outputId, string destination, int attempt, int maxAttempts, DateTimeOffset nextAttemptUtc, string error);

    [LoggerMessage(EventId = 5123, Level = LogLevel.Error, Message = "Delivery {DeliveryId} of output {OutputId} to {Destination} is dead after {Attempts} attempt(s): {Error}")]
    public static partial void Dead(ILogger logger, long deliveryId, long outputId, string destination, int attempts, string error);

    [LoggerMessage(EventId = 5124, Level = LogLevel.Error, Message = "Delivery pass failed; retrying")]
    public static partial void DeliveryPassFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 5125, Level = LogLevel.Debug, Message = "Delivery {DeliveryId} to {Destination}: in-attempt retry {Retry} after {DelayMs:0} ms: {Error}")]
    public static partial void InAttemptRetry(ILogger logger, long deliveryId, string destination, int retry, double delayMs, string error);

    [LoggerMessage(EventId = 5126, Level = LogLevel.Information, Message = "Delivery {DeliveryId} put back to pending by the API (was {State})")]
    public static partial void RetryRequested(ILogger logger, long deliveryId, string state);

    [LoggerMessage(EventId = 5127, Level = LogLevel.Warning, Message = "C-STORE of {SopInstanceUid} to {Destination} answered with warning {Status}; counted as delivered")]
    public static partial void StoreWarning(ILogger logger, string sopInstanceUid, string destination, string status);
}
