using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MedVision.Cloud.Fleet;
using MedVision.Cloud.Tests;
using MedVision.Contracts;
using MedVision.Dicom.Deidentification;
using MedVision.Edge.Tests.EndToEnd;
using MedVision.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace MedVision.Edge.Tests.Sync;

/// <summary>
/// Modality → appliance → hub, with dcmtk's storescu as the modality and the real hub in-process: the hub stores the
/// de-identified finding within seconds, with its embedded broker and with a real Mosquitto, and nothing the hub
/// received contains the source study's names, IDs, dates or UIDs.
/// </summary>
public sealed class CloudSyncEndToEndTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Storescu_study_reaches_the_hub_as_a_deidentified_finding_with_the_embedded_broker()
    {
        await using var hub = await RunningHub.StartAsync();
        await SendAndCheckAsync(hub, hub.MqttPort);
    }

    [Fact]
    public async Task Storescu_study_reaches_the_hub_as_a_deidentified_finding_through_mosquitto()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using var hub = await RunningHub.StartAsync(broker.HubArgs);
        await SendAndCheckAsync(hub, broker.Port);
    }

    internal static string[] ApplianceArgs(RunningHub hub, int brokerPort, string token, params string[] extra) =>
    [
        "--MedVision:Cloud:Enabled=true",
        $"--MedVision:Cloud:HubUrl={hub.HttpUrl}",
        "--MedVision:Cloud:Host=127.0.0.1",
        $"--MedVision:Cloud:Port={brokerPort.ToString(CultureInfo.InvariantCulture)}",
        $"--MedVision:Cloud:EnrolmentToken={token}",
        "--MedVision:Cloud:ReconnectMinSeconds=0.2",
        "--MedVision:Cloud:ReconnectMaxSeconds=2",
        .. extra,
    ];

    private async Task SendAndCheckAsync(RunningHub hub, int brokerPort)
    {
        var token = await hub.CreateEnrolmentTokenAsync("site-e2e");
        await using var appliance = await RunningAppliance.StartAsync(ApplianceArgs(hub, brokerPort, token.Token, "--MedVision:Cloud:HeartbeatSeconds=1"));
        using var files = new TempDirectory();
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        var study = PhiStudy.Create(files.Path, images.Image(3), 1);

        // The appliance enrols and sends its first heartbeat.
        await hub.WaitForAsync("/api/fleet", f => f.EnumerateArray().Any(d => d.GetProperty("deviceId").GetString() == token.DeviceId && d.GetProperty("status").GetString() == "online"), Timeout);

        var clock = Stopwatch.StartNew();
        var store = await ExternalTool.RunAsync("storescu", ["-aec", "MEDVISION", "127.0.0.1", appliance.DicomPortText, study.Path]);
        Assert.True(store.ExitCode == 0, store.Combined);
        var findings = await hub.WaitForAsync("/api/findings", f => f.GetArrayLength() > 0, Timeout);
        output.WriteLine($"storescu → finding stored at the hub: {clock.ElapsedMilliseconds} ms");

        var received = Assert.Single(findings.EnumerateArray());
        Assert.Equal(token.DeviceId, received.GetProperty("deviceId").GetString());
        Assert.True(received.TryGetProperty("receivedUtc", out _));
        var finding = received.GetProperty("finding").Deserialize<FindingV1>(ContractJson.Options)!;
        var local = (await appliance.GetJsonAsync("/api/findings"))[0];
        Assert.Equal("cxr-pneumonia", finding.ModelId);
        Assert.Equal(local.GetProperty("probability").GetDouble(), finding.Probability, 9);
        Assert.Equal(local.GetProperty("positive").GetBoolean(), finding.Positive);
        Assert.Equal("CR", finding.Modality);
        // The study reference is the keyed pseudonym: the site key maps the real UID to it; anyone else sees noise.
        var siteKey = DeidentificationKey.FromFile(Path.Combine(appliance.Data.Path, "cloud", "site.key"));
        Assert.Equal(siteKey.MapUid(study.StudyUid), finding.StudyPseudonym);
        Assert.Equal(siteKey.MapUid(study.SopInstanceUid), finding.InstancePseudonym);
        Assert.Equal(siteKey.Pseudonym("MV", study.Phi[3]), finding.PatientPseudonym);

        // Every message the hub holds (findings and heartbeats, bodies and ids) is free of the study's PHI.
        var all = await hub.Services.GetRequiredService<IHubStore>().ListMessagesAsync(null, null, null, 100_000, CancellationToken.None);
        Assert.Contains(all, m => m.Type == MessageTypes.Heartbeat);
        AssertNoPhi(all, study.Phi);

        var health = await appliance.GetJsonAsync("/healthz");
        Assert.True(health.GetProperty("cloud").GetProperty("connected").GetBoolean(), health.ToString());
    }

    internal static void AssertNoPhi(IEnumerable<StoredMessage> messages, IEnumerable<string> phi)
    {
        var count = 0;
        foreach (var message in messages)
        {
            count++;
            var text = string.Join("\n", message.DeviceId, message.MessageId, message.Type, message.BodyJson);
            foreach (var value in phi)
            {
                Assert.False(text.Contains(value, StringComparison.OrdinalIgnoreCase), $"'{value}' found in {message.Type} message {message.MessageId}: {message.BodyJson}");
            }
        }
        Assert.True(count > 0);
    }
}
