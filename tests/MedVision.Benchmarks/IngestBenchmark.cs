using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using MedVision.Edge;
using MedVision.Dicom.Network;
using MedVision.Edge.Ingest;
using MedVision.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace MedVision.Benchmarks;

/// <summary>
/// C-STORE ingest throughput: dcmtk's storescu sends the same study to the appliance and to dcmtk's own storescp in
/// the same run, and the ratio is printed. The appliance does more per instance (parse check, completion proof, one
/// fsync of a pre-created spool slot, SQLite commit) than storescp, which only writes the file.
/// </summary>
public static class IngestBenchmark
{
    // storescp's own rate moves by a third between rounds on a shared 2-core machine; five rounds steady the medians of
    // the fast cases. The Nagle-paced case takes minutes a round and is an order of magnitude apart, so three do.
    private const int Rounds = 5;
    private const int SlowRounds = 3;

    // dcmtk leaves Nagle's algorithm on unless asked; without this every instance waits ~40 ms for a delayed ACK.
    private static readonly Dictionary<string, string> NoDelay = new() { ["TCP_NODELAY"] = "1" };

    /// <param name="cases">Which comparisons to run ("ct", "mr", "nagle"); empty runs all three.</param>
    public static async Task RunAsync(IReadOnlyCollection<string> cases)
    {
        bool Runs(string name) => cases.Count == 0 || cases.Contains(name);
        Console.WriteLine($"Ingest benchmark: dcmtk storescu sends one association per round to dcmtk storescp (files written, no fsync) and to the MedVision SCP (durable: fsync + SQLite before the response; its slot pool full, as after any idle minute); rounds alternate, median of {Rounds} ({SlowRounds} for the Nagle case), {Environment.ProcessorCount} cores");
        using var ct = new TempDirectory("medvision-bench-ct");
        using var mr = new TempDirectory("medvision-bench-mr");
        BenchmarkData.CopiesOf(Path.Combine(RepoPaths.PydicomTestFiles, "CT_small.dcm"), ct.Path, 1000, upscale: 1);
        BenchmarkData.CopiesOf(Path.Combine(RepoPaths.PydicomTestFiles, "MR_small.dcm"), mr.Path, 100, upscale: 16);
        if (Runs("ct"))
        {
            await CompareAsync("1000 x CT 39 kB, TCP_NODELAY=1", ct.Path, NoDelay, Rounds);
        }
        if (Runs("mr"))
        {
            await CompareAsync("100 x MR 2 MB, TCP_NODELAY=1", mr.Path, NoDelay, Rounds);
        }
        if (Runs("nagle"))
        {
            await CompareAsync("1000 x CT 39 kB, storescu defaults (Nagle on)", ct.Path, new Dictionary<string, string>(), SlowRounds);
        }
        Console.WriteLine($"  working set of this process (appliance in-process + harness): {Environment.WorkingSet / 1e6:F0} MB now, {System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64 / 1e6:F0} MB peak");
    }

    private static async Task CompareAsync(string title, string folder, IReadOnlyDictionary<string, string> senderEnvironment, int rounds)
    {
        var files = Directory.GetFiles(folder);
        var bytes = files.Sum(f => new FileInfo(f).Length);
        var ours = new List<double>();
        var theirs = new List<double>();
        var ceiling = new List<double>();
        var oursCpu = new List<double>();
        // One untimed round each first: the appliance runs for months, so its JIT warm-up (and both sides' first
        // read of the input files) is not what a modality sees.
        await TimeDcmtkStorescpAsync(folder, senderEnvironment);
        await TimeApplianceAsync(folder, senderEnvironment);
        for (var round = 0; round < rounds; round++)
        {
            theirs.Add(await TimeDcmtkStorescpAsync(folder, senderEnvironment));
            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            ours.Add(await TimeApplianceAsync(folder, senderEnvironment));
            oursCpu.Add((Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMilliseconds / files.Length);
            ceiling.Add(await TimeDiscardingScpAsync(folder, senderEnvironment));
        }
        var oursMedian = Median(ours);
        var theirsMedian = Median(theirs);
        Console.WriteLine($"{title}: {files.Length} instances, {bytes / 1e6:F1} MB");
        Console.WriteLine($"  dcmtk storescp : {files.Length / theirsMedian,8:F1} instances/s  ({bytes / theirsMedian / 1e6:F1} MB/s)");
        Console.WriteLine($"  MedVision SCP  : {files.Length / oursMedian,8:F1} instances/s  ({bytes / oursMedian / 1e6:F1} MB/s)");
        Console.WriteLine($"  ceiling: our SCP storing nothing: {files.Length / Median(ceiling),8:F1} instances/s = {theirsMedian / Median(ceiling):F2} x storescp (what the sender and loopback allow on this machine)");
        Console.WriteLine($"  ratio MedVision/storescp: {theirsMedian / oursMedian:F2}   (rounds: storescp {string.Join(" / ", theirs.Select(t => $"{files.Length / t:F0}"))}, MedVision {string.Join(" / ", ours.Select(t => $"{files.Length / t:F0}"))} instances/s; appliance CPU {Median(oursCpu):F2} ms per instance incl. start and stop)");
    }

    private static async Task<double> TimeApplianceAsync(string folder, IReadOnlyDictionary<string, string> senderEnvironment)
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
            "--Logging:LogLevel:MedVision=Error",
        ]);
        await app.StartAsync();
        try
        {
            await WaitForFullSlotPoolAsync(app.Services);
            var port = app.Services.GetRequiredService<DicomListenerService>().BoundPort;
            return await TimeStorescuAsync(port, "MEDVISION", folder, senderEnvironment);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    /// <summary>
    /// An appliance runs for months: a study arrives at a spool whose slot pool the idle time has filled. A freshly
    /// started one is still creating its slots, which would compete with the round being timed.
    /// </summary>
    private static async Task WaitForFullSlotPoolAsync(IServiceProvider services)
    {
        var slots = services.GetRequiredService<SpoolSlots>();
        var waited = Stopwatch.StartNew();
        while (!slots.IsFull)
        {
            if (waited.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new TimeoutException($"The appliance's spool slot pool is still not full after a minute ({slots.FreeCount} slots).");
            }
            await Task.Delay(20);
        }
    }

    /// <summary>
    /// The same DICOM server with a handler that drops every data set and answers Success at once: the rate the sender,
    /// the loopback and our protocol code allow, with no storage at all. A durable SCP cannot beat it.
    /// </summary>
    private static async Task<double> TimeDiscardingScpAsync(string folder, IReadOnlyDictionary<string, string> senderEnvironment)
    {
        var options = new DicomServerOptions { AeTitle = "DISCARD", Port = 0, BindAddress = "127.0.0.1" };
        var server = new DicomServer(options, [new DefaultAssociationPolicy(options)], new DiscardingStoreHandler(), new AlwaysSuccessfulEcho(), NullLogger<DicomServer>.Instance);
        using var stop = new CancellationTokenSource();
        server.Start();
        var running = server.RunAsync(stop.Token);
        try
        {
            return await TimeStorescuAsync(server.BoundPort, "DISCARD", folder, senderEnvironment);
        }
        finally
        {
            await stop.CancelAsync();
            await running;
        }
    }

    private sealed class DiscardingStoreHandler : ICStoreHandler, ICStoreTarget
    {
        public ValueTask<ICStoreTarget> BeginStoreAsync(CStoreRequest request, CancellationToken cancellationToken) => ValueTask.FromResult<ICStoreTarget>(this);

        public ValueTask WriteAsync(ReadOnlyMemory<byte> fragment, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask<DicomStatus> CompleteAsync(CancellationToken cancellationToken) => ValueTask.FromResult(DicomStatus.Success);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private static async Task<double> TimeDcmtkStorescpAsync(string folder, IReadOnlyDictionary<string, string> senderEnvironment)
    {
        using var output = new TempDirectory("medvision-bench-storescp");
        var port = FreePort();
        var start = new ProcessStartInfo(ExternalTool.Require("storescp"))
        {
            ArgumentList = { "-od", output.Path, "-aet", "STORESCP", "--max-pdu", "116794", port.ToString(CultureInfo.InvariantCulture) },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in senderEnvironment)
        {
            start.Environment[name] = value;
        }
        using var server = Process.Start(start)!;
        try
        {
            await WaitForPortAsync(port);
            return await TimeStorescuAsync(port, "STORESCP", folder, senderEnvironment);
        }
        finally
        {
            server.Kill();
            await server.WaitForExitAsync();
        }
    }

    private static async Task<double> TimeStorescuAsync(int port, string aeTitle, string folder, IReadOnlyDictionary<string, string> environment)
    {
        var watch = Stopwatch.StartNew();
        var result = await ExternalTool.RunAsync("storescu", ["-aec", aeTitle, "+sd", "127.0.0.1", port.ToString(CultureInfo.InvariantCulture), folder], TimeSpan.FromMinutes(5), environment: environment);
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
