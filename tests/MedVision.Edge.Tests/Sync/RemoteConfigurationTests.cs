using System.Text;
using MedVision.Cloud.Fleet;
using MedVision.Cloud.Tests;
using MedVision.Contracts;
using MedVision.Edge.Tests.EndToEnd;
using MedVision.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace MedVision.Edge.Tests.Sync;

/// <summary>
/// Desired settings set at the hub are applied by the appliance (the heartbeat interval really changes) and reported
/// back with their version; settings it does not accept are reported refused with the reason.
/// </summary>
public sealed class RemoteConfigurationTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Desired_heartbeat_interval_is_applied_and_reported_with_the_embedded_broker()
    {
        await using var hub = await RunningHub.StartAsync();
        await RunAsync(hub, hub.MqttPort);
    }

    [Fact]
    public async Task Desired_heartbeat_interval_is_applied_and_reported_through_mosquitto()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using var hub = await RunningHub.StartAsync(broker.HubArgs);
        await RunAsync(hub, broker.Port);
    }

    private static async Task RunAsync(RunningHub hub, int brokerPort)
    {
        var token = await hub.CreateEnrolmentTokenAsync("site-config");
        await using var appliance = await RunningAppliance.StartAsync(CloudSyncEndToEndTests.ApplianceArgs(hub, brokerPort, token.Token, "--MedVision:Cloud:HeartbeatSeconds=600"));
        await hub.WaitForAsync("/api/fleet", f => f.GetArrayLength() > 0 && f[0].GetProperty("status").GetString() == "online", Timeout);
        var store = hub.Services.GetRequiredService<IHubStore>();
        Assert.Single(await store.ListMessagesAsync(MessageTypes.Heartbeat, null, null, 100, CancellationToken.None));

        using var put = await hub.Http.PutAsync($"/api/fleet/{token.DeviceId}/desired",
            new StringContent("""{"heartbeatSeconds":1,"maxOutboxMessages":5,"colour":"blue"}""", Encoding.UTF8, "application/json"));
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());

        var fleet = await hub.WaitForAsync("/api/fleet", f => f.GetArrayLength() > 0 && f[0].GetProperty("reportedVersion").ValueKind == System.Text.Json.JsonValueKind.Number, Timeout);
        var device = fleet[0];
        Assert.Equal(1, device.GetProperty("desiredVersion").GetInt64());
        Assert.Equal(1, device.GetProperty("reportedVersion").GetInt64());
        var reported = device.GetProperty("reported");
        Assert.Equal(1, reported.GetProperty("applied").GetProperty("heartbeatSeconds").GetInt32());
        Assert.Equal("unknown setting", reported.GetProperty("rejected").GetProperty("colour").GetString());
        Assert.Contains("at least 100", reported.GetProperty("rejected").GetProperty("maxOutboxMessages").GetString(), StringComparison.Ordinal);

        // Applied, not only acknowledged: heartbeats now come every second instead of every ten minutes.
        var deadline = DateTime.UtcNow + Timeout;
        while ((await store.ListMessagesAsync(MessageTypes.Heartbeat, null, null, 100, CancellationToken.None)).Count < 4)
        {
            Assert.True(DateTime.UtcNow < deadline, "the heartbeat interval did not change");
            await Task.Delay(200);
        }
    }
}
