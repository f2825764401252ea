using MedVision.Testing;
using System.Text.Json.Nodes;
using MedVision.Edge.Inference;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace MedVision.Edge.Tests.Inference;

public sealed class ModelPackageLoaderTests
{
    [Fact]
    public void Tampered_and_broken_packages_are_refused_while_the_good_one_loads()
    {
        using var temp = new TempFolder();
        InferenceTestModels.CopyPackage(temp.Path, "a-good");

        var tampered = InferenceTestModels.CopyPackage(temp.Path, "b-tampered");
        var onnx = Path.Combine(tampered, "model.onnx");
        var bytes = File.ReadAllBytes(onnx);
        bytes[bytes.Length / 2] ^= 0x01;
        File.WriteAllBytes(onnx, bytes);

        var badJson = InferenceTestModels.CopyPackage(temp.Path, "c-bad-json");
        File.WriteAllText(Path.Combine(badJson, "manifest.json"), "{ \"schema\": 1, \"id\": ");
        InferenceTestModels.SignWithDevelopmentKey(badJson);

        var missing = InferenceTestModels.CopyPackage(temp.Path, "d-missing-file");
        File.Delete(Path.Combine(missing, "model.onnx"));

        EditManifest(InferenceTestModels.CopyPackage(temp.Path, "e-wrong-input"), m =>
        {
            m["id"] = "wrong-input";
            m["input"]!["name"] = "pixels";
        });
        EditManifest(InferenceTestModels.CopyPackage(temp.Path, "f-wrong-shape"), m =>
        {
            m["id"] = "wrong-shape";
            m["input"]!["shape"] = new JsonArray(-1, 1, 32, 32);
            m["preprocessing"]!["resize"]!["width"] = 32;
            m["preprocessing"]!["resize"]!["height"] = 32;
        });
        EditManifest(InferenceTestModels.CopyPackage(temp.Path, "g-escapes"), m =>
        {
            m["id"] = "escapes";
            m["file"] = "../a-good/model.onnx";
        });
        EditManifest(InferenceTestModels.CopyPackage(temp.Path, "h-same-id"), _ => { });

        var logs = new CapturingLoggerProvider();
        var result = InferenceTestModels.Loader(logger: logs.CreateLogger<ModelPackageLoader>()).LoadAll(temp.Path, CancellationToken.None);
        try
        {
            var model = Assert.Single(result.Models);
            Assert.Equal("cxr-pneumonia", model.Id);
            Assert.Equal("a-good", Path.GetFileName(model.PackageDirectory));

            Assert.Equal(
                ["b-tampered", "c-bad-json", "d-missing-file", "e-wrong-input", "f-wrong-shape", "g-escapes", "h-same-id"],
                result.Errors.Select(e => e.Package));
            Assert.Contains("sha256", Reason(result, "b-tampered"), StringComparison.Ordinal);
            Assert.Contains("not a valid manifest", Reason(result, "c-bad-json"), StringComparison.Ordinal);
            Assert.Contains("missing", Reason(result, "d-missing-file"), StringComparison.Ordinal);
            Assert.Contains("input spec mismatch", Reason(result, "e-wrong-input"), StringComparison.Ordinal);
            Assert.Contains("input spec mismatch", Reason(result, "f-wrong-shape"), StringComparison.Ordinal);
            Assert.Contains("plain file name", Reason(result, "g-escapes"), StringComparison.Ordinal);
            Assert.Contains("already provides model id", Reason(result, "h-same-id"), StringComparison.Ordinal);

            // Every refusal is logged as an error naming the package.
            var refusals = logs.Entries.Where(e => e.EventId.Id == 2101).ToList();
            Assert.Equal(7, refusals.Count);
            Assert.All(refusals, e => Assert.Equal(LogLevel.Error, e.Level));
            Assert.Contains(refusals, e => e.Message.Contains("b-tampered", StringComparison.Ordinal));
        }
        finally
        {
            foreach (var model in result.Models)
            {
                model.Dispose();
            }
        }
    }

    [Fact]
    public void A_missing_models_directory_is_reported_not_thrown()
    {
        var result = InferenceTestModels.Loader().LoadAll(Path.Combine(Path.GetTempPath(), "no-such-" + Guid.NewGuid().ToString("N")), CancellationToken.None);

        Assert.Empty(result.Models);
        Assert.Single(result.Errors);
    }

    [Fact]
    public void Asking_for_cuda_on_a_cpu_only_machine_falls_back_to_cpu_and_says_so()
    {
        var logs = new CapturingLoggerProvider();
        var options = new InferenceOptions { ExecutionProviders = [ExecutionProviderNames.Cuda, ExecutionProviderNames.Cpu] };

        using var model = InferenceTestModels.Loader(options, logs.CreateLogger<ModelPackageLoader>())
            .LoadPackage(RepoPaths.PneumoniaPackage, CancellationToken.None);

        var cudaPresent = OrtEnv.Instance().GetAvailableProviders().Contains("CUDAExecutionProvider");
        var fallback = logs.Entries.Where(e => e.EventId.Id == 2102).ToList();
        if (!cudaPresent)
        {
            Assert.Equal(ExecutionProviderNames.Cpu, model.ExecutionProvider);
            var entry = Assert.Single(fallback);
            Assert.Equal(LogLevel.Warning, entry.Level);
            Assert.Contains("CUDA", entry.Message, StringComparison.Ordinal);
        }
        else
        {
            // A GPU build: either CUDA really works, or its fallback was logged.
            Assert.True(model.ExecutionProvider == ExecutionProviderNames.Cuda || fallback.Count > 0);
        }
        Assert.Contains(logs.Entries, e => e.EventId.Id == 2100 && e.Message.Contains(model.ExecutionProvider, StringComparison.Ordinal));
        // And it serves.
        Assert.Single(model.Run(new float[model.InputLength]));
    }

    [Fact]
    public void Threshold_overrides_from_configuration_replace_the_manifest_threshold()
    {
        var options = new InferenceOptions();
        options.ThresholdOverrides["cxr-pneumonia"] = new Dictionary<string, double> { ["pneumonia"] = 0.99 };

        using var model = InferenceTestModels.Loader(options).LoadPackage(RepoPaths.PneumoniaPackage, CancellationToken.None);

        var label = Assert.Single(model.Labels);
        Assert.Equal(0.99, label.Threshold);
        Assert.Equal(model.Manifest.Labels[0].Threshold, label.ManifestThreshold);
        var output = Assert.Single(model.Run(new float[model.InputLength]));
        Assert.Equal(0.99, output.Threshold);
        Assert.Equal(output.Probability >= 0.99, output.Positive);
    }

    [Fact]
    public void Registry_routes_by_modality()
    {
        using var temp = new TempFolder();
        InferenceTestModels.CopyPackage(temp.Path, "cxr-pneumonia");
        var options = new InferenceOptions { ModelsDirectory = temp.Path };
        using var registry = new ModelRegistry(InferenceTestModels.Loader(options), Microsoft.Extensions.Logging.Abstractions.NullLogger<ModelRegistry>.Instance);
        Assert.Empty(registry.ModelsFor("CR"));

        registry.Load(CancellationToken.None);

        Assert.True(registry.IsLoaded);
        Assert.Equal("cxr-pneumonia", Assert.Single(registry.ModelsFor("CR")).Id);
        Assert.Single(registry.ModelsFor("dx"));
        Assert.Empty(registry.ModelsFor("CT"));
        Assert.Empty(registry.ModelsFor(null));
        Assert.NotNull(registry.Find("cxr-pneumonia"));
        Assert.Empty(registry.Errors);
    }

    [Fact]
    public void Run_rejects_a_tensor_of_the_wrong_size()
    {
        using var model = InferenceTestModels.Loader().LoadPackage(RepoPaths.PneumoniaPackage, CancellationToken.None);

        Assert.Throws<ArgumentException>(() => model.Run(new float[10]));
    }

    private static string Reason(ModelLoadResult result, string package) =>
        result.Errors.Single(e => e.Package == package).Reason;

    private static void EditManifest(string packageDirectory, Action<JsonNode> edit)
    {
        var path = Path.Combine(packageDirectory, "manifest.json");
        var manifest = JsonNode.Parse(File.ReadAllText(path))!;
        edit(manifest);
        File.WriteAllText(path, manifest.ToJsonString());
        // Re-signed, so the package gets past the signature check to the check it is built to fail.
        InferenceTestModels.SignWithDevelopmentKey(packageDirectory);
    }
}
