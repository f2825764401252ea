using MedVision.Dicom;
using MedVision.Dicom.Network;
using MedVision.Testing;

namespace MedVision.Edge.Tests.EndToEnd;

/// <summary>
/// A real small filesystem (tmpfs) as the storage root: when free space falls below the watermark, C-STORE gets
/// 0xA700 (out of resources) instead of a half-written file or a crash, and ingest resumes once space is freed.
/// </summary>
public sealed class DiskWatermarkTests
{
    [Fact]
    public async Task Stores_are_refused_below_the_watermark_and_accepted_again_when_space_returns()
    {
        using var mountPoint = new TempDirectory("medvision-tmpfs");
        var mount = await ExternalTool.RunAsync("mount", ["-t", "tmpfs", "-o", "size=48m", "tmpfs", mountPoint.Path]);
        Assert.True(mount.ExitCode == 0, $"This test needs root to mount a tmpfs (CI runs as root): {mount.Combined}");
        try
        {
            var root = Path.Combine(mountPoint.Path, "medvision");
            var filler = Path.Combine(mountPoint.Path, "filler.bin");
            await File.WriteAllBytesAsync(filler, new byte[16 * 1024 * 1024]);
            await using var appliance = await RunningAppliance.StartAsync(new TempDirectory("unused"), $"--MedVision:Storage:Root={root}", "--MedVision:Storage:MinFreeDiskMegabytes=20");

            var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
            using var files = new TempDirectory();
            var statuses = new List<DicomStatus>();
            await using (var client = await ConnectAsync(appliance))
            {
                for (var i = 0; i < 12; i++)
                {
                    // 1008 x 1008 x 16 bit: about 2 MB each.
                    var (path, _, _) = ChestXrayDicom.Create(files.Path, images.Image(i), scale: 36);
                    statuses.Add(await client.StoreAsync(DicomFile.Open(path), CancellationToken.None));
                }
                await client.ReleaseAsync(CancellationToken.None);
            }
            Assert.True(statuses[0].IsSuccess, $"first store: {statuses[0]}");
            Assert.Contains(statuses, s => s.Code == 0xA700);
            var firstRefusal = statuses.FindIndex(s => !s.IsSuccess);
            Assert.All(statuses.Skip(firstRefusal), s => Assert.Equal(0xA700, s.Code));
            var health = await appliance.GetJsonAsync("/healthz");
            Assert.Equal("degraded", health.GetProperty("status").GetString());

            File.Delete(filler);
            var (again, _, _) = ChestXrayDicom.Create(files.Path, images.Image(100), scale: 36);
            await using (var client = await ConnectAsync(appliance))
            {
                var status = await client.StoreAsync(DicomFile.Open(again), CancellationToken.None);
                Assert.True(status.IsSuccess, $"after freeing space: {status}");
                await client.ReleaseAsync(CancellationToken.None);
            }
            var instances = (await appliance.GetJsonAsync("/api/studies")).EnumerateArray().Sum(s => s.GetProperty("instanceCount").GetInt32());
            Assert.Equal(firstRefusal + 1, instances);
        }
        finally
        {
            await ExternalTool.RunAsync("umount", ["-l", mountPoint.Path]);
        }
    }

    private static Task<DicomClient> ConnectAsync(RunningAppliance appliance) =>
        DicomClient.ConnectAsync("127.0.0.1", appliance.DicomPort, "FILLER", "MEDVISION",
            [new PresentationContextProposal(1, "1.2.840.10008.5.1.4.1.1.1", [DicomTransferSyntax.ExplicitVRLittleEndian.Uid])], CancellationToken.None);
}
