using System.Diagnostics;
using System.Globalization;
using MedVision.Cloud.Fleet;
using MedVision.Cloud.Tests;
using MedVision.Contracts;
using MedVision.Edge.Tests.EndToEnd;
using MedVision.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace MedVision.Edge.Tests.Sync;

/// <summary>
/// A stream of studies while the broker goes away and comes back: afterwards the hub holds every finding exactly
/// once. CI default: 100 studies, 10 s outage; the 500 studies and 60 s with
/// <c>MEDVISION_OUTAGE_STUDIES=500 MEDVISION_OUTAGE_SECONDS=60</c>.
/// </summary>
public sealed class BrokerOutageTests(ITestOutputHelper output)
{
    private static readonly int Studies = Setting("MEDVISION_OUTAGE_STUDIES", 100);
    private static readonly int OutageSeconds = Setting("MEDVISION_OUTAGE_SECONDS", 10);

    [Fact]
    public async Task Mosquitto_stopped_during_a_stream_of_studies_loses_and_duplicates_no_finding()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using var hub = await RunningHub.StartAsync(broker.HubArgs);
        await RunAsync(hub, broker.Port, broker.StopAsync, broker.RestartAsync);
    }

    [Fact]
    public async Task Hub_with_embedded_broker_stopped_during_a_stream_of_studies_loses_and_duplicates_no_finding()
    {
        await using var hub = await RunningHub.StartAsync();
        await RunAsync(hub, hub.MqttPort, hub.StopAsync, hub.RestartAsync);
    }

    private async Task RunAsync(RunningHub hub, int brokerPort, Func<Task> stop, Func<Task> start)
    {
        var token = await hub.CreateEnrolmentTokenAsync("site-outage");
        await using var appliance = await RunningAppliance.StartAsync(CloudSyncEndToEndTests.ApplianceArgs(hub, brokerPort, token.Token));
        await hub.WaitForAsync("/api/fleet", f => f.EnumerateArray().Any(d => d.GetProperty("status").GetString() == "online"), TimeSpan.FromSeconds(30));
        using var files = new TempDirectory();
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        var studies = Enumerable.Range(0, Studies).Select(i => PhiStudy.Create(files.Path, images.Image(i % 600), i)).ToList();

        var outageAfter = Studies / 5;
        var clock = Stopwatch.StartNew();
        Task? outage = null;
        for (var i = 0; i < studies.Count; i++)
        {
            if (i == outageAfter)
            {
                await stop();
                output.WriteLine($"broker down at {clock.Elapsed.TotalSeconds:F1} s after {i} studies");
                outage = Task.Delay(TimeSpan.FromSeconds(OutageSeconds)).ContinueWith(_ => start()).Unwrap();
            }
            var store = await ExternalTool.RunAsync("storescu", ["-aec", "MEDVISION", "127.0.0.1", appliance.DicomPortText, studies[i].Path]);
            Assert.True(store.ExitCode == 0, store.Combined);
            // Spread the stream so it runs before, through and after the outage.
            await Task.Delay(TimeSpan.FromSeconds((OutageSeconds * 1.2) / Studies));
        }
        await outage!;
        output.WriteLine($"stream sent in {clock.Elapsed.TotalSeconds:F1} s; broker back up");

        var findings = await hub.WaitForAsync($"/api/findings?limit={Studies * 2}", f => f.GetArrayLength() >= Studies, TimeSpan.FromSeconds(60 + Studies / 5));
        output.WriteLine($"all {Studies} findings at the hub {clock.Elapsed.TotalSeconds:F1} s after the first study");
        // Time for any duplicate still on its way to show up.
        await Task.Delay(1500);
        var stored = await hub.Services.GetRequiredService<IHubStore>().ListMessagesAsync(MessageTypes.Finding, null, null, Studies * 3, CancellationToken.None);
        Assert.Equal(Studies, stored.Count);
        var instances = stored.Select(m => System.Text.Json.JsonDocument.Parse(m.BodyJson).RootElement.GetProperty("instancePseudonym").GetString()).ToHashSet();
        Assert.Equal(Studies, instances.Count);
        var local = await appliance.GetJsonAsync($"/api/findings?limit={Studies * 2}");
        Assert.Equal(Studies, local.GetArrayLength());
        CloudSyncEndToEndTests.AssertNoPhi(stored, studies.SelectMany(s => s.Phi.Skip(10)));
        _ = findings;
    }

    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0 ? value : fallback;
}
