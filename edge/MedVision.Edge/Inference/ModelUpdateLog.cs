namespace MedVision.Edge.Inference;

/// <summary>Model hot-swap log messages; event ids 2300-2399.</summary>
internal static partial class ModelUpdateLog
{
    [LoggerMessage(EventId = 2300, Level = LogLevel.Information, Message = "Model {ModelId} {OldVersion} replaced by {NewVersion} (sha256 {Sha256}) after its golden set matched (max |dp| {MaxDelta:E2} over {Samples} samples)")]
    public static partial void ModelSwapped(ILogger logger, string modelId, string oldVersion, string newVersion, string sha256, double maxDelta, int samples);

    [LoggerMessage(EventId = 2301, Level = LogLevel.Information, Message = "Model {ModelId} {Version} added after its golden set matched (max |dp| {MaxDelta:E2} over {Samples} samples)")]
    public static partial void ModelAdded(ILogger logger, string modelId, string version, double maxDelta, int samples);

    [LoggerMessage(EventId = 2302, Level = LogLevel.Error, Message = "Model update {Package} refused, the serving models are unchanged: {Reason}")]
    public static partial void UpdateRefused(ILogger logger, string package, string reason, Exception? exception);

    [LoggerMessage(EventId = 2303, Level = LogLevel.Information, Message = "Package {Package} ({ModelId} {Version}) ignored: {ServingVersion} is already serving")]
    public static partial void NotNewer(ILogger logger, string package, string modelId, string version, string servingVersion);

    [LoggerMessage(EventId = 2304, Level = LogLevel.Error, Message = "Scanning the models folder for updates failed")]
    public static partial void ScanFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2305, Level = LogLevel.Information, Message = "Watching {ModelsDirectory} for model updates every {Seconds} s")]
    public static partial void Watching(ILogger logger, string modelsDirectory, double seconds);
}
