using MedVision.Edge.Inference;
using MedVision.Edge.Outputs;
using MedVision.Edge.Outputs.Heatmaps;
using MedVision.Edge.Pipeline;
using MedVision.Edge.Storage;
using MedVision.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Options = Microsoft.Extensions.Options.Options;

namespace MedVision.Edge.Tests.Inference;

/// <summary>Micro-batching: several images in one session run give exactly what each gives alone, and one bad instance spoils no other.</summary>
public sealed class MicroBatchTests
{
    [Fact]
    public void A_batch_run_gives_each_image_its_own_probability_and_cam()
    {
        using var registry = Registry();
        var model = registry.Find("cxr-pneumonia")!;
        Assert.True(model.SupportsBatches);
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        using var files = new TempDirectory();
        var loaded = Enumerable.Range(0, 7)
            .Select(i => InstanceProcessor.LoadImage(ChestXrayDicom.Create(files.Path, images.Image(i * 37), scale: 1 + i % 3).Path))
            .ToList();

        var batch = model.PredictBatch(loaded);
        var single = loaded.Select(model.Predict).ToList();

        Assert.Equal(loaded.Count, batch.Count);
        for (var i = 0; i < loaded.Count; i++)
        {
            Assert.Equal(single[i].Outputs[0].Probability, batch[i].Outputs[0].Probability, 5);
            Assert.Equal(single[i].Outputs[0].Positive, batch[i].Outputs[0].Positive);
            var (a, b) = (single[i].Cams![0].Values, batch[i].Cams![0].Values);
            Assert.Equal(a.Length, b.Length);
            Assert.All(Enumerable.Range(0, a.Length), k => Assert.Equal(a[k], b[k], 4));
        }
        // Different images, different answers: a batch that repeated one image would not pass.
        Assert.True(batch.Select(p => Math.Round(p.Outputs[0].Probability, 4)).Distinct().Count() > 3);
    }

    [Fact]
    public async Task One_unreadable_instance_in_a_batch_fails_alone()
    {
        using var registry = Registry();
        using var files = new TempDirectory();
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        var good = Enumerable.Range(0, 4).Select(i => ChestXrayDicom.Create(files.Path, images.Image(i), scale: 1)).ToList();
        var broken = files.Combine("broken.dcm");
        await File.WriteAllBytesAsync(broken, [.. File.ReadAllBytes(good[0].Path).Take(400)]);
        var pending = good.Select(g => new PendingInstance(g.SopInstanceUid, g.StudyUid, "CR", "1.2.840.10008.5.1.4.1.1.1", g.Path, DateTimeOffset.UtcNow)).ToList();
        pending.Insert(2, new PendingInstance("1.2.3.4.5", "1.2.3", "CR", "1.2.840.10008.5.1.4.1.1.1", broken, DateTimeOffset.UtcNow));
        var processor = new InstanceProcessor(registry, new ModelRouter(Options.Create(new InferenceOptions())), TimeProvider.System,
            new HeatmapStore(Options.Create(new StorageOptions { Root = files.Combine("storage") }), new UidGenerator(Options.Create(new OutputObjectOptions())),
                new DiskSpace(Options.Create(new StorageOptions { Root = files.Combine("storage") })), NullLogger<HeatmapStore>.Instance),
            NullLogger<InstanceProcessor>.Instance);

        var outcomes = await processor.ProcessBatchAsync(pending, maxBatch: 8, CancellationToken.None);

        Assert.Equal(pending.Select(p => p.SopInstanceUid), outcomes.Select(o => o.Instance.SopInstanceUid));
        Assert.NotNull(outcomes[2].Error);
        Assert.Null(outcomes[2].Findings);
        foreach (var outcome in outcomes.Where((_, i) => i != 2))
        {
            Assert.Null(outcome.Error);
            var finding = Assert.Single(outcome.Findings!);
            Assert.Equal(outcome.Instance.SopInstanceUid, finding.SopInstanceUid);
            Assert.NotNull(finding.Heatmap);
        }
    }

    private static ModelRegistry Registry()
    {
        var registry = new ModelRegistry(InferenceTestModels.Loader(new InferenceOptions { ModelsDirectory = RepoPaths.ModelPackages }), NullLogger<ModelRegistry>.Instance);
        registry.Load(CancellationToken.None);
        return registry;
    }
}
