using System.Text.Json;
using MedVision.Cloud.Fleet;
using MedVision.Contracts;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;

namespace MedVision.Cloud.Tests;

/// <summary>
/// Radiologists' feedback at the hub: stored once per (device, message id), checked against its contract (a decision
/// other than confirmed/rejected is refused), and served at /api/feedback in the shape of /api/findings.
/// </summary>
public sealed class FeedbackTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Feedback_is_stored_once_served_per_device_and_a_bad_decision_is_refused()
    {
        await using var hub = await RunningHub.StartAsync();
        var north = await hub.EnrolAsync("site-north", "north-01");
        var south = await hub.EnrolAsync("site-south", "south-01");
        using var northClient = await HubTests.ConnectAsync(hub.MqttPort, north.DeviceId, north.Password);
        using var southClient = await HubTests.ConnectAsync(hub.MqttPort, south.DeviceId, south.Password);

        var verdict = Feedback(FeedbackDecisions.Confirmed);
        await northClient.PublishAsync(HubTests.Message(north.DeviceId, MessageTypes.Feedback, "r-1", verdict));
        await northClient.PublishAsync(HubTests.Message(north.DeviceId, MessageTypes.Feedback, "r-1", verdict));
        await northClient.PublishAsync(HubTests.Message(north.DeviceId, MessageTypes.Feedback, "r-bad", Feedback("probably")));
        await southClient.PublishAsync(HubTests.Message(south.DeviceId, MessageTypes.Feedback, "r-1", Feedback(FeedbackDecisions.Rejected)));

        var all = await hub.WaitForAsync("/api/feedback", f => f.GetArrayLength() >= 2, Timeout);
        Assert.Equal(2, all.GetArrayLength());
        var mine = Assert.Single((await hub.GetJsonAsync($"/api/feedback?device={north.DeviceId}")).EnumerateArray());
        Assert.Equal((north.DeviceId, "r-1", 1), (mine.GetProperty("deviceId").GetString(), mine.GetProperty("messageId").GetString(), mine.GetProperty("schemaVersion").GetInt32()));
        Assert.True(mine.TryGetProperty("createdUtc", out _) && mine.TryGetProperty("receivedUtc", out _));
        var body = mine.GetProperty("feedback").Deserialize<FeedbackV1>(ContractJson.Options);
        Assert.Equal(verdict, body);
        Assert.Equal("rejected", (await hub.GetJsonAsync($"/api/feedback?device={south.DeviceId}"))[0].GetProperty("feedback").GetProperty("decision").GetString());
        // Feedback is not a finding: /api/findings stays as it was.
        Assert.Empty((await hub.GetJsonAsync("/api/findings")).EnumerateArray());
        var stored = await hub.Services.GetRequiredService<IHubStore>().ListMessagesAsync(MessageTypes.Feedback, null, null, 100, CancellationToken.None);
        Assert.DoesNotContain(stored, m => m.MessageId == "r-bad");
    }

    internal static FeedbackV1 Feedback(string decision) => new(
        "2.25.1", "2.25.2", "f-0123456789abcdef0123456789abcdef", "CR", "cxr-pneumonia", "2.0.0", new string('a', 64), "pneumonia",
        0.8125, 0.5, true, decision, new DateTimeOffset(2026, 11, 25, 10, 0, 0, TimeSpan.Zero));
}
