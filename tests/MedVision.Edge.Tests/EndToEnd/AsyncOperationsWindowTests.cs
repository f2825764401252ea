using System.Diagnostics;
using MedVision.Dicom;
using MedVision.Dicom.Network;
using MedVision.Testing;
using Xunit.Abstractions;

namespace MedVision.Edge.Tests.EndToEnd;

/// <summary>
/// The appliance granting an asynchronous operations window (MedVision:Dicom:MaxOperationsPerformed): a sender keeps several
/// C-STOREs outstanding on one association, each answered once its instance is durable in the spool and recorded.
/// </summary>
public sealed class AsyncOperationsWindowTests(ITestOutputHelper output)
{
    private const int PerBatch = 150;

    [Fact]
    public async Task Pipelined_stores_into_the_appliance_are_all_durable_and_counted()
    {
        // No models: inference of earlier batches would compete for the CPU with the one being measured, which here is ingest only.
        using var noModels = new TempDirectory("medvision-no-models");
        await using var appliance = await RunningAppliance.StartAsync("--MedVision:Dicom:MaxOperationsPerformed=8", $"--MedVision:Inference:ModelsDirectory={noModels.Path}");
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        using var files = new TempDirectory();
        // A warm-up batch first, so that neither measured one pays for JIT, the first spool slots and the first SQLite writes; then
        // window 1 and window 8 twice, alternating, so that a noisy neighbour on a small machine shows up as disagreement.
        var batches = new[] { 8, 1, 8, 1, 8 }.Select((window, b) => (Window: window, Files: Enumerable.Range(0, PerBatch)
            .Select(i => DicomFile.Open(ChestXrayDicom.Create(files.Path, images.Image((b * PerBatch + i) % 500), scale: 10, studyUid: $"2.25.7700{b}").Path))
            .ToList())).ToList();

        foreach (var (index, (window, batch)) in batches.Index())
        {
            var watch = Stopwatch.StartNew();
            await using var client = await DicomClient.ConnectAsync("127.0.0.1", appliance.DicomPort, "PIPELINE", "MEDVISION",
                [new PresentationContextProposal(1, "1.2.840.10008.5.1.4.1.1.1", [DicomTransferSyntax.ExplicitVRLittleEndian.Uid])],
                CancellationToken.None, maxOperationsInvoked: window);
            Assert.Equal(window, client.OperationsWindow);
            var results = await client.StoreManyAsync(batch, CancellationToken.None);
            await client.ReleaseAsync(CancellationToken.None);
            watch.Stop();
            Assert.All(results, r => Assert.True(r.Status.IsSuccess, $"{r.SopInstanceUid}: {r.Status}"));
            Assert.Equal(batch.Select(f => f.Dataset.GetStringOrDefault(DicomTags.SOPInstanceUID)), results.Select(r => r.SopInstanceUid));
            output.WriteLine($"{(index == 0 ? "warm-up " : string.Empty)}appliance ingest, {PerBatch} × 280×280 CR on one association, window {window}: {watch.Elapsed.TotalMilliseconds:N0} ms ({PerBatch / watch.Elapsed.TotalSeconds:N0}/s)");
        }

        var studies = await appliance.GetJsonAsync("/api/studies");
        foreach (var b in Enumerable.Range(0, batches.Count))
        {
            var study = studies.EnumerateArray().Single(s => s.GetProperty("studyInstanceUid").GetString() == $"2.25.7700{b}");
            Assert.Equal(PerBatch, study.GetProperty("instanceCount").GetInt32());
        }
    }
}
