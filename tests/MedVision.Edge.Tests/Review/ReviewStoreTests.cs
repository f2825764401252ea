using System.Text.Json;
using MedVision.Contracts;
using MedVision.Edge.Review;
using MedVision.Edge.Storage;
using MedVision.Edge.Sync;
using MedVision.Edge.Tests.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Tests.Review;

/// <summary>Reviews on a real migrated SQLite database, with the real outbox and pseudonyms as the feedback sink.</summary>
public sealed class ReviewStoreTests
{
    private const string Study = "1.2.826.0.1.3680043.8.498.1";
    private const string Sop = "1.2.826.0.1.3680043.8.498.1.1";

    [Fact]
    public async Task A_later_review_by_anyone_becomes_current_and_the_history_keeps_every_review()
    {
        await using var storage = await TempStorage.CreateAsync();
        var findingId = await AddFindingAsync(storage);
        var store = Create(storage, []);

        var first = await store.RecordAsync(findingId, ReviewDecisions.Confirmed, "dr-a", "clear consolidation", CancellationToken.None);
        var second = await store.RecordAsync(findingId, ReviewDecisions.Rejected, "dr-b", null, CancellationToken.None);

        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.True(second!.Id > first!.Id);
        var current = await store.CurrentAsync([findingId, findingId + 1000], CancellationToken.None);
        var only = Assert.Single(current);
        Assert.Equal((findingId, ReviewDecisions.Rejected, "dr-b", (string?)null), (only.Key, only.Value.Decision, only.Value.Reviewer, only.Value.Comment));
        var history = (await store.HistoryAsync(findingId, CancellationToken.None))!;
        Assert.Equal([second.Id, first.Id], history.Select(r => r.Id));
        Assert.Equal("clear consolidation", history[1].Comment);
        Assert.Equal(first.ReviewedUtc, history[1].ReviewedUtc);

        Assert.Null(await store.RecordAsync(findingId + 1000, ReviewDecisions.Confirmed, "dr-a", null, CancellationToken.None));
        Assert.Null(await store.HistoryAsync(findingId + 1000, CancellationToken.None));
        Assert.Empty(await store.CurrentAsync([], CancellationToken.None));
    }

    [Fact]
    public async Task The_schema_refuses_unknown_decisions_blank_reviewers_and_unknown_findings()
    {
        await using var storage = await TempStorage.CreateAsync();
        var findingId = await AddFindingAsync(storage);
        await using var connection = await storage.Database.OpenConnectionAsync(CancellationToken.None);
        async Task InsertAsync(long finding, string decision, string reviewer)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO finding_reviews (finding_id, decision, reviewer, reviewed_utc) VALUES ($f, $d, $r, '2026-01-01T00:00:00.0000000+00:00');";
            command.Parameters.AddWithValue("$f", finding);
            command.Parameters.AddWithValue("$d", decision);
            command.Parameters.AddWithValue("$r", reviewer);
            await command.ExecuteNonQueryAsync();
        }
        await Assert.ThrowsAsync<SqliteException>(() => InsertAsync(findingId, "maybe", "dr-a"));
        await Assert.ThrowsAsync<SqliteException>(() => InsertAsync(findingId, "confirmed", "  "));
        await Assert.ThrowsAsync<SqliteException>(() => InsertAsync(findingId + 1000, "confirmed", "dr-a"));
        await InsertAsync(findingId, "confirmed", "dr-a");
        await Assert.ThrowsAsync<ArgumentException>(() => Create(storage, []).RecordAsync(findingId, "Confirmed", "dr-a", null, CancellationToken.None));
    }

    [Fact]
    public async Task Each_review_queues_deidentified_feedback_in_its_own_transaction_with_a_stable_message_id()
    {
        await using var storage = await TempStorage.CreateAsync();
        var findingId = await AddFindingAsync(storage);
        var outbox = Outbox(storage);
        var pseudonyms = Pseudonyms(storage);
        var store = Create(storage, [new CloudFeedbackListener(outbox, pseudonyms, NullLogger<CloudFeedbackListener>.Instance)]);

        var review = await store.RecordAsync(findingId, ReviewDecisions.Confirmed, "Dr Augusta Fortescue", "Patient PAT-77 DOE^JANE, see prior", CancellationToken.None);
        await store.RecordAsync(findingId, ReviewDecisions.Rejected, "Dr Augusta Fortescue", null, CancellationToken.None);

        var queued = await outbox.PeekAsync(10, CancellationToken.None);
        Assert.Equal(2, queued.Count);
        Assert.All(queued, m => Assert.Equal((MessageTypes.Feedback, OutboxPriority.Finding), (m.Type, m.Priority)));
        var first = queued[0];
        var body = JsonSerializer.Deserialize<FeedbackV1>(first.BodyJson, ContractJson.Options)!;
        Assert.Equal(ReviewDecisions.Confirmed, body.Decision);
        Assert.Equal(review!.ReviewedUtc, body.ReviewedUtc);
        Assert.Equal(pseudonyms.Uid(Study), body.StudyPseudonym);
        Assert.Equal(pseudonyms.Uid(Sop), body.InstancePseudonym);
        Assert.Equal((0.7, 0.5, true, "pneumonia", "cxr-pneumonia", "2.0.0", "CR"), (body.Probability, body.Threshold, body.Positive, body.Label, body.ModelId, body.ModelVersion, body.Modality));
        // Joinable with the finding message the hub already holds for it.
        var findingMessage = CloudFindingsListener.Messages(pseudonyms, [Finding()], "PAT-77", "CR").Single();
        Assert.Equal(findingMessage.Item1, body.FindingMessageId);
        // Neither the reviewer nor the comment (nor anything of the patient) is in what leaves.
        foreach (var secret in new[] { "Fortescue", "Augusta", "PAT-77", "DOE", "see prior", Study, Sop, "\"by\"", "comment", "reviewer" })
        {
            Assert.All(queued, m => Assert.DoesNotContain(secret, m.BodyJson, StringComparison.OrdinalIgnoreCase));
        }
        Assert.NotEqual(queued[0].MessageId, queued[1].MessageId);

        // The same review always gives the same message id: a re-send is stored once, here and at the hub.
        var history = await store.HistoryAsync(findingId, CancellationToken.None);
        var reviewed = new ReviewedFinding(findingId, Finding(), "PAT-77", "CR");
        var again = CloudFeedbackListener.Message(pseudonyms, history![1], reviewed);
        Assert.Equal(first.MessageId, again.MessageId);
        await outbox.EnqueueAsync([again], CancellationToken.None);
        Assert.Equal(2, (await outbox.PeekAsync(10, CancellationToken.None)).Count);
    }

    [Fact]
    public async Task When_queuing_the_feedback_fails_the_review_is_not_recorded_either()
    {
        await using var storage = await TempStorage.CreateAsync();
        var findingId = await AddFindingAsync(storage);
        var outbox = Outbox(storage);
        var store = Create(storage, [new CloudFeedbackListener(outbox, Pseudonyms(storage), NullLogger<CloudFeedbackListener>.Instance), new FailingSink()]);

        await Assert.ThrowsAsync<IOException>(() => store.RecordAsync(findingId, ReviewDecisions.Confirmed, "dr-a", null, CancellationToken.None));

        Assert.Empty((await store.HistoryAsync(findingId, CancellationToken.None))!);
        Assert.Empty(await outbox.PeekAsync(10, CancellationToken.None));
    }

    internal static FindingRecord Finding() =>
        new(Study, Sop, "cxr-pneumonia", "2.0.0", new string('a', 64), "pneumonia", 0.7, 0.5, true, "CPU", 3.5, DateTimeOffset.UtcNow);

    private static async Task<long> AddFindingAsync(TempStorage storage)
    {
        await storage.Store.RecordReceivedAsync(TempStorage.Instance(Sop, study: Study, patientId: "PAT-77"), CancellationToken.None);
        await storage.Store.AddFindingsAsync([Finding()], CancellationToken.None);
        return Assert.Single(await storage.Store.ListFindingsAsync(Study, 10, CancellationToken.None)).Id;
    }

    private static ReviewStore Create(TempStorage storage, IReviewSink[] sinks) =>
        new(storage.Database, Options.Create(storage.Options), sinks, TimeProvider.System, NullLogger<ReviewStore>.Instance);

    private static SitePseudonyms Pseudonyms(TempStorage storage) =>
        new(Options.Create(new CloudOptions()), Options.Create(storage.Options), NullLogger<SitePseudonyms>.Instance);

    private static CloudOutbox Outbox(TempStorage storage)
    {
        var cloud = Options.Create(new CloudOptions());
        var storageOptions = Options.Create(storage.Options);
        return new CloudOutbox(storage.Database, new RemoteSettings(cloud, storageOptions, NullLogger<RemoteSettings>.Instance),
            storageOptions, new CloudSignal(), TimeProvider.System, NullLogger<CloudOutbox>.Instance);
    }

    private sealed class FailingSink : IReviewSink
    {
        public Task OnReviewRecordedAsync(SqliteConnection connection, SqliteTransaction transaction, FindingReview review, ReviewedFinding finding, CancellationToken cancellationToken) =>
            throw new IOException("disk full");

        public void Committed() => throw new InvalidOperationException("must not be called when the transaction failed");
    }
}
