using MedVision.Cloud.Fleet;
using MedVision.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace MedVision.Cloud.Tests;

/// <summary>Old heartbeats go; findings of any age, and recent heartbeats, stay.</summary>
public sealed class HeartbeatRetentionTests
{
    [Fact]
    public async Task Heartbeats_past_the_retention_are_deleted_and_findings_are_kept()
    {
        await using var hub = await RunningHub.StartAsync("--MedVision:Hub:HeartbeatRetentionDays=7");
        var store = hub.Services.GetRequiredService<IHubStore>();
        var now = DateTimeOffset.UtcNow;
        IncomingMessage Message(string id, string type, double daysAgo) =>
            new("dev-retention", id, type, 1, now.AddDays(-daysAgo), now.AddDays(-daysAgo), "{}");
        await store.StoreAsync(
        [
            Message("hb-old", MessageTypes.Heartbeat, 10), Message("hb-older", MessageTypes.Heartbeat, 400),
            Message("hb-new", MessageTypes.Heartbeat, 1), Message("f-old", MessageTypes.Finding, 400),
        ], CancellationToken.None);

        var deleted = await hub.Services.GetRequiredService<HeartbeatRetentionService>().PruneAsync(CancellationToken.None);

        Assert.Equal(2, deleted);
        var left = await store.ListMessagesAsync(null, "dev-retention", null, 100, CancellationToken.None);
        Assert.Equal(["f-old", "hb-new"], left.Select(m => m.MessageId).Order(StringComparer.Ordinal));
    }
}
