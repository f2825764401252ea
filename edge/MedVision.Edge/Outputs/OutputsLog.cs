namespace MedVision.Edge.Outputs;

/// <summary>Output (heat maps, SR, Parametric Map, Secondary Capture) log messages; event ids 5000-5099.</summary>
internal static partial class OutputsLog
{
    [LoggerMessage(EventId = 5000, Level = LogLevel.Debug, Message = "Heat map {Path} rendered ({Columns}x{Rows})")]
    public static partial void HeatmapStored(ILogger logger, string path, int columns, int rows);

    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "Heat map for {SopInstanceUid} {ModelId} could not be made; the finding is kept without it: {Reason}")]
    public static partial void HeatmapFailed(ILogger logger, string sopInstanceUid, string modelId, string reason, Exception exception);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Warning, Message = "Heat map {Path} not rendered: its {Megabytes} MB would take free disk below the watermark")]
    public static partial void HeatmapSkippedLowDisk(ILogger logger, string path, long megabytes);

    [LoggerMessage(EventId = 5010, Level = LogLevel.Warning, Message = "Study {StudyUid}: spooled instance {SopInstanceUid} at {Path} cannot be read for the results: {Reason}")]
    public static partial void SourceUnreadable(ILogger logger, string studyUid, string sopInstanceUid, string path, string reason);

    [LoggerMessage(EventId = 5011, Level = LogLevel.Warning, Message = "Prior comparison source {Source} failed for study {StudyUid}; results are made without a prior")]
    public static partial void PriorSourceFailed(ILogger logger, string source, string studyUid, Exception exception);

    [LoggerMessage(EventId = 5012, Level = LogLevel.Warning, Message = "Heat map {Path} of study {StudyUid} is missing or incomplete (e.g. cut short by a crash); its finding is reported without a heat map")]
    public static partial void HeatmapFileMissing(ILogger logger, string studyUid, string path);

    [LoggerMessage(EventId = 5020, Level = LogLevel.Information, Message = "Study {StudyUid}: {Producer} made {Count} object(s)")]
    public static partial void Produced(ILogger logger, string studyUid, string producer, int count);
}
