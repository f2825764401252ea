using System.Security.Cryptography;
using System.Text.Json.Nodes;
using MedVision.Edge.Inference;
using MedVision.Edge.Tests.Inference;
using MedVision.Testing;
using Xunit.Abstractions;

namespace MedVision.Edge.Tests.Models;

/// <summary>
/// Runs models/smoke.sh once (the whole factory for every recipe on a tiny subset, 1 epoch, into a temp folder),
/// signing with a key pair made here for the run, as a site would with its production key.
/// </summary>
public sealed class SmokeFactoryRun : IAsyncLifetime
{
    private readonly TempDirectory _temp = new("medvision-model-smoke");

    public string Output => _temp.Combine("packages");

    public string PublicKeyPem { get; private set; } = "";

    public ToolResult Result { get; private set; } = new(-1, "", "");

    public TimeSpan Elapsed { get; private set; }

    public async Task InitializeAsync()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var privatePath = _temp.Combine("site-signing-key.pem");
        await File.WriteAllTextAsync(privatePath, key.ExportPkcs8PrivateKeyPem());
        PublicKeyPem = key.ExportSubjectPublicKeyInfoPem();

        var started = DateTime.UtcNow;
        Result = await ExternalTool.RunAsync("bash", [Path.Combine(RepoPaths.Root, "models", "smoke.sh"), Output],
            TimeSpan.FromMinutes(6), RepoPaths.Root,
            new Dictionary<string, string> { ["MEDVISION_MODEL_SIGNING_KEY"] = privatePath });
        Elapsed = DateTime.UtcNow - started;
    }

    public Task DisposeAsync()
    {
        _temp.Dispose();
        return Task.CompletedTask;
    }
}

public sealed class ModelFactorySmokeTests(SmokeFactoryRun run, ITestOutputHelper output) : IClassFixture<SmokeFactoryRun>
{
    public static TheoryData<string> Models => new() { "cxr-pneumonia", "us-breast-lesion" };

    [Fact]
    public void Smoke_run_succeeds_within_two_minutes()
    {
        output.WriteLine(run.Result.Combined);
        Assert.True(run.Result.ExitCode == 0, $"models/smoke.sh failed ({run.Result.ExitCode}):\n{run.Result.Combined}");
        // The budget is two minutes of work; judged on CPU time because the test suite shares its cores with
        // other test classes running at the same time, which stretches the wall clock but not the work.
        var cpu = SmokeCpu(run.Result.StandardOutput);
        output.WriteLine($"smoke: wall {run.Elapsed.TotalSeconds:F0} s, CPU {cpu.TotalSeconds:F0} s");
        Assert.True(cpu < TimeSpan.FromMinutes(2), $"smoke run used {cpu} of CPU (wall {run.Elapsed})");
        Assert.Contains("onnx.checker (full_check) passed", run.Result.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("DEVELOPMENT key", run.Result.Combined, StringComparison.Ordinal);
    }

    /// <summary>User + system CPU of the smoke script's children, from the bash <c>times</c> line it prints last.</summary>
    private static TimeSpan SmokeCpu(string stdout)
    {
        var line = stdout.Split('\n').Last(l => l.StartsWith("== smoke: done", StringComparison.Ordinal));
        var times = System.Text.RegularExpressions.Regex.Matches(line, @"(\d+)m([\d.]+)s");
        Assert.Equal(2, times.Count);
        return TimeSpan.FromSeconds(times.Sum(m =>
            int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) * 60
            + double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Smoke_package_loads_with_the_site_key_and_matches_its_manifest(string id)
    {
        Assert.True(run.Result.ExitCode == 0, run.Result.Combined);
        var package = Path.Combine(run.Output, id);
        foreach (var file in new[] { "model.onnx", "manifest.json", "manifest.sig", "MODEL_CARD.md", "calibration.png", "cam_examples.png" })
        {
            Assert.True(File.Exists(Path.Combine(package, file)), $"{id}: {file} missing");
        }
        var logs = new CapturingLoggerProvider();
        var loader = InferenceTestModels.Loader(new InferenceOptions { SigningPublicKeys = [run.PublicKeyPem] },
            logs.CreateLogger<ModelPackageLoader>());

        using var model = loader.LoadPackage(package, CancellationToken.None);

        Assert.Equal(id, model.Id);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(package, "model.onnx")))), model.Sha256);
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(package, "manifest.json")))!;
        var size = (int)manifest["preprocessing"]!["resize"]!["width"]!;
        Assert.Equal([-1L, 1, size, size], model.Manifest.Input.Shape);
        Assert.Equal(["probability", "cam"], model.Manifest.Outputs.Select(o => o.Name));
        Assert.Equal([OutputKinds.Probability, OutputKinds.Cam], model.Manifest.Outputs.Select(o => o.Kind));
        Assert.True(manifest["training"]!["smoke"]!.GetValue<bool>());
        var label = Assert.Single(model.Manifest.Labels);
        Assert.True(label.HighSensitivityThreshold <= label.Threshold);
        var signed = Assert.Single(logs.Entries, e => e.EventId.Id == 2107);
        using (var key = ECDsa.Create())
        {
            key.ImportFromPem(run.PublicKeyPem);
            Assert.Contains(ModelSignature.Fingerprint(key), signed.Message, StringComparison.Ordinal);
        }

        var tensor = new float[model.InputLength];
        var maxDelta = PackageChecks.MaxGoldenDelta(model, package);
        output.WriteLine($"{id}: golden max |dp| {maxDelta:E2}");
        var images = Npz.ReadUInt8(Path.Combine(RepoPaths.SharedData, (string)manifest["golden"]![0]!["data"]!), "test_images");
        new Preprocessor().Preprocess(
            new GrayscaleImage(images.Shape[2], images.Shape[1], images.Image(0).Select(b => (float)b).ToArray(), Monochrome1: false),
            model.Manifest.Preprocessing, tensor);
        PackageChecks.CheckCam(package, model, tensor);
    }

    [Fact]
    public void Smoke_package_is_refused_by_an_appliance_that_trusts_only_the_development_key()
    {
        Assert.True(run.Result.ExitCode == 0, run.Result.Combined);

        var error = Assert.Throws<ModelPackageException>(() =>
            InferenceTestModels.Loader().LoadPackage(Path.Combine(run.Output, "cxr-pneumonia"), CancellationToken.None));

        Assert.Contains("signature check failed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tampered_copies_of_the_smoke_package_are_refused_with_the_reason()
    {
        Assert.True(run.Result.ExitCode == 0, run.Result.Combined);
        using var temp = new TempDirectory("medvision-model-tamper");
        string Copy(string name)
        {
            var target = temp.Combine(name);
            Directory.CreateDirectory(target);
            foreach (var file in Directory.GetFiles(Path.Combine(run.Output, "us-breast-lesion")))
            {
                File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
            }
            return target;
        }

        Copy("a-intact");
        var threshold = Copy("b-threshold-edited");
        var manifestPath = Path.Combine(threshold, "manifest.json");
        var text = File.ReadAllText(manifestPath);
        var edited = text.Replace("\"threshold\": 0.", "\"threshold\": 0.0", StringComparison.Ordinal);
        Assert.NotEqual(text, edited);
        File.WriteAllText(manifestPath, edited);
        var flipped = Copy("c-signature-flipped");
        var sig = File.ReadAllBytes(Path.Combine(flipped, "manifest.sig"));
        sig[^3] ^= 0x40;
        File.WriteAllBytes(Path.Combine(flipped, "manifest.sig"), sig);
        File.Delete(Path.Combine(Copy("d-unsigned"), "manifest.sig"));
        var onnx = Path.Combine(Copy("e-onnx-altered"), "model.onnx");
        var bytes = File.ReadAllBytes(onnx);
        bytes[bytes.Length / 3] ^= 0x01;
        File.WriteAllBytes(onnx, bytes);

        var result = InferenceTestModels.Loader(new InferenceOptions { SigningPublicKeys = [run.PublicKeyPem] })
            .LoadAll(temp.Path, CancellationToken.None);
        try
        {
            Assert.Equal("a-intact", Path.GetFileName(Assert.Single(result.Models).PackageDirectory));
            var reasons = result.Errors.ToDictionary(e => e.Package, e => e.Reason);
            Assert.Equal(["b-threshold-edited", "c-signature-flipped", "d-unsigned", "e-onnx-altered"], reasons.Keys);
            Assert.Contains("signature check failed", reasons["b-threshold-edited"], StringComparison.Ordinal);
            Assert.Contains("signature check failed", reasons["c-signature-flipped"], StringComparison.Ordinal);
            Assert.Contains("manifest.sig is missing: the package is unsigned", reasons["d-unsigned"], StringComparison.Ordinal);
            Assert.Contains("sha256", reasons["e-onnx-altered"], StringComparison.Ordinal);
        }
        finally
        {
            foreach (var model in result.Models)
            {
                model.Dispose();
            }
        }
    }
}
