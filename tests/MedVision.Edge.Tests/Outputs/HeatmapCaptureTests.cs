using System.Buffers.Binary;
using System.Text.Json.Nodes;
using MedVision.Edge.Inference;
using MedVision.Edge.Outputs;
using MedVision.Edge.Outputs.Heatmaps;
using MedVision.Edge.Pipeline;
using MedVision.Edge.Storage;
using MedVision.Edge.Tests.Inference;
using MedVision.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Options = Microsoft.Extensions.Options.Options;

namespace MedVision.Edge.Tests.Outputs;

/// <summary>Heat maps captured by the pipeline: the ONNX cam output, upsampled onto the source image's own geometry.</summary>
public sealed class HeatmapCaptureTests
{
    [Fact]
    public async Task Stored_map_has_the_source_geometry_and_equals_the_onnx_cam_upsampled_bilinearly()
    {
        using var folder = new TempDirectory();
        var source = await KermanyDicom.CreateAsync(folder.Path, KermanyDicom.PneumoniaSample);
        Assert.NotEqual(source.Columns, source.Rows);
        using var registry = Registry(RepoPaths.ModelPackages);
        var processor = Processor(registry, folder.Combine("storage"), out var store);

        var findings = await processor.ProcessAsync(Pending(source), CancellationToken.None);

        var finding = Assert.Single(findings!, f => f.ModelId == "cxr-pneumonia");
        var heatmap = Assert.IsType<HeatmapRecord>(finding.Heatmap);
        Assert.Equal((source.Columns, source.Rows), (heatmap.Columns, heatmap.Rows));
        // The pipeline records the model-resolution CAM only; the full-resolution files are made with the outputs.
        Assert.Equal((16, 16), (heatmap.CamWidth, heatmap.CamHeight));
        Assert.False(File.Exists(store.Resolve(heatmap.FloatMapPath)));
        Assert.True(await store.MaterializeAsync(heatmap, source.Path, CancellationToken.None));
        var mapPath = store.Resolve(heatmap.FloatMapPath);
        Assert.Equal((long)source.Columns * source.Rows * 4, new FileInfo(mapPath).Length);
        var stored = await HeatmapStore.ReadFloatMapAsync(mapPath, heatmap.Columns, heatmap.Rows, CancellationToken.None);

        // Independent reference: the graph's cam output for the same preprocessed input, straight from an ONNX Runtime session.
        var manifest = ModelManifest.Parse(await File.ReadAllBytesAsync(Path.Combine(RepoPaths.PneumoniaPackage, "manifest.json")));
        var tensor = new Preprocessor().Preprocess(InstanceProcessor.LoadImage(source.Path), manifest.Preprocessing);
        using var session = new InferenceSession(Path.Combine(RepoPaths.PneumoniaPackage, "model.onnx"));
        using var input = OrtValue.CreateTensorValueFromMemory(tensor, [1, 1, 128, 128]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["image"], [input], ["cam"]);
        Assert.Equal([1L, 1, 16, 16], outputs[0].GetTensorTypeAndShape().Shape);
        var cam = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        Assert.True(cam.Max() > cam.Min(), "the cam of a real X-ray is not flat");

        int w = source.Columns, h = source.Rows;
        (int X, int Y)[] points = [(0, 0), (w - 1, h - 1), (w - 1, 0), (0, h - 1), (w / 2, h / 3), (w / 3, h / 2), (17, h - 23), (w - 29, 41)];
        foreach (var (x, y) in points)
        {
            Assert.Equal(Expected(cam, 16, 16, x, y, w, h), stored[y * w + x], 5);
        }
        Assert.All(stored, v => Assert.InRange(v, 0f, 1f));
        Assert.Equal(Math.Clamp(cam.Max(), 0f, 1f), stored.Max(), 2);

        var png = await File.ReadAllBytesAsync(store.Resolve(heatmap.OverlayPngPath));
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        Assert.Equal(w, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
        Assert.Equal(h, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
        Assert.Equal(2, png[25]); // colour type RGB
    }

    [Fact]
    public async Task A_manifest_without_a_cam_output_produces_findings_but_no_heatmap()
    {
        using var folder = new TempDirectory();
        var models = folder.Combine("models");
        var package = InferenceTestModels.CopyPackage(models, "cxr-pneumonia");
        var manifestPath = Path.Combine(package, ModelManifest.FileName);
        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(manifestPath))!.AsObject();
        var outputList = manifest["outputs"]!.AsArray();
        outputList.Remove(outputList.Single(o => (string?)o!["kind"] == "cam"));
        await File.WriteAllTextAsync(manifestPath, manifest.ToJsonString());
        InferenceTestModels.SignWithDevelopmentKey(package);
        var source = await KermanyDicom.CreateAsync(folder.Path, KermanyDicom.PneumoniaSample, reduce: 8);
        using var registry = Registry(models);
        Assert.False(Assert.Single(registry.Models).HasCam);
        var processor = Processor(registry, folder.Combine("storage"), out _);

        var findings = await processor.ProcessAsync(Pending(source), CancellationToken.None);

        var finding = Assert.Single(findings!);
        Assert.InRange(finding.Probability, 0, 1);
        Assert.Null(finding.Heatmap);
        Assert.False(Directory.Exists(folder.Combine("storage", HeatmapStore.FolderName)));
    }

    [Fact]
    public async Task No_heatmap_is_written_when_it_would_take_free_disk_below_the_ingest_watermark()
    {
        using var folder = new TempDirectory();
        var source = await KermanyDicom.CreateAsync(folder.Path, KermanyDicom.PneumoniaSample, reduce: 8);
        using var registry = Registry(RepoPaths.ModelPackages);
        // A watermark no disk can meet: the space is the ingest's, so the finding is kept and the picture is not made.
        var processor = Processor(registry, folder.Combine("storage"), out var store, minFreeDiskMegabytes: 1L << 40);

        var findings = await processor.ProcessAsync(Pending(source), CancellationToken.None);

        var finding = Assert.Single(findings!, f => f.ModelId == "cxr-pneumonia");
        var heatmap = Assert.IsType<HeatmapRecord>(finding.Heatmap);
        Assert.False(await store.MaterializeAsync(heatmap, source.Path, CancellationToken.None));
        Assert.False(Directory.Exists(folder.Combine("storage", HeatmapStore.FolderName)));
    }

    /// <summary>Bilinear sample with pixel centres aligned, written out from the definition (not the appliance's resampler).</summary>
    private static float Expected(float[] map, int mw, int mh, int x, int y, int w, int h)
    {
        static (int, int, double) Weights(int i, int size, int mapSize)
        {
            var s = Math.Min(Math.Max((i + 0.5) * mapSize / size - 0.5, 0), mapSize - 1);
            var lo = (int)Math.Floor(s);
            return (lo, Math.Min(lo + 1, mapSize - 1), s - lo);
        }
        var (x0, x1, fx) = Weights(x, w, mw);
        var (y0, y1, fy) = Weights(y, h, mh);
        double top = map[y0 * mw + x0] * (1 - fx) + map[y0 * mw + x1] * fx;
        double bottom = map[y1 * mw + x0] * (1 - fx) + map[y1 * mw + x1] * fx;
        return (float)(top * (1 - fy) + bottom * fy);
    }

    private static ModelRegistry Registry(string modelsDirectory)
    {
        var registry = new ModelRegistry(InferenceTestModels.Loader(new InferenceOptions { ModelsDirectory = modelsDirectory }), NullLogger<ModelRegistry>.Instance);
        registry.Load(CancellationToken.None);
        return registry;
    }

    private static InstanceProcessor Processor(ModelRegistry registry, string storageRoot, out HeatmapStore store, long minFreeDiskMegabytes = 0)
    {
        var storage = Options.Create(new StorageOptions { Root = storageRoot, MinFreeDiskMegabytes = minFreeDiskMegabytes });
        store = new HeatmapStore(storage, new UidGenerator(Options.Create(new OutputObjectOptions())), new DiskSpace(storage), NullLogger<HeatmapStore>.Instance);
        return new InstanceProcessor(registry, new ModelRouter(Options.Create(new InferenceOptions())), TimeProvider.System, store, NullLogger<InstanceProcessor>.Instance);
    }

    private static PendingInstance Pending(KermanyDicom.Created source) =>
        new(source.SopInstanceUid, source.StudyUid, "CR", "1.2.840.10008.5.1.4.1.1.1", source.Path, DateTimeOffset.UtcNow);
}
