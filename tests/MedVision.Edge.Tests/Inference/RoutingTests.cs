using MedVision.Edge.Tests.EndToEnd;
using MedVision.Testing;

namespace MedVision.Edge.Tests.Inference;

/// <summary>
/// Routing beyond modality: the chest model's package takes CHEST, PA/AP, CR/DX SOP classes; a site can override. Checked on the
/// running appliance with dcmtk as the modality.
/// </summary>
public sealed class RoutingTests
{
    private const string UsImageStorage = "1.2.840.10008.5.1.4.1.1.6.1";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Package_routing_skips_other_body_parts_and_views_and_keeps_images_that_lack_them()
    {
        await using var appliance = await RunningAppliance.StartAsync();
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        using var files = new TempDirectory();
        var knee = ChestXrayDicom.Create(files.Path, images.Image(1), scale: 1, bodyPart: "KNEE");
        var lateral = ChestXrayDicom.Create(files.Path, images.Image(2), scale: 1, view: "LL");
        var chest = ChestXrayDicom.Create(files.Path, images.Image(3), scale: 1);
        // Empty Body Part Examined and View Position: common on real CR, so the image is offered rather than lost.
        var unlabelled = ChestXrayDicom.Create(files.Path, images.Image(4), scale: 1, bodyPart: "", view: "");
        // The breast model takes US Image Storage only: a US image stored under the CR SOP class is not offered to it.
        var ultrasound = ChestXrayDicom.Create(files.Path, images.Image(5), scale: 1, modality: "US", bodyPart: "BREAST", sopClassUid: UsImageStorage);
        var wrongClass = ChestXrayDicom.Create(files.Path, images.Image(5), scale: 1, modality: "US", bodyPart: "BREAST");

        var sent = await ExternalTool.RunAsync("storescu", ["-aec", "MEDVISION", "127.0.0.1", appliance.DicomPortText,
            knee.Path, lateral.Path, chest.Path, unlabelled.Path, ultrasound.Path, wrongClass.Path]);
        Assert.True(sent.ExitCode == 0, sent.Combined);

        foreach (var study in new[] { knee.StudyUid, lateral.StudyUid, chest.StudyUid, unlabelled.StudyUid, ultrasound.StudyUid, wrongClass.StudyUid })
        {
            await appliance.WaitForAsync($"/api/studies/{study}", s => s.GetProperty("status").GetString() == "processed", Timeout);
        }
        Assert.Equal(0, (await appliance.GetJsonAsync($"/api/findings?study={knee.StudyUid}")).GetArrayLength());
        Assert.Equal(0, (await appliance.GetJsonAsync($"/api/findings?study={lateral.StudyUid}")).GetArrayLength());
        Assert.Equal(1, (await appliance.GetJsonAsync($"/api/findings?study={chest.StudyUid}")).GetArrayLength());
        Assert.Equal(1, (await appliance.GetJsonAsync($"/api/findings?study={unlabelled.StudyUid}")).GetArrayLength());
        Assert.Equal(1, (await appliance.GetJsonAsync($"/api/findings?study={ultrasound.StudyUid}")).GetArrayLength());
        Assert.Equal(0, (await appliance.GetJsonAsync($"/api/findings?study={wrongClass.StudyUid}")).GetArrayLength());
    }

    [Fact]
    public async Task Site_override_replaces_the_package_lists_and_can_switch_a_model_off()
    {
        await using var appliance = await RunningAppliance.StartAsync(
            "--MedVision:Inference:Routing:cxr-pneumonia:BodyParts:0=KNEE",
            "--MedVision:Inference:Routing:us-breast-lesion:Enabled=false");
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        using var files = new TempDirectory();
        var knee = ChestXrayDicom.Create(files.Path, images.Image(1), scale: 1, bodyPart: "KNEE");
        var chest = ChestXrayDicom.Create(files.Path, images.Image(3), scale: 1);
        var ultrasound = ChestXrayDicom.Create(files.Path, images.Image(5), scale: 1, modality: "US", bodyPart: "BREAST", sopClassUid: UsImageStorage);

        var sent = await ExternalTool.RunAsync("storescu", ["-aec", "MEDVISION", "127.0.0.1", appliance.DicomPortText, knee.Path, chest.Path, ultrasound.Path]);
        Assert.True(sent.ExitCode == 0, sent.Combined);
        foreach (var study in new[] { knee.StudyUid, chest.StudyUid, ultrasound.StudyUid })
        {
            await appliance.WaitForAsync($"/api/studies/{study}", s => s.GetProperty("status").GetString() == "processed", Timeout);
        }
        Assert.Equal(1, (await appliance.GetJsonAsync($"/api/findings?study={knee.StudyUid}")).GetArrayLength());
        Assert.Equal(0, (await appliance.GetJsonAsync($"/api/findings?study={chest.StudyUid}")).GetArrayLength());
        Assert.Equal(0, (await appliance.GetJsonAsync($"/api/findings?study={ultrasound.StudyUid}")).GetArrayLength());
    }
}
