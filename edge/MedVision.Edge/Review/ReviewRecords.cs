using MedVision.Contracts;
using MedVision.Edge.Storage;
using Microsoft.Data.Sqlite;

namespace MedVision.Edge.Review;

/// <summary>What a radiologist may say about a finding; the same words the hub's feedback contract uses.</summary>
public static class ReviewDecisions
{
    public const string Confirmed = FeedbackDecisions.Confirmed;
    public const string Rejected = FeedbackDecisions.Rejected;

    public static bool IsValid(string? decision) => FeedbackDecisions.IsKnown(decision);
}

/// <summary>One row of <c>finding_reviews</c>: a review as given. The newest for a finding is its current review.</summary>
public sealed record FindingReview(long Id, long FindingId, string Decision, string Reviewer, string? Comment, DateTimeOffset ReviewedUtc);

/// <summary>The finding a review judges, with what sinks need to describe it (its study's patient ID, the instance's modality).</summary>
public sealed record ReviewedFinding(long FindingId, FindingRecord Finding, string? PatientId, string? Modality);

/// <summary>
/// Told of each review inside the transaction that stores it, so whatever it writes (the feedback for the hub) commits
/// with the review or not at all: a review never exists without its feedback queued, nor feedback without its review.
/// </summary>
public interface IReviewSink
{
    Task OnReviewRecordedAsync(SqliteConnection connection, SqliteTransaction transaction, FindingReview review, ReviewedFinding finding, CancellationToken cancellationToken);

    /// <summary>Called once the transaction committed (e.g. to wake a sender).</summary>
    void Committed();
}
