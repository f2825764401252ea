using System.Globalization;
using System.Text.Json;
using MedVision.Contracts;
using MedVision.Edge.Review;
using Microsoft.Data.Sqlite;

namespace MedVision.Edge.Sync;

/// <summary>
/// Queues each radiologist review for the hub as de-identified <see cref="FeedbackV1"/>, in the transaction that stores
/// the review: the study and instance only as the site's keyed pseudonyms (the ones the finding message carries), the
/// model's output and the decision. The reviewer's name and comment stay on the appliance: a name identifies staff, and a
/// comment is free text that may hold anything a patient record does.
/// </summary>
public sealed class CloudFeedbackListener(CloudOutbox outbox, SitePseudonyms pseudonyms, ILogger<CloudFeedbackListener> logger) : IReviewSink
{
    /// <summary>The outbox row for one review; the same review always gives the same message id, so a re-send is stored once.</summary>
    internal static (string MessageId, int Priority, string Type, string BodyJson, DateTimeOffset CreatedUtc) Message(
        SitePseudonyms pseudonyms, FindingReview review, ReviewedFinding reviewed)
    {
        var f = reviewed.Finding;
        var instancePseudonym = pseudonyms.Uid(f.SopInstanceUid);
        var body = new FeedbackV1(
            pseudonyms.Uid(f.StudyUid), instancePseudonym,
            // The finding message's own id (CloudFindingsListener's scheme), so the hub can join verdict and finding.
            SitePseudonyms.MessageId("f", instancePseudonym, f.ModelId, f.ModelVersion, f.Label),
            reviewed.Modality?.Trim(), f.ModelId, f.ModelVersion, f.ModelSha256, f.Label, f.Probability, f.Threshold, f.Positive,
            review.Decision, review.ReviewedUtc);
        // The local review id makes each review its own message (a changed mind is news); nothing in it identifies anyone.
        var id = SitePseudonyms.MessageId("r", instancePseudonym, f.ModelId, f.ModelVersion, f.Label,
            review.Id.ToString(CultureInfo.InvariantCulture), review.ReviewedUtc.ToString("O", CultureInfo.InvariantCulture));
        return (id, OutboxPriority.Finding, MessageTypes.Feedback, JsonSerializer.Serialize(body, ContractJson.Options), review.ReviewedUtc);
    }

    public async Task OnReviewRecordedAsync(SqliteConnection connection, SqliteTransaction transaction, FindingReview review, ReviewedFinding finding, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(review);
        ArgumentNullException.ThrowIfNull(finding);
        var message = Message(pseudonyms, review, finding);
        await CloudOutbox.InsertAsync(connection, transaction, [message], cancellationToken).ConfigureAwait(false);
        SyncLog.FeedbackQueued(logger, message.MessageId, review.Id);
    }

    public void Committed() => outbox.Wake();
}
