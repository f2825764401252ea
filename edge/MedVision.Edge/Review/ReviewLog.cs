namespace MedVision.Edge.Review;

/// <summary>Review log events: ids 5400-5419.</summary>
internal static partial class ReviewLog
{
    [LoggerMessage(EventId = 5400, Level = LogLevel.Information, Message = "Finding {FindingId} {Decision} by {Reviewer} (review {ReviewId})")]
    public static partial void Recorded(ILogger logger, long findingId, string decision, string reviewer, long reviewId);

    [LoggerMessage(EventId = 5401, Level = LogLevel.Information, Message = "Review of unknown finding {FindingId} refused")]
    public static partial void UnknownFinding(ILogger logger, long findingId);
}
