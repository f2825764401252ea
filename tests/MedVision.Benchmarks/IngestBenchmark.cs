using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using MedVision.Edge;
using MedVision.Edge.Ingest;
using MedVision.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace MedVision.Benchmarks;

/// <summary>
/// C-STORE ingest throughput: dcmtk's storescu sends the same study to the appliance and to dcmtk's own storescp in
/// the same run, and the ratio is printed. The appliance does more per instance (fsync of file and folder, parse
/// check, SQLite commit with synchronous=FULL) than storescp, which only writes the file.
/// </summary>
public static class IngestBenchmark
{
    private const int Instances = 200;
    private const int Rounds = 3;

    // dcmtk leaves Nagle's algorithm on unless asked; without this every instance waits ~40 ms for a delayed ACK.
    private static readonly Dictionary<string, string> NoDelay = new() { ["TCP_NODELAY"] = "1" };

    public static async Task RunAsync()
    {
        using var source = new TempDirectory("medvision-bench-src");
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        var study = ChestXrayDicom.NewUid();
        for (var i = 0; i < Instances; i++)
        {
            // 504 x 504 x 16 bit ≈ 500 KB each, a small CR.
            ChestXrayDicom.Create(source.Path, images.Image(i % 600), scale: 18, studyUid: study);
        }
        var bytes = Directory.GetFiles(source.Path).Sum(f => new FileInfo(f).Length);
        Console.WriteLine($"Ingest benchmark: {Instances} CR instances, {bytes / 1e6:F1} MB, one association per round, {Rounds} rounds, {Environment.ProcessorCount} cores");

        var ours = new List<double>();
        var theirs = new List<double>();
        for (var round = 0; round < Rounds; round++)
        {
            theirs.Add(await TimeDcmtkStorescpAsync(source.Path));
            ours.Add(await TimeApplianceAsync(source.Path));
        }
        var oursMedian = Median(ours);
        var theirsMedian = Median(theirs);
        Console.WriteLine($"  dcmtk storescp : {Instances / theirsMedian,8:F1} instances/s  ({bytes / theirsMedian / 1e6:F1} MB/s, median {theirsMedian:F2} s)");
        Console.WriteLine($"  MedVision SCP  : {Instances / oursMedian,8:F1} instances/s  ({bytes / oursMedian / 1e6:F1} MB/s, median {oursMedian:F2} s, durable before acknowledge)");
        Console.WriteLine($"  ratio MedVision/dcmtk throughput: {theirsMedian / oursMedian:F2}");
    }

    private static async Task<double> TimeApplianceAsync(string folder)
    {
        using var data = new TempDirectory("medvision-bench-edge");
        var app = EdgeApp.Build([
            $"--MedVision:Storage:Root={data.Path}",
            "--MedVision:Dicom:Port=0",
            "--MedVision:Dicom:BindAddress=127.0.0.1",
            // Ingest only: no model, so the pipeline leaves the instances queued and takes no CPU.
            $"--MedVision:Inference:ModelsDirectory={data.Combine("none")}",
            "--urls=http://127.0.0.1:0",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Warning",
        ]);
        await app.StartAsync();
        try
        {
            var port = app.Services.GetRequiredService<DicomListenerService>().BoundPort;
            return await TimeStorescuAsync(port, "MEDVISION", folder);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    private static async Task<double> TimeDcmtkStorescpAsync(string folder)
    {
        using var output = new TempDirectory("medvision-bench-storescp");
        var port = FreePort();
        var start = new ProcessStartInfo(ExternalTool.Require("storescp"))
        {
            ArgumentList = { "-od", output.Path, "-aet", "STORESCP", "--max-pdu", "116794", port.ToString(CultureInfo.InvariantCulture) },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { ["TCP_NODELAY"] = "1" },
        };
        using var server = Process.Start(start)!;
        try
        {
            await WaitForPortAsync(port);
            return await TimeStorescuAsync(port, "STORESCP", folder);
        }
        finally
        {
            server.Kill();
            await server.WaitForExitAsync();
        }
    }

    private static async Task<double> TimeStorescuAsync(int port, string aeTitle, string folder)
    {
        var watch = Stopwatch.StartNew();
        var result = await ExternalTool.RunAsync("storescu", ["-aec", aeTitle, "+sd", "127.0.0.1", port.ToString(CultureInfo.InvariantCulture), folder], TimeSpan.FromMinutes(5), environment: NoDelay);
        watch.Stop();
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"storescu to {aeTitle} failed: {result.Combined}");
        }
        return watch.Elapsed.TotalSeconds;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task WaitForPortAsync(int port)
    {
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }
        throw new TimeoutException($"storescp did not open port {port}.");
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }
}
