using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using MedVision.Cloud;
using MedVision.Cloud.Fleet;
using MedVision.Contracts;
using MedVision.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Protocol;

namespace MedVision.Benchmarks;

/// <summary>
/// One hub instance (embedded MQTTnet broker, SQLite with synchronous=FULL) against N simulated appliances: each a
/// lightweight MQTTnet client on loopback with its own credentials, sending findings and heartbeats (one in ten) at
/// QoS 1 with a few messages awaiting PUBACK. Two phases: paced at the 5,000 messages/s target, then unthrottled.
/// Throughput counts messages stored (the PUBACK comes after the commit); latency is device creation → stored,
/// from the hub's own rows. Target: ≥ 5,000 messages/s sustained with p99 ≤ 1 s.
/// </summary>
public static class HubBenchmark
{
    private const int TargetRate = 5_000;
    private const int InFlightPerDevice = 4;

    public static async Task RunAsync(int devices)
    {
        using var data = new TempDirectory("medvision-bench-hub");
        var mqttPort = FreePort();
        var app = HubApp.Build([
            $"--MedVision:Hub:DatabasePath={data.Combine("hub.db")}",
            $"--MedVision:Hub:MqttPort={mqttPort.ToString(CultureInfo.InvariantCulture)}",
            "--MedVision:Hub:MqttBindAddress=127.0.0.1",
            $"--urls=http://127.0.0.1:{FreePort().ToString(CultureInfo.InvariantCulture)}",
            "--Logging:LogLevel:Default=Warning",
        ]);
        await app.StartAsync();
        try
        {
            Console.WriteLine($"Hub benchmark: {devices} simulated appliances (MQTTnet clients, QoS 1, {InFlightPerDevice} in flight each) → one hub (embedded broker, SQLite synchronous=FULL), {Environment.ProcessorCount} cores");
            var enrolment = app.Services.GetRequiredService<EnrolmentService>();
            var store = app.Services.GetRequiredService<IHubStore>();
            var clock = Stopwatch.StartNew();
            var credentials = new List<EnrolmentResponse>();
            for (var i = 0; i < devices; i++)
            {
                var token = await enrolment.CreateTokenAsync(new EnrolmentTokenRequest($"site-{i / 10:D4}", $"bench-{i:D5}", null), CancellationToken.None);
                credentials.Add((await enrolment.EnrolAsync(new EnrolmentRequest(token.Token, null), CancellationToken.None))!);
            }
            Console.WriteLine($"  enrolled {devices} appliances in {clock.Elapsed.TotalSeconds:F1} s");

            clock.Restart();
            var clients = new IMqttClient[devices];
            await Parallel.ForEachAsync(Enumerable.Range(0, devices), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, ct) =>
            {
                var client = new MqttClientFactory().CreateMqttClient();
                var result = await client.ConnectAsync(new MqttClientOptionsBuilder()
                    .WithTcpServer("127.0.0.1", mqttPort)
                    .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
                    .WithClientId(credentials[i].DeviceId)
                    .WithCredentials(credentials[i].DeviceId, credentials[i].Password)
                    .WithTimeout(TimeSpan.FromSeconds(30))
                    .Build(), ct);
                if (result.ResultCode != MqttClientConnectResultCode.Success)
                {
                    throw new InvalidOperationException($"{credentials[i].DeviceId}: {result.ResultCode}");
                }
                clients[i] = client;
            });
            Console.WriteLine($"  connected {devices} appliances in {clock.Elapsed.TotalSeconds:F1} s");

            await PhaseAsync("paced at 5,000 msg/s", clients, credentials, store, TimeSpan.FromSeconds(15), TargetRate);
            await PhaseAsync("unthrottled", clients, credentials, store, TimeSpan.FromSeconds(10), null);

            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    private static async Task PhaseAsync(string label, IMqttClient[] clients, List<EnrolmentResponse> credentials, IHubStore store, TimeSpan duration, int? rate)
    {
        var before = await store.CountMessagesAsync(null, CancellationToken.None);
        var startUtc = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var deadline = clock.Elapsed + duration;
        long sent = 0, failed = 0;
        // Paced: each device sends at rate / devices per second; unthrottled: as fast as PUBACKs come back.
        var perDeviceInterval = rate is null ? TimeSpan.Zero : TimeSpan.FromSeconds((double)clients.Length / rate.Value);
        var workers = Enumerable.Range(0, clients.Length).SelectMany(i => Enumerable.Range(0, InFlightPerDevice).Select(lane => Task.Run(async () =>
        {
            var deviceId = credentials[i].DeviceId;
            var n = 0;
            var next = clock.Elapsed + TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * perDeviceInterval.TotalMilliseconds * InFlightPerDevice);
            while (clock.Elapsed < deadline)
            {
                if (rate is not null)
                {
                    var wait = next - clock.Elapsed;
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait);
                    }
                    next += perDeviceInterval * InFlightPerDevice;
                }
                n++;
                var heartbeat = n % 10 == 0;
                var type = heartbeat ? MessageTypes.Heartbeat : MessageTypes.Finding;
                var id = $"{lane}-{Guid.NewGuid():N}";
                byte[] payload = heartbeat
                    ? ContractJson.Serialize(ContractJson.CreateEnvelope(id, deviceId, type, DateTimeOffset.UtcNow, Heartbeat))
                    : ContractJson.Serialize(ContractJson.CreateEnvelope(id, deviceId, type, DateTimeOffset.UtcNow, Finding with { Probability = Random.Shared.NextDouble() }));
                var result = await clients[i].PublishAsync(new MqttApplicationMessageBuilder()
                    .WithTopic(Topics.Events(deviceId, type)).WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
                if (result.ReasonCode == MqttClientPublishReasonCode.Success)
                {
                    Interlocked.Increment(ref sent);
                }
                else
                {
                    Interlocked.Increment(ref failed);
                }
            }
        }))).ToList();
        await Task.WhenAll(workers);
        var elapsed = clock.Elapsed.TotalSeconds;
        var after = await store.CountMessagesAsync(null, CancellationToken.None);
        var rows = await store.ListMessagesAsync(null, null, startUtc, (int)(after - before) + 10, CancellationToken.None);
        var latencies = rows.Select(r => (r.ReceivedUtc - r.CreatedUtc).TotalMilliseconds).Order().ToList();
        var storedRate = (after - before) / elapsed;
        var p99 = Percentile(latencies, 0.99);
        Console.WriteLine($"  {label}: {after - before:N0} messages stored in {elapsed:F1} s = {storedRate:N0} msg/s (acknowledged {sent:N0}, refused {failed:N0})");
        Console.WriteLine($"    device → stored latency p50 {Percentile(latencies, 0.5):F0} ms, p99 {p99:F0} ms, max {latencies.LastOrDefault():F0} ms");
        Console.WriteLine($"    target ≥ 5,000 msg/s with p99 ≤ 1 s: {(storedRate >= TargetRate * 0.98 && p99 <= 1000 ? "met" : "MISSED")}");
    }

    private static readonly FindingV1 Finding = new(
        "2.25.1", "2.25.2", "MV-0000000000000000", "CR", "cxr-pneumonia", "2.0.0", new string('a', 64), "pneumonia", 0.5, 0.5, false, "CPU", 12.5, DateTimeOffset.UtcNow);

    private static readonly HeartbeatV1 Heartbeat = new("bench", [new ModelVersionV1("cxr-pneumonia", "2.0.0", new string('a', 64))], 100, 1_000_000_000, 0, 0, 0, 12.5, "CPU");

    private static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
