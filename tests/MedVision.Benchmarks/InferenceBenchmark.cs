using System.Diagnostics;
using System.Globalization;
using MedVision.Edge;
using MedVision.Edge.Inference;
using MedVision.Edge.Pipeline;
using MedVision.Edge.Storage;
using MedVision.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace MedVision.Benchmarks;

/// <summary>
/// `--inference`: bare <see cref="LoadedModel.Run"/> on a preprocessed tensor against the whole path from a spooled
/// DICOM file to a stored finding (InstanceProcessor + CompleteInstanceAsync), both on the shipped models inside a
/// started appliance, plus throughput and process RSS. Targets: end-to-end p50 ≤ 1.2 × bare + 5 ms, RSS &lt; 300 MB.
/// </summary>
public static class InferenceBenchmark
{
    public static async Task RunAsync()
    {
        const int n = 300;
        using var data = new TempDirectory("medvision-bench-inference");
        using var spool = new TempDirectory("medvision-bench-spool");
        // The pipeline service is parked (hour-long poll) so it does not race the measured loop for the same rows.
        var app = EdgeApp.Build([$"--MedVision:Storage:Root={data.Path}", "--MedVision:Dicom:Port=0", "--MedVision:Dicom:BindAddress=127.0.0.1",
            "--MedVision:Pipeline:PollSeconds=3600", "--MedVision:ModelUpdates:ScanSeconds=0", "--urls=http://127.0.0.1:0"]);
        await app.StartAsync();
        try
        {
            var registry = app.Services.GetRequiredService<ModelRegistry>();
            var processor = app.Services.GetRequiredService<InstanceProcessor>();
            var store = app.Services.GetRequiredService<IStudyStore>();
            var model = registry.Find("cxr-pneumonia") ?? throw new InvalidOperationException("cxr-pneumonia is not loaded");
            var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");

            var tensor = new Preprocessor().Preprocess(InstanceProcessor.LoadImage(ChestXrayDicom.Create(spool.Path, images.Image(0), scale: 10).Path), model.Manifest.Preprocessing);
            for (var i = 0; i < 50; i++)
            {
                model.Run(tensor);
            }
            var bare = new double[n];
            for (var i = 0; i < n; i++)
            {
                var t = Stopwatch.GetTimestamp();
                model.Run(tensor);
                bare[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
            }

            // 280 x 280 12-bit CR files, as the walking skeleton sends them.
            var pending = new List<PendingInstance>(n);
            for (var i = 0; i < n; i++)
            {
                var file = ChestXrayDicom.Create(spool.Path, images.Image(i % images.Shape[0]), scale: 10);
                var received = new ReceivedInstance(file.SopInstanceUid, "1.2.840.10008.5.1.4.1.1.1", file.StudyUid, null, "CR", "BENCH", null, null, null,
                    "1.2.840.10008.1.2.1", "BENCH", file.Path, new FileInfo(file.Path).Length, DateTimeOffset.UtcNow);
                await store.RecordReceivedAsync(received, CancellationToken.None);
                pending.Add(new PendingInstance(file.SopInstanceUid, file.StudyUid, "CR", received.SopClassUid, file.Path, received.ReceivedUtc));
            }
            var endToEnd = new double[n];
            var wall = Stopwatch.StartNew();
            for (var i = 0; i < n; i++)
            {
                var t = Stopwatch.GetTimestamp();
                var findings = await processor.ProcessAsync(pending[i], CancellationToken.None) ?? throw new InvalidOperationException("no model applied");
                await store.CompleteInstanceAsync(pending[i], InstanceStates.Processed, null, findings, CancellationToken.None);
                endToEnd[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
            }
            wall.Stop();

            // The same work queued all at once, as when several studies arrive together: micro-batches of 8 per session run.
            var queued = new List<PendingInstance>(n);
            for (var i = 0; i < n; i++)
            {
                var file = ChestXrayDicom.Create(spool.Path, images.Image(i % images.Shape[0]), scale: 10);
                var received = new ReceivedInstance(file.SopInstanceUid, "1.2.840.10008.5.1.4.1.1.1", file.StudyUid, null, "CR", "BENCH", null, null, null,
                    "1.2.840.10008.1.2.1", "BENCH", file.Path, new FileInfo(file.Path).Length, DateTimeOffset.UtcNow);
                await store.RecordReceivedAsync(received, CancellationToken.None);
                queued.Add(new PendingInstance(file.SopInstanceUid, file.StudyUid, "CR", received.SopClassUid, file.Path, received.ReceivedUtc));
            }
            const int microBatch = 8;
            var batched = Stopwatch.StartNew();
            foreach (var group in queued.Chunk(microBatch))
            {
                foreach (var outcome in await processor.ProcessBatchAsync(group, microBatch, CancellationToken.None))
                {
                    await store.CompleteInstanceAsync(outcome.Instance, InstanceStates.Processed, null, outcome.Findings ?? throw new InvalidOperationException("no model applied"), CancellationToken.None);
                }
            }
            batched.Stop();

            double bareP50 = EvaluationMetrics.Percentile(bare, 50), bareP99 = EvaluationMetrics.Percentile(bare, 99);
            double e2eP50 = EvaluationMetrics.Percentile(endToEnd, 50), e2eP99 = EvaluationMetrics.Percentile(endToEnd, 99);
            var rssMb = Process.GetCurrentProcess().WorkingSet64 / (1024.0 * 1024.0);
            var budget = 1.2 * bareP50 + 5;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"inference: {model.Id} {model.Version} on {model.ExecutionProvider}, {Environment.ProcessorCount} cores, n={n}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  bare LoadedModel.Run      p50 {bareP50:F3} ms  p99 {bareP99:F3} ms"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  spooled file -> finding   p50 {e2eP50:F3} ms  p99 {e2eP99:F3} ms  (one at a time: {n / wall.Elapsed.TotalSeconds:F0} images/s)"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  ratio end-to-end p50 / bare p50 = {e2eP50 / bareP50:F2}; target p50 <= 1.2 x bare + 5 ms = {budget:F3} ms: {(e2eP50 <= budget ? "met" : "MISSED")}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  queued, micro-batches of {microBatch}: {n / batched.Elapsed.TotalSeconds:F0} images/s = {wall.Elapsed.TotalSeconds / batched.Elapsed.TotalSeconds:F2} x one at a time"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  process RSS {rssMb:F0} MB with {registry.Models.Count} model(s) loaded; target < 300 MB: {(rssMb < 300 ? "met" : "MISSED")}"));
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
