using System.Text.RegularExpressions;
using MedVision.Contracts;
using MedVision.Testing;
using MQTTnet;

namespace MedVision.Cloud.Tests;

/// <summary>
/// The fleet dashboard in a real browser (Debian's headless Chromium, which runs the page's script): two simulated
/// appliances send heartbeats; one stops and the page shows it offline while the other stays online.
/// </summary>
public sealed partial class DashboardTests
{
    [Fact]
    public async Task Headless_chromium_sees_two_appliances_and_one_going_offline()
    {
        ExternalTool.Require("chromium");
        await using var hub = await RunningHub.StartAsync("--MedVision:Hub:StaleAfterSeconds=2", "--MedVision:Hub:OfflineAfterSeconds=4");
        var live = await hub.EnrolAsync("site-north", "north-01");
        var dying = await hub.EnrolAsync("site-south", "south-01");
        using var liveClient = await HubTests.ConnectAsync(hub.MqttPort, live.DeviceId, live.Password);
        using var dyingClient = await HubTests.ConnectAsync(hub.MqttPort, dying.DeviceId, dying.Password);

        using var stop = new CancellationTokenSource();
        var southBeating = true;
        var beats = 0;
        var heartbeats = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                beats++;
                var body = HubTests.Heartbeat() with { FindingsTotal = beats * 3, InferenceMsAverage = 10 + beats % 5 };
                await liveClient.PublishAsync(HubTests.Message(live.DeviceId, MessageTypes.Heartbeat, $"hb-{beats}", body));
                if (Volatile.Read(ref southBeating))
                {
                    await dyingClient.PublishAsync(HubTests.Message(dying.DeviceId, MessageTypes.Heartbeat, $"hb-{beats}", body));
                }
                await Task.Delay(250);
            }
        });
        await hub.WaitForAsync("/api/fleet", f => f.EnumerateArray().All(d => d.GetProperty("status").GetString() == "online"), TimeSpan.FromSeconds(10));

        var first = await DumpAsync(hub);
        Assert.Equal("online", StatusOf(first, live.DeviceId));
        Assert.Equal("online", StatusOf(first, dying.DeviceId));
        Assert.Contains("site-north", first, StringComparison.Ordinal);
        Assert.Contains("cxr-pneumonia 2.0.0", first, StringComparison.Ordinal);
        Assert.Contains("<polyline", first, StringComparison.Ordinal);

        // south-01 says nothing more; north-01 keeps beating.
        Volatile.Write(ref southBeating, false);
        await hub.WaitForAsync("/api/fleet", f => f.EnumerateArray().Any(d => d.GetProperty("deviceId").GetString() == dying.DeviceId && d.GetProperty("status").GetString() == "offline"), TimeSpan.FromSeconds(20));
        var second = await DumpAsync(hub);
        Assert.Equal("online", StatusOf(second, live.DeviceId));
        Assert.Equal("offline", StatusOf(second, dying.DeviceId));
        Assert.Contains("1 online", second, StringComparison.Ordinal);
        Assert.Contains("1 offline", second, StringComparison.Ordinal);

        await stop.CancelAsync();
        await heartbeats;
    }

    /// <summary>The page's DOM after its script ran (virtual time lets the fetches finish before the dump).</summary>
    private static async Task<string> DumpAsync(RunningHub hub)
    {
        using var profile = new TempDirectory("medvision-chromium");
        var result = await ExternalTool.RunAsync(
            "chromium",
            ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", $"--user-data-dir={profile.Path}", "--virtual-time-budget=3000", "--dump-dom", hub.HttpUrl + "/dashboard"],
            TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, result.Combined);
        Assert.Contains("data-device", result.StandardOutput, StringComparison.Ordinal);
        return result.StandardOutput;
    }

    private static string? StatusOf(string dom, string deviceId)
    {
        var match = RowStatus().Matches(dom).FirstOrDefault(m => m.Groups["device"].Value == deviceId);
        return match?.Groups["status"].Value;
    }

    [GeneratedRegex("<tr data-device=\"(?<device>[^\"]+)\" data-status=\"(?<status>[^\"]+)\">")]
    private static partial Regex RowStatus();
}
