using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using MedVision.Dicom;
using MedVision.Edge.Export;
using MedVision.Edge.Storage;
using MedVision.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MedVision.Benchmarks;

/// <summary>
/// Delivery half of the export outbox against a real PACS (Orthanc on loopback): N DICOM objects already in the outbox are
/// C-STOREd by the delivery loop (one association per object, durable state change per attempt) at concurrency 1 and 4,
/// compared with dcmtk's storescu sending as many objects of the same size in one association, in the same run.
/// </summary>
public static class ExportBenchmark
{
    private const int Objects = 200;

    public static async Task RunAsync()
    {
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        await using var orthanc = await OrthancServer.StartAsync();
        Console.WriteLine($"Export benchmark: {Objects} CR objects (224 px, 16-bit) to Orthanc on loopback, {Environment.ProcessorCount} cores");

        using (var baseline = new TempDirectory("medvision-bench-export-src"))
        {
            var files = Enumerable.Range(0, Objects).Select(i => ChestXrayDicom.Create(baseline.Path, images.Image(i), scale: 8).Path).ToList();
            var watch = Stopwatch.StartNew();
            // TCP_NODELAY=1: dcmtk leaves Nagle's algorithm on otherwise, and delayed ACKs would pace it, not the PACS.
            var sent = await ExternalTool.RunAsync("storescu", ["-aec", OrthancServer.AeTitle, "127.0.0.1", orthanc.DicomPort.ToString(CultureInfo.InvariantCulture), .. files],
                environment: new Dictionary<string, string> { ["TCP_NODELAY"] = "1" });
            watch.Stop();
            if (sent.ExitCode != 0)
            {
                throw new InvalidOperationException(sent.Combined);
            }
            Console.WriteLine($"  storescu, one association        : {Rate(watch.Elapsed)}");
        }
        foreach (var concurrency in new[] { 1, 4 })
        {
            var elapsed = await RunOutboxAsync(orthanc, images, concurrency);
            Console.WriteLine($"  outbox, concurrency {concurrency}, 1 assoc/object: {Rate(elapsed)}");
        }
    }

    private static string Rate(TimeSpan elapsed) =>
        string.Create(CultureInfo.InvariantCulture, $"{elapsed.TotalSeconds:0.00} s, {Objects / elapsed.TotalSeconds:0} objects/s, {elapsed.TotalMilliseconds / Objects:0.0} ms/object");

    private static async Task<TimeSpan> RunOutboxAsync(OrthancServer orthanc, NpyArray images, int concurrency)
    {
        using var root = new TempDirectory("medvision-bench-export");
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MedVision:Storage:Root"] = root.Path,
            ["MedVision:Export:Destinations:0:Name"] = "pacs",
            ["MedVision:Export:Destinations:0:Type"] = "dicom",
            ["MedVision:Export:Destinations:0:Host"] = "127.0.0.1",
            ["MedVision:Export:Destinations:0:Port"] = orthanc.DicomPort.ToString(CultureInfo.InvariantCulture),
            ["MedVision:Export:Destinations:0:CalledAe"] = OrthancServer.AeTitle,
            ["MedVision:Export:Destinations:0:MaxConcurrency"] = concurrency.ToString(CultureInfo.InvariantCulture),
        }).Build();
        var services = new ServiceCollection()
            .AddLogging(b => b.SetMinimumLevel(LogLevel.Warning))
            .AddSingleton<IConfiguration>(configuration)
            .AddEdgeStorage(configuration)
            .AddEdgeExport(configuration);
        await using var provider = services.BuildServiceProvider();
        var database = provider.GetRequiredService<EdgeDatabase>();
        await database.MigrateAsync(CancellationToken.None);
        var outbox = provider.GetRequiredService<OutboxStore>();

        // One completed study whose generation holds all the objects, as the generator would record them.
        var studies = provider.GetRequiredService<IStudyStore>();
        var study = ChestXrayDicom.NewUid();
        var folder = Path.Combine(root.Path, "outputs", study);
        Directory.CreateDirectory(folder);
        var outputs = new List<NewOutput>();
        for (var i = 0; i < Objects; i++)
        {
            var file = ChestXrayDicom.Create(folder, images.Image(i + Objects), scale: 8, studyUid: study);
            var bytes = await File.ReadAllBytesAsync(file.Path);
            outputs.Add(new NewOutput("secondary-capture", Path.GetFileName(file.Path), "application/dicom", "1.2.840.10008.5.1.4.1.1.1",
                file.SopInstanceUid, bytes.Length, Convert.ToHexStringLower(SHA256.HashData(bytes)), file.Path, ["pacs"]));
            if (i == 0)
            {
                await studies.RecordReceivedAsync(new ReceivedInstance(file.SopInstanceUid, "1.2.840.10008.5.1.4.1.1.1", study, null, "CR", null, null, null, null,
                    "1.2.840.10008.1.2.1", "BENCH", file.Path, bytes.Length, DateTimeOffset.UtcNow.AddMinutes(-1)), CancellationToken.None);
            }
        }
        await studies.CompleteQuietStudiesAsync(DateTimeOffset.UtcNow, CancellationToken.None);
        await outbox.RequestGenerationAsync(study, DateTimeOffset.UtcNow, CancellationToken.None);
        var generation = (await outbox.ListDueGenerationsAsync(DateTimeOffset.UtcNow, 1, CancellationToken.None)).Single();
        await outbox.CompleteGenerationAsync(generation.Id, study, outputs, null, DateTimeOffset.UtcNow, CancellationToken.None);

        var delivery = provider.GetServices<IHostedService>().OfType<DeliveryService>().Single();
        var watch = Stopwatch.StartNew();
        await delivery.StartAsync(CancellationToken.None);
        try
        {
            while (true)
            {
                var counts = await outbox.CountAsync(CancellationToken.None);
                if (counts.Count("pacs", DeliveryStates.Delivered) == Objects)
                {
                    return watch.Elapsed;
                }
                if (counts.Count("pacs", DeliveryStates.Dead) > 0 || watch.Elapsed > TimeSpan.FromMinutes(3))
                {
                    throw new InvalidOperationException($"deliveries did not all succeed: {string.Join(", ", DeliveryStates.All.Select(s => $"{s} {counts.Count("pacs", s)}"))}");
                }
                await Task.Delay(20);
            }
        }
        finally
        {
            await delivery.StopAsync(CancellationToken.None);
            database.Dispose();
        }
    }
}
