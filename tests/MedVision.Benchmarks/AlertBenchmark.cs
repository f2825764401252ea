using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using MedVision.Edge;
using MedVision.Edge.Inference;
using MedVision.Edge.Ingest;
using MedVision.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace MedVision.Benchmarks;

/// <summary>
/// Time to alert on CPU: 200 one-image CR studies that the shipped model scores positive go to the appliance with
/// dcmtk's storescu; each raises a critical alert that lights the (simulated) beacon and pages by e-mail through a real
/// SMTP server (aiosmtpd) on loopback. Measured by the appliance itself, from each study's last received instance to
/// beacon on and to first page sent; printed as p50/p99/max. Target: p99 ≤ 2 s after study completion.
/// Two arrival patterns: paced (one storescu, one association per study, back to back) and a burst (all studies in
/// one association), where later studies queue behind earlier ones in the single inference pipeline.
/// </summary>
public static class AlertBenchmark
{
    private const int Studies = 200;
    private const string Recipient = "oncall@hospital.test";

    private static readonly Dictionary<string, string> NoDelay = new() { ["TCP_NODELAY"] = "1" };

    public static async Task RunAsync()
    {
        var manifest = ModelManifest.Parse(await File.ReadAllBytesAsync(Path.Combine(RepoPaths.PneumoniaPackage, "manifest.json")));
        var threshold = manifest.Labels[0].Threshold;
        var positives = manifest.Golden!.Where(g => g.Probability >= threshold).Select(g => g.Index).ToList();
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");

        using var source = new TempDirectory("medvision-bench-alert-src");
        var files = new List<string>();
        for (var i = 0; i < Studies; i++)
        {
            files.Add(ChestXrayDicom.Create(source.Path, images.Image(positives[i % positives.Count])).Path);
        }
        Console.WriteLine($"Alert benchmark: {Studies} positive CR studies (one instance each), critical rule, simulated beacon, e-mail page to aiosmtpd, CPU inference, {Environment.ProcessorCount} cores");

        await using var smtp = await SmtpProcess.StartAsync();
        foreach (var burst in new[] { false, true })
        {
            var (beacon, page) = await RunOnceAsync(files, smtp.Port, burst);
            var label = burst ? "burst (one association)" : "paced (one association per study)";
            Console.WriteLine($"  {label}");
            Console.WriteLine($"    study complete → beacon on   : {Summary(beacon)}");
            Console.WriteLine($"    study complete → first page  : {Summary(page)}");
            Console.WriteLine($"    p99 ≤ 2 s target (beacon / page): {(Percentile(beacon, 0.99) <= 2000 ? "met" : "MISSED")} / {(Percentile(page, 0.99) <= 2000 ? "met" : "MISSED")}");
        }
    }

    private static async Task<(List<double> Beacon, List<double> Page)> RunOnceAsync(IReadOnlyList<string> files, int smtpPort, bool burst)
    {
        using var data = new TempDirectory("medvision-bench-alert");
        var app = EdgeApp.Build([
            $"--MedVision:Storage:Root={data.Path}",
            "--MedVision:Dicom:Port=0",
            "--MedVision:Dicom:BindAddress=127.0.0.1",
            "--urls=http://127.0.0.1:0",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:MedVision.Edge.Alerts=Error",
            "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Warning",
            "--MedVision:Alerts:Rules:0:Name=pneumonia",
            "--MedVision:Alerts:Rules:0:Label=pneumonia",
            "--MedVision:Alerts:Rules:0:Severity=critical",
            "--MedVision:Alerts:Recipients:oncall:Channel=email",
            "--MedVision:Alerts:Recipients:oncall:Address=" + Recipient,
            "--MedVision:Alerts:Routing:Critical:Steps:0=oncall",
            "--MedVision:Alerts:Routing:Critical:EscalateAfterSeconds=3600",
            "--MedVision:Alerts:Smtp:Host=127.0.0.1",
            "--MedVision:Alerts:Smtp:Port=" + smtpPort.ToString(CultureInfo.InvariantCulture),
            "--MedVision:Alerts:Smtp:Security=None",
            "--MedVision:Alerts:Beacon:Driver=simulated",
        ]);
        await app.StartAsync();
        try
        {
            var port = app.Services.GetRequiredService<DicomListenerService>().BoundPort.ToString(CultureInfo.InvariantCulture);
            using var http = new HttpClient
            {
                BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()),
            };
            if (burst)
            {
                await StorescuAsync([port, .. files]);
            }
            else
            {
                foreach (var file in files)
                {
                    await StorescuAsync([port, file]);
                }
            }

            var deadline = Stopwatch.StartNew();
            while (true)
            {
                var alerts = await http.GetFromJsonAsync<JsonElement>("/api/alerts?limit=1000");
                var done = alerts.EnumerateArray().Where(a => a.GetProperty("firstPageUtc").ValueKind == JsonValueKind.String).ToList();
                if (done.Count == files.Count)
                {
                    return (
                        done.Select(a => a.GetProperty("timeToAlert").GetProperty("studyToBeaconMs").GetDouble()).ToList(),
                        done.Select(a => a.GetProperty("timeToAlert").GetProperty("studyToFirstPageMs").GetDouble()).ToList());
                }
                if (deadline.Elapsed > TimeSpan.FromMinutes(3))
                {
                    throw new TimeoutException($"only {done.Count} of {files.Count} alerts paged after 3 minutes");
                }
                await Task.Delay(200);
            }
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    private static async Task StorescuAsync(string[] portAndFiles)
    {
        var result = await ExternalTool.RunAsync("storescu", ["-aec", "MEDVISION", "127.0.0.1", .. portAndFiles], TimeSpan.FromMinutes(5), environment: NoDelay);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException("storescu failed: " + result.Combined);
        }
    }

    private static string Summary(List<double> ms) => string.Create(CultureInfo.InvariantCulture,
        $"p50 {Percentile(ms, 0.50),7:F1} ms   p99 {Percentile(ms, 0.99),7:F1} ms   max {ms.Max(),7:F1} ms   (n={ms.Count})");

    private static double Percentile(List<double> values, double fraction)
    {
        var sorted = values.Order().ToList();
        var rank = (int)Math.Ceiling(fraction * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }

    /// <summary>aiosmtpd (Debian python3-aiosmtpd) with the test suite's folder handler, on a free loopback port.</summary>
    private sealed class SmtpProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly TempDirectory _folder;

        private SmtpProcess(Process process, TempDirectory folder, int port)
        {
            _process = process;
            _folder = folder;
            Port = port;
        }

        public int Port { get; }

        public static async Task<SmtpProcess> StartAsync()
        {
            int port;
            using (var probe = new TcpListener(IPAddress.Loopback, 0))
            {
                probe.Start();
                port = ((IPEndPoint)probe.LocalEndpoint).Port;
            }
            var folder = new TempDirectory("medvision-bench-smtp");
            var scripts = Path.Combine(RepoPaths.Root, "tests", "MedVision.Edge.Tests", "Alerts");
            var start = new ProcessStartInfo("/usr/bin/python3") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var argument in new[] { "-m", "aiosmtpd", "-n", "-l", $"127.0.0.1:{port}", "-c", "smtp_sink.FolderSink", folder.Path })
            {
                start.ArgumentList.Add(argument);
            }
            start.Environment["PYTHONPATH"] = scripts;
            start.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
            var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start /usr/bin/python3 -m aiosmtpd (install python3-aiosmtpd)");
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
            for (var i = 0; i < 200; i++)
            {
                try
                {
                    using var client = new TcpClient();
                    await client.ConnectAsync(IPAddress.Loopback, port);
                    return new SmtpProcess(process, folder, port);
                }
                catch (SocketException) when (!process.HasExited)
                {
                    await Task.Delay(50);
                }
            }
            process.Kill();
            throw new InvalidOperationException("aiosmtpd did not start (is python3-aiosmtpd installed?)");
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }
            _process.Dispose();
            _folder.Dispose();
        }
    }
}
