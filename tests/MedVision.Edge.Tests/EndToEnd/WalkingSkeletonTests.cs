using System.Text.Json;
using MedVision.Dicom;
using MedVision.Dicom.IO;
using MedVision.Dicom.Network;
using MedVision.Edge.Inference;
using MedVision.Edge.Ingest;
using MedVision.Testing;

namespace MedVision.Edge.Tests.EndToEnd;

/// <summary>
/// Modality to finding, with dcmtk's storescu as the modality: the appliance stores the chest X-ray, runs the shipped
/// model and serves a finding whose probability equals the one recorded at training time.
/// </summary>
public sealed class WalkingSkeletonTests
{
    private static readonly TimeSpan FindingTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Storescu_chest_xray_becomes_a_finding_with_the_trained_probability()
    {
        await using var appliance = await RunningAppliance.StartAsync();
        var manifest = ModelManifest.Parse(await File.ReadAllBytesAsync(Path.Combine(RepoPaths.ModelPackages, "cxr-pneumonia", "manifest.json")));
        // Golden images whose probability is not saturated, so a preprocessing error would show.
        var golden = manifest.Golden!.OrderBy(g => Math.Abs(g.Probability - 0.5)).First();
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        using var files = new TempDirectory();
        // At its own 28 px (scale 1): the golden value is for that image, and a 128 px model sees a 10x replicated
        // copy differently (area resize from 280 px is not the same as from 28 px).
        var (path, studyUid, sopInstanceUid) = ChestXrayDicom.Create(files.Path, images.Image(golden.Index), scale: 1);

        var echo = await ExternalTool.RunAsync("echoscu", ["-aec", "MEDVISION", "127.0.0.1", appliance.DicomPortText]);
        Assert.True(echo.ExitCode == 0, echo.Combined);
        var store = await ExternalTool.RunAsync("storescu", ["-aec", "MEDVISION", "127.0.0.1", appliance.DicomPortText, path]);
        Assert.True(store.ExitCode == 0, store.Combined);

        var findings = await appliance.WaitForAsync($"/api/findings?study={studyUid}", f => f.GetArrayLength() > 0, FindingTimeout);
        var finding = findings[0];
        Assert.Equal(studyUid, finding.GetProperty("studyInstanceUid").GetString());
        Assert.Equal(sopInstanceUid, finding.GetProperty("sopInstanceUid").GetString());
        Assert.Equal("cxr-pneumonia", finding.GetProperty("modelId").GetString());
        Assert.Equal(manifest.Version, finding.GetProperty("modelVersion").GetString());
        Assert.Equal(manifest.Sha256, finding.GetProperty("modelSha256").GetString());
        Assert.Equal("pneumonia", finding.GetProperty("label").GetString());
        Assert.Equal("CPU", finding.GetProperty("executionProvider").GetString());
        var probability = finding.GetProperty("probability").GetDouble();
        Assert.InRange(probability, golden.Probability - 1e-4, golden.Probability + 1e-4);
        var threshold = finding.GetProperty("threshold").GetDouble();
        Assert.Equal(manifest.Labels[0].Threshold, threshold, 6);
        Assert.Equal(probability >= threshold, finding.GetProperty("positive").GetBoolean());

        var studies = await appliance.GetJsonAsync("/api/studies");
        var study = studies.EnumerateArray().Single(s => s.GetProperty("studyInstanceUid").GetString() == studyUid);
        Assert.Equal("CR", study.GetProperty("modality").GetString());
        Assert.Equal(1, study.GetProperty("instanceCount").GetInt32());
        Assert.Equal("processed", study.GetProperty("status").GetString());

        var metrics = await appliance.Http.GetStringAsync("/metrics");
        Assert.True(metrics.Contains("medvision_edge_ingest_dicom_instances_stored 1", StringComparison.Ordinal), metrics);
        Assert.Contains("medvision_edge_ingest_spool_depth 0", metrics, StringComparison.Ordinal);

        // The stored instance is the file dcmtk sent, durable in the spool.
        var spooled = MedVision.Edge.Tests.Ingest.SpoolFiles.BySopInstance(appliance.Data.Path)[sopInstanceUid].Single();
        var dump = await ExternalTool.RunAsync("dcmdump", [spooled]);
        Assert.True(dump.ExitCode == 0, dump.Combined);
        Assert.Contains(studyUid, dump.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Non_dicom_and_truncated_data_sets_get_failure_statuses_and_the_service_stays_up()
    {
        await using var appliance = await RunningAppliance.StartAsync();
        const string crStorage = "1.2.840.10008.5.1.4.1.1.1";
        await using (var client = await DicomClient.ConnectAsync("127.0.0.1", appliance.DicomPort, "JUNKSCU", "MEDVISION",
            [new PresentationContextProposal(1, crStorage, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid])], CancellationToken.None))
        {
            var junk = await client.StoreRawAsync(crStorage, "2.25.1", "%PDF-1.4 this is not a DICOM data set at all"u8.ToArray(), CancellationToken.None);
            Assert.True(junk.IsFailure, $"junk got {junk}");

            using var files = new TempDirectory();
            var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
            var (path, _, sopInstanceUid) = ChestXrayDicom.Create(files.Path, images.Image(0));
            var whole = new MemoryStream();
            DicomWriter.WriteDataset(whole, DicomFile.Open(path).Dataset, DicomTransferSyntax.ExplicitVRLittleEndian);
            var truncated = whole.ToArray().AsMemory(0, (int)(whole.Length / 2));
            var status = await client.StoreRawAsync(crStorage, sopInstanceUid, truncated, CancellationToken.None);
            Assert.Equal(0xC000, status.Code);
            // Parses, but is not the instance the command announced.
            var mismatch = await client.StoreRawAsync(crStorage, "2.25.2", whole.ToArray(), CancellationToken.None);
            Assert.Equal(0xA900, mismatch.Code);
            await client.ReleaseAsync(CancellationToken.None);
        }

        // Nothing was lost: the refused data sets are kept with their reasons.
        var rejectedFolder = Path.Combine(appliance.Data.Path, "spool", "rejected");
        var rejected = Directory.GetFiles(rejectedFolder, "*.txt");
        Assert.Equal(3, rejected.Length);
        Assert.Contains(rejected, r => File.ReadAllText(r).Contains("Truncated", StringComparison.OrdinalIgnoreCase));
        Assert.Contains(rejected, r => File.ReadAllText(r).Contains("differs from the command", StringComparison.Ordinal));
        // The receiver writes the completion proof before it checks, and takes it back from what it refuses: none of the
        // kept files may pass for an acknowledged instance if a power cut undid its move out of the spool.
        foreach (var kept in Directory.GetFiles(rejectedFolder, "*.dcm"))
        {
            var (proven, reason) = await SpoolProof.VerifyAsync(kept, CancellationToken.None);
            Assert.False(proven, $"{kept} still carries a completion proof");
            Assert.Contains("never written", reason, StringComparison.Ordinal);
        }

        var echo = await ExternalTool.RunAsync("echoscu", ["-aec", "MEDVISION", "127.0.0.1", appliance.DicomPortText]);
        Assert.True(echo.ExitCode == 0, echo.Combined);
        var health = await appliance.GetJsonAsync("/healthz");
        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.Empty((await appliance.GetJsonAsync("/api/findings")).EnumerateArray());
    }

    [Fact]
    public async Task Instances_received_before_a_restart_are_processed_after_it()
    {
        using var data = new TempDirectory("medvision-edge");
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        using var files = new TempDirectory();
        var (path, studyUid, _) = ChestXrayDicom.Create(files.Path, images.Image(1));

        // First life: no model loads, so the instance is stored and acknowledged but waits in the queue.
        var first = await RunningAppliance.StartAsync(data, "--MedVision:Inference:ModelsDirectory=" + files.Combine("no-models"));
        var store = await ExternalTool.RunAsync("storescu", ["-aec", "MEDVISION", "127.0.0.1", first.DicomPortText, path]);
        Assert.True(store.ExitCode == 0, store.Combined);

        var waiting = await first.GetJsonAsync("/api/studies");
        Assert.Equal("receiving", waiting.EnumerateArray().Single().GetProperty("status").GetString());
        await first.StopAsync();

        await using var second = await RunningAppliance.StartAsync(data);
        var findings = await second.WaitForAsync($"/api/findings?study={studyUid}", f => f.GetArrayLength() == 1, FindingTimeout);
        Assert.Equal("pneumonia", findings[0].GetProperty("label").GetString());
    }
}
