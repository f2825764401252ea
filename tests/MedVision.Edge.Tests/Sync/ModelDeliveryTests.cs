using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using MedVision.Cloud.Tests;
using MedVision.Edge.Tests.EndToEnd;
using MedVision.Testing;

namespace MedVision.Edge.Tests.Sync;

/// <summary>
/// A model package offered by the hub is downloaded in chunks, verified, hot-swapped in and reported active; a
/// corrupted package (ONNX altered after signing) is rejected, reported, and the serving version carries on.
/// </summary>
public sealed class ModelDeliveryTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Offered_package_becomes_active_and_a_corrupted_one_is_rejected_and_reported()
    {
        using var models = new TempDirectory("medvision-models");
        using var staging = new TempDirectory("medvision-packages");
        CopyDirectory(RepoPaths.PneumoniaPackage, models.Combine("cxr-pneumonia"));
        var major = int.Parse(((string)JsonNode.Parse(File.ReadAllText(Path.Combine(RepoPaths.PneumoniaPackage, "manifest.json")))!["version"]!).Split('.')[0], CultureInfo.InvariantCulture);
        var good = $"{major + 1}.0.0";
        var bad = $"{major + 2}.0.0";

        await using var hub = await RunningHub.StartAsync();
        var token = await hub.CreateEnrolmentTokenAsync("site-models");
        await using var appliance = await RunningAppliance.StartAsync(CloudSyncEndToEndTests.ApplianceArgs(hub, hub.MqttPort, token.Token,
            $"--MedVision:Inference:ModelsDirectory={models.Path}",
            "--MedVision:ModelUpdates:ScanSeconds=0.5",
            $"--MedVision:ModelUpdates:GoldenDataDirectory={RepoPaths.SharedData}"));
        await hub.WaitForAsync("/api/fleet", f => f.EnumerateArray().Any(d => d.GetProperty("status").GetString() == "online"), Timeout);

        var goodZip = await PackageZipAsync(staging, good, corrupt: false);
        var goodId = await UploadAndOfferAsync(hub, $"cxr-pneumonia-{good}", goodZip, token.DeviceId);
        var updates = await hub.WaitForAsync("/api/model-updates", u => u.EnumerateArray().Any(x => Id(x) == goodId), Timeout);
        var update = updates.EnumerateArray().Single(x => Id(x) == goodId).GetProperty("update");
        Assert.True(update.GetProperty("status").GetString() == "active", update.ToString());
        Assert.Equal(good, update.GetProperty("modelVersion").GetString());
        var health = await appliance.GetJsonAsync("/healthz");
        Assert.Contains(good, health.GetProperty("models").ToString(), StringComparison.Ordinal);

        var badZip = await PackageZipAsync(staging, bad, corrupt: true);
        var badId = await UploadAndOfferAsync(hub, $"cxr-pneumonia-{bad}", badZip, token.DeviceId);
        updates = await hub.WaitForAsync("/api/model-updates", u => u.EnumerateArray().Any(x => Id(x) == badId), Timeout);
        update = updates.EnumerateArray().Single(x => Id(x) == badId).GetProperty("update");
        Assert.Equal("rejected", update.GetProperty("status").GetString());
        Assert.Contains("sha256", update.GetProperty("reason").GetString(), StringComparison.OrdinalIgnoreCase);
        health = await appliance.GetJsonAsync("/healthz");
        Assert.Contains(good, health.GetProperty("models").ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(bad, health.GetProperty("models").ToString(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(models.Combine($"cxr-pneumonia-{bad}")), "the rejected package reached the models folder");
    }

    private static string? Id(JsonElement x) => x.GetProperty("update").GetProperty("packageId").GetString();

    private static async Task<string> UploadAndOfferAsync(RunningHub hub, string name, byte[] zip, string deviceId)
    {
        using var upload = await hub.Http.PostAsync($"/api/models?name={name}", new ByteArrayContent(zip));
        Assert.True(upload.IsSuccessStatusCode, await upload.Content.ReadAsStringAsync());
        var packageId = JsonDocument.Parse(await upload.Content.ReadAsStringAsync()).RootElement.GetProperty("packageId").GetString()!;
        using var offer = await hub.Http.PostAsync($"/api/models/{packageId}/offer",
            new StringContent(JsonSerializer.Serialize(new { deviceIds = new[] { deviceId } }), System.Text.Encoding.UTF8, "application/json"));
        Assert.True(offer.IsSuccessStatusCode, await offer.Content.ReadAsStringAsync());
        return packageId;
    }

    /// <summary>The shipped package as another version, re-signed with the development key; optionally its ONNX altered afterwards.</summary>
    private static async Task<byte[]> PackageZipAsync(TempDirectory staging, string version, bool corrupt)
    {
        var folder = staging.Combine(version);
        CopyDirectory(RepoPaths.PneumoniaPackage, folder);
        var path = Path.Combine(folder, "manifest.json");
        var json = JsonNode.Parse(await File.ReadAllTextAsync(path))!;
        json["version"] = version;
        foreach (var sample in json["golden"]!.AsArray())
        {
            sample!["data"] ??= "medmnist/pneumoniamnist.npz";
        }
        await File.WriteAllTextAsync(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        var sign = await ExternalTool.RunAsync("/usr/bin/python3", [Path.Combine(RepoPaths.Root, "models", "sign.py"), "sign", folder], TimeSpan.FromSeconds(60));
        Assert.True(sign.ExitCode == 0, sign.Combined);
        if (corrupt)
        {
            var onnx = Path.Combine(folder, "model.onnx");
            var bytes = await File.ReadAllBytesAsync(onnx);
            bytes[^10] ^= 0xFF;
            await File.WriteAllBytesAsync(onnx, bytes);
        }
        var zip = staging.Combine(version + ".zip");
        ZipFile.CreateFromDirectory(folder, zip);
        return await File.ReadAllBytesAsync(zip);
    }

    private static void CopyDirectory(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (var file in Directory.GetFiles(source))
        {
            File.Copy(file, Path.Combine(destination, Path.GetFileName(file)));
        }
    }
}
