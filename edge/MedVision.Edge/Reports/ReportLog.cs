namespace MedVision.Edge.Reports;

/// <summary>Report log messages; event ids 5200-5249.</summary>
internal static partial class ReportLog
{
    [LoggerMessage(EventId = 5200, Level = LogLevel.Information, Message = "HTML report for study {StudyUid}: {Findings} finding(s), {Thumbnails} heat-map thumbnail(s), {Bytes} bytes")]
    public static partial void HtmlReportMade(ILogger logger, string studyUid, int findings, int thumbnails, int bytes);

    [LoggerMessage(EventId = 5201, Level = LogLevel.Warning, Message = "Heat map {Path} of finding {FindingId} (study {StudyUid}) left out of the report: {Reason}")]
    public static partial void ThumbnailFailed(ILogger logger, string path, long findingId, string studyUid, string reason);

    [LoggerMessage(EventId = 5202, Level = LogLevel.Information, Message = "PDF report for study {StudyUid}: {Bytes} bytes in {Milliseconds:0} ms")]
    public static partial void PdfReportMade(ILogger logger, string studyUid, int bytes, double milliseconds);

    [LoggerMessage(EventId = 5203, Level = LogLevel.Error, Message = "PDF report for study {StudyUid} failed: {Reason}")]
    public static partial void PdfReportFailed(ILogger logger, string studyUid, string reason);
}
