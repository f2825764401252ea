using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using MedVision.Testing;
using Xunit.Abstractions;

namespace MedVision.Edge.Tests.EndToEnd;

/// <summary>
/// A new version of a served model dropped into the models folder while studies stream in: it is verified and
/// swapped in at one point without losing or failing a study; a tampered version is refused and reported while
/// the serving one carries on.
/// </summary>
public sealed class ModelHotSwapTests(ITestOutputHelper output)
{
    [Fact]
    public async Task New_version_swaps_in_under_load_and_a_tampered_one_is_refused()
    {
        using var models = new TempDirectory("medvision-models");
        using var staging = new TempDirectory("medvision-staging");
        CopyPackage(RepoPaths.PneumoniaPackage, models.Combine("cxr-pneumonia"));
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(RepoPaths.PneumoniaPackage, "manifest.json")))!;
        var oldVersion = (string)manifest["version"]!;
        var major = int.Parse(oldVersion.Split('.')[0], CultureInfo.InvariantCulture);
        var newVersion = $"{major + 1}.0.0";
        var tamperedVersion = $"{major + 2}.0.0";

        await using var appliance = await RunningAppliance.StartAsync(
            $"--MedVision:Inference:ModelsDirectory={models.Path}",
            "--MedVision:ModelUpdates:ScanSeconds=0.5",
            $"--MedVision:ModelUpdates:GoldenDataDirectory={RepoPaths.SharedData}");
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        using var dicom = new TempDirectory("medvision-stream");

        var sent = new List<string>();
        using var stop = new CancellationTokenSource();
        var sender = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested || sent.Count < 3; i++)
            {
                var file = ChestXrayDicom.Create(dicom.Path, images.Image(i % images.Shape[0]), scale: 2);
                var store = await ExternalTool.RunAsync("storescu", ["-aec", "MEDVISION", "127.0.0.1", appliance.DicomPortText, file.Path]);
                Assert.True(store.ExitCode == 0, store.Combined);
                lock (sent)
                {
                    sent.Add(file.SopInstanceUid);
                }
            }
        });

        await WaitForFindingsAsync(appliance, 3);
        var v2 = staging.Combine("v2");
        await MakeVersionAsync(RepoPaths.PneumoniaPackage, v2, newVersion);
        Directory.Move(v2, models.Combine("cxr-pneumonia-" + newVersion));
        await appliance.WaitForAsync("/healthz", h => h.GetProperty("models").ToString().Contains(newVersion, StringComparison.Ordinal), TimeSpan.FromSeconds(60));

        var v3 = staging.Combine("v3");
        await MakeVersionAsync(RepoPaths.PneumoniaPackage, v3, tamperedVersion);
        var onnx = Path.Combine(v3, "model.onnx");
        var bytes = await File.ReadAllBytesAsync(onnx);
        bytes[^10] ^= 0xFF;
        await File.WriteAllBytesAsync(onnx, bytes);
        Directory.Move(v3, models.Combine("cxr-pneumonia-" + tamperedVersion));
        var health = await appliance.WaitForAsync("/healthz", h => h.GetProperty("modelErrors").GetArrayLength() > 0, TimeSpan.FromSeconds(60));
        var error = health.GetProperty("modelErrors")[0];
        Assert.Equal("cxr-pneumonia-" + tamperedVersion, error.GetProperty("package").GetString());
        Assert.Contains("sha256", error.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains(newVersion, health.GetProperty("models").ToString(), StringComparison.Ordinal);

        var before = sent.Count;
        while (sent.Count < before + 3)
        {
            await Task.Delay(100);
        }
        await stop.CancelAsync();
        await sender;

        var findings = await WaitForFindingsAsync(appliance, sent.Count);
        var versions = findings.OrderBy(f => f.GetProperty("id").GetInt64()).Select(f => f.GetProperty("modelVersion").GetString()!).ToList();
        output.WriteLine($"{sent.Count} instances sent: {string.Join(" ", versions.Select(v => v == oldVersion ? "o" : v == newVersion ? "N" : "?"))}");
        Assert.Equal(sent.Order(StringComparer.Ordinal), findings.Select(f => f.GetProperty("sopInstanceUid").GetString()!).Order(StringComparer.Ordinal));
        Assert.All(versions, v => Assert.True(v == oldVersion || v == newVersion, v));
        var switchAt = versions.IndexOf(newVersion);
        Assert.True(switchAt > 0, "the new version never served");
        Assert.All(versions.Skip(switchAt), v => Assert.Equal(newVersion, v));
        var studies = await appliance.GetJsonAsync("/api/studies?limit=1000");
        Assert.Equal(sent.Count, studies.GetArrayLength());
        Assert.All(studies.EnumerateArray(), s => Assert.NotEqual("failed", s.GetProperty("status").GetString()));
    }

    private static async Task<List<JsonElement>> WaitForFindingsAsync(RunningAppliance appliance, int count)
    {
        var findings = await appliance.WaitForAsync("/api/findings?limit=1000", f => f.GetArrayLength() >= count, TimeSpan.FromSeconds(90));
        return [.. findings.EnumerateArray()];
    }

    /// <summary>A copy of the package with another version, re-signed with the development key by the factory's sign.py.</summary>
    private static async Task MakeVersionAsync(string source, string destination, string version)
    {
        CopyPackage(source, destination);
        var path = Path.Combine(destination, "manifest.json");
        var json = JsonNode.Parse(await File.ReadAllTextAsync(path))!;
        json["version"] = version;
        foreach (var sample in json["golden"]!.AsArray())
        {
            // Packages from before the golden 'data' member recorded PneumoniaMNIST test images (see GoldenParityTests).
            sample!["data"] ??= "medmnist/pneumoniamnist.npz";
        }
        await File.WriteAllTextAsync(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        var sign = await ExternalTool.RunAsync("/usr/bin/python3", [Path.Combine(RepoPaths.Root, "models", "sign.py"), "sign", destination], TimeSpan.FromSeconds(60));
        Assert.True(sign.ExitCode == 0, sign.Combined);
    }

    private static void CopyPackage(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (var file in Directory.GetFiles(source))
        {
            File.Copy(file, Path.Combine(destination, Path.GetFileName(file)));
        }
    }
}
