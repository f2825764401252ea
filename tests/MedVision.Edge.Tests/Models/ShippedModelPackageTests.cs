using System.Security.Cryptography;
using System.Text.Json.Nodes;
using MedVision.Edge.Inference;
using MedVision.Edge.Tests.Inference;
using MedVision.Testing;
using Xunit.Abstractions;

namespace MedVision.Edge.Tests.Models;

/// <summary>The packages in models/packages: signed, within the size and latency budget, reproducing their golden set.</summary>
public sealed class ShippedModelPackageTests(ITestOutputHelper output)
{
    private const long MaxOnnxBytes = 20L * 1024 * 1024;
    private const double MaxLatencyMs = 10.0;

    public static TheoryData<string> Packages => new() { "cxr-pneumonia", "us-breast-lesion" };

    [Fact]
    public void Every_shipped_package_loads_with_the_default_development_key()
    {
        var logs = new CapturingLoggerProvider();
        var result = InferenceTestModels.Loader(logger: logs.CreateLogger<ModelPackageLoader>())
            .LoadAll(RepoPaths.ModelPackages, CancellationToken.None);
        try
        {
            Assert.Empty(result.Errors);
            Assert.Equal(["cxr-pneumonia", "us-breast-lesion"], result.Models.Select(m => m.Id));
            Assert.Contains(logs.Entries, e => e.EventId.Id == 2110);
            using var devKey = ECDsa.Create();
            devKey.ImportFromPem(File.ReadAllText(Path.Combine(RepoPaths.Root, "models", "keys", "dev-signing-key.pub")));
            var fingerprint = ModelSignature.Fingerprint(devKey);
            Assert.Equal(2, logs.Entries.Count(e => e.EventId.Id == 2107 && e.Message.Contains(fingerprint, StringComparison.Ordinal)));
        }
        finally
        {
            foreach (var model in result.Models)
            {
                model.Dispose();
            }
        }
    }

    [Theory]
    [MemberData(nameof(Packages))]
    public void Shipped_package_reproduces_its_golden_set_and_has_a_cam(string id)
    {
        var package = Path.Combine(RepoPaths.ModelPackages, id);
        using var model = InferenceTestModels.Loader().LoadPackage(package, CancellationToken.None);
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(package, ModelManifest.FileName)))!;

        var maxDelta = PackageChecks.MaxGoldenDelta(model, package);
        output.WriteLine($"{id}: {model.Manifest.Golden!.Count} golden samples, max |dp| {maxDelta:E2}");
        // Golden samples were picked so that most are informative (not saturated).
        var unsaturated = model.Manifest.Golden!.Count(g => g.Probability is > 0.02 and < 0.98);
        Assert.True(unsaturated >= model.Manifest.Golden!.Count / 2, $"{id}: only {unsaturated} golden probabilities in (0.02, 0.98)");

        var label = Assert.Single(model.Manifest.Labels);
        Assert.True(label.HighSensitivityThreshold <= label.Threshold);
        var coding = manifest["labels"]![0]!["coding"]!;
        Assert.Equal("http://snomed.info/sct", (string)coding["system"]!);
        Assert.Equal(id == "cxr-pneumonia" ? "233604007" : "254837009", (string)coding["code"]!);
        Assert.False(manifest["training"]!["smoke"]!.GetValue<bool>());

        var golden = model.Manifest.Golden![0];
        var images = Npz.ReadUInt8(Path.Combine(RepoPaths.SharedData, (string)manifest["golden"]![0]!["data"]!), "test_images");
        var tensor = new Preprocessor().Preprocess(
            new GrayscaleImage(images.Shape[2], images.Shape[1], images.Image(golden.Index).Select(b => (float)b).ToArray(), Monochrome1: false),
            model.Manifest.Preprocessing);
        PackageChecks.CheckCam(package, model, tensor);
    }

    [Theory]
    [MemberData(nameof(Packages))]
    public void Shipped_model_is_small_and_fast_on_one_cpu_thread(string id)
    {
        var package = Path.Combine(RepoPaths.ModelPackages, id);
        var manifest = ModelManifest.Parse(File.ReadAllBytes(Path.Combine(package, ModelManifest.FileName)));
        var onnx = Path.Combine(package, manifest.File);
        var bytes = new FileInfo(onnx).Length;

        var (wall, cpu) = PackageChecks.Latency(onnx, manifest.Input.Name, (int)manifest.Input.Shape[2], (int)manifest.Input.Shape[3]);

        output.WriteLine($"{id}: {bytes} bytes; per image (probability + cam), ONNX Runtime CPU, 1 thread: "
            + $"median wall {wall:F3} ms, mean thread CPU {cpu:F3} ms");
        Assert.True(bytes <= MaxOnnxBytes, $"{id}: {bytes} bytes");
        // CPU time, not wall time: the limit is about the model, and CI shares its cores with other jobs.
        Assert.True(cpu <= MaxLatencyMs, $"{id}: {cpu:F2} ms CPU per image (wall median {wall:F2} ms)");
    }
}
