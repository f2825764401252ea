using MedVision.Contracts;
using MedVision.Edge.Sync;
using MedVision.Edge.Tests.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Tests.Sync;

/// <summary>The outbox on a real migrated SQLite database: order after an outage, the bound, idempotent queueing.</summary>
public sealed class CloudOutboxTests
{
    [Fact]
    public async Task Alerts_then_findings_then_telemetry_oldest_first_and_the_same_id_is_queued_once()
    {
        await using var storage = await TempStorage.CreateAsync();
        var outbox = Create(storage, maxMessages: 1000);
        var t = DateTimeOffset.UtcNow;
        await outbox.EnqueueAsync([("h1", OutboxPriority.Telemetry, MessageTypes.Heartbeat, "{}", t)], CancellationToken.None);
        await outbox.EnqueueAsync([("f1", OutboxPriority.Finding, MessageTypes.Finding, "{}", t)], CancellationToken.None);
        await outbox.EnqueueAsync([("h2", OutboxPriority.Telemetry, MessageTypes.Heartbeat, "{}", t)], CancellationToken.None);
        await outbox.EnqueueAsync([("a1", OutboxPriority.Alert, MessageTypes.Finding, "{}", t)], CancellationToken.None);
        await outbox.EnqueueAsync([("f2", OutboxPriority.Finding, MessageTypes.Finding, "{}", t), ("f1", OutboxPriority.Finding, MessageTypes.Finding, "{\"again\":1}", t)], CancellationToken.None);

        var order = (await outbox.PeekAsync(100, CancellationToken.None)).Select(m => m.MessageId).ToList();
        Assert.Equal(["a1", "f1", "f2", "h1", "h2"], order);
        Assert.Equal("{}", (await outbox.PeekAsync(100, CancellationToken.None)).Single(m => m.MessageId == "f1").BodyJson);

        var first = await outbox.PeekAsync(2, CancellationToken.None);
        await outbox.DeleteAsync(first.Select(m => m.Seq).ToList(), CancellationToken.None);
        await outbox.MarkFailedAsync((await outbox.PeekAsync(1, CancellationToken.None))[0].Seq, "NotAuthorized", permanent: true, CancellationToken.None);
        Assert.Equal(["h1", "h2"], (await outbox.PeekAsync(100, CancellationToken.None)).Select(m => m.MessageId));
        var depth = await outbox.GetDepthAsync(CancellationToken.None);
        Assert.Equal(new OutboxDepth(2, 0, 1), depth);
    }

    [Fact]
    public async Task Over_the_bound_the_oldest_telemetry_goes_and_findings_are_never_dropped()
    {
        await using var storage = await TempStorage.CreateAsync();
        var outbox = Create(storage, maxMessages: 100);
        var t = DateTimeOffset.UtcNow;
        // Days offline: 80 heartbeats, then 60 findings, then 10 more heartbeats.
        await outbox.EnqueueAsync(Enumerable.Range(0, 80).Select(i => ($"h{i}", OutboxPriority.Telemetry, MessageTypes.Heartbeat, "{}", t)).ToList(), CancellationToken.None);
        foreach (var i in Enumerable.Range(0, 60))
        {
            await outbox.EnqueueAsync([($"f{i}", OutboxPriority.Finding, MessageTypes.Finding, "{}", t)], CancellationToken.None);
        }
        await outbox.EnqueueAsync(Enumerable.Range(80, 10).Select(i => ($"h{i}", OutboxPriority.Telemetry, MessageTypes.Heartbeat, "{}", t)).ToList(), CancellationToken.None);

        var left = (await outbox.PeekAsync(1000, CancellationToken.None)).Select(m => m.MessageId).ToList();
        Assert.Equal(100, left.Count);
        Assert.Equal(60, left.Count(id => id.StartsWith('f')));
        // The 40 heartbeats kept are the newest.
        Assert.Equal(Enumerable.Range(50, 40).Select(i => $"h{i}"), left.Where(id => id.StartsWith('h')));

        // Findings only and over the bound: all kept.
        await outbox.EnqueueAsync(Enumerable.Range(60, 50).Select(i => ($"f{i}", OutboxPriority.Finding, MessageTypes.Finding, "{}", t)).ToList(), CancellationToken.None);
        left = (await outbox.PeekAsync(1000, CancellationToken.None)).Select(m => m.MessageId).ToList();
        Assert.Equal(110, left.Count(id => id.StartsWith('f')));
        Assert.Equal(0, left.Count(id => id.StartsWith('h')));
    }

    [Fact]
    public async Task Findings_stored_but_never_queued_are_queued_at_start_once()
    {
        await using var storage = await TempStorage.CreateAsync();
        var outbox = Create(storage, maxMessages: 1000);
        var pseudonyms = new SitePseudonyms(Options.Create(new CloudOptions()), Options.Create(storage.Options), NullLogger<SitePseudonyms>.Instance);
        await storage.Store.RecordReceivedAsync(TempStorage.Instance("1.2.3.1", patientId: "PAT-77"), CancellationToken.None);
        await storage.Store.AddFindingsAsync([Finding("1.2.3.1")], CancellationToken.None);

        // First start with sync on: history before it stays local.
        Assert.Equal(0, await CloudFindingsListener.CatchUpAsync(outbox, pseudonyms, CancellationToken.None));
        Assert.Empty(await outbox.PeekAsync(10, CancellationToken.None));

        // Stored, then the appliance stopped before the listener queued them.
        await storage.Store.RecordReceivedAsync(TempStorage.Instance("1.2.3.2", patientId: "PAT-77"), CancellationToken.None);
        await storage.Store.AddFindingsAsync([Finding("1.2.3.2"), Finding("1.2.3.2", "other")], CancellationToken.None);
        Assert.Equal(2, await CloudFindingsListener.CatchUpAsync(outbox, pseudonyms, CancellationToken.None));
        var queued = await outbox.PeekAsync(10, CancellationToken.None);
        Assert.Equal(2, queued.Count);
        // The same message ids the listener gives, so the hub stores them once whichever path sent them.
        var expected = CloudFindingsListener.Messages(pseudonyms, [Finding("1.2.3.2"), Finding("1.2.3.2", "other")], "PAT-77", "CR").Select(m => m.Item1);
        Assert.Equal(expected.Order(), queued.Select(m => m.MessageId).Order());
        Assert.DoesNotContain("PAT-77", queued[0].BodyJson, StringComparison.Ordinal);
        Assert.DoesNotContain("1.2.3.2", queued[0].BodyJson, StringComparison.Ordinal);
        Assert.Equal(0, await CloudFindingsListener.CatchUpAsync(outbox, pseudonyms, CancellationToken.None));
    }

    [Fact]
    public async Task A_finding_whose_queuing_failed_holds_the_mark_back_and_the_next_catch_up_queues_it()
    {
        await using var storage = await TempStorage.CreateAsync();
        var outbox = Create(storage, maxMessages: 1000);
        var pseudonyms = new SitePseudonyms(Options.Create(new CloudOptions()), Options.Create(storage.Options), NullLogger<SitePseudonyms>.Instance);
        var listener = new CloudFindingsListener(outbox, pseudonyms, storage.Store, NullLogger<CloudFindingsListener>.Instance);
        Assert.Equal(0, await CloudFindingsListener.CatchUpAsync(outbox, pseudonyms, CancellationToken.None));

        var instances = new[] { "1.2.5.1", "1.2.5.2", "1.2.5.3" };
        foreach (var sop in instances)
        {
            await storage.Store.RecordReceivedAsync(TempStorage.Instance(sop, patientId: "PAT-9"), CancellationToken.None);
            await storage.Store.AddFindingsAsync([Finding(sop)], CancellationToken.None);
        }
        var pending = await storage.Store.GetPendingInstancesAsync(10, CancellationToken.None);
        // The listener queues the first and the third; queuing the second failed (its call never happened).
        await listener.OnFindingsAsync([Finding(instances[0])], pending.Single(p => p.SopInstanceUid == instances[0]), CancellationToken.None);
        await listener.OnFindingsAsync([Finding(instances[2])], pending.Single(p => p.SopInstanceUid == instances[2]), CancellationToken.None);
        Assert.Equal(2, (await outbox.PeekAsync(10, CancellationToken.None)).Count);

        // The mark stopped after the first: the catch-up finds the second (and the third again, same message id).
        Assert.Equal(2, await CloudFindingsListener.CatchUpAsync(outbox, pseudonyms, CancellationToken.None));
        var queued = await outbox.PeekAsync(10, CancellationToken.None);
        var expected = instances.SelectMany(sop => CloudFindingsListener.Messages(pseudonyms, [Finding(sop)], "PAT-9", "CR")).Select(m => m.Item1);
        Assert.Equal(expected.Order(), queued.Select(m => m.MessageId).Order());
        Assert.Equal(0, await CloudFindingsListener.CatchUpAsync(outbox, pseudonyms, CancellationToken.None));
    }

    private static MedVision.Edge.Storage.FindingRecord Finding(string sop, string label = "pneumonia") =>
        new("1.2.3.4", sop, "cxr-pneumonia", "2.0.0", new string('a', 64), label, 0.7, 0.5, true, "CPU", 3.5, DateTimeOffset.UtcNow);

    private static CloudOutbox Create(TempStorage storage, int maxMessages)
    {
        var cloud = Options.Create(new CloudOptions { MaxOutboxMessages = maxMessages });
        var storageOptions = Options.Create(storage.Options);
        var settings = new RemoteSettings(cloud, storageOptions, NullLogger<RemoteSettings>.Instance);
        return new CloudOutbox(storage.Database, settings, storageOptions, new CloudSignal(), TimeProvider.System, NullLogger<CloudOutbox>.Instance);
    }
}
