using MedVision.Testing;

namespace MedVision.Edge.Tests.EndToEnd;

/// <summary>Study assembly: instances group by study, which completes after the quiet time and reopens on a late instance.</summary>
public sealed class StudyAssemblyTests
{
    [Fact]
    public async Task Study_completes_after_the_quiet_time_and_reopens_for_a_late_instance()
    {
        // Three seconds of quiet: the checks that the study is still open after each send have that long on a loaded machine.
        await using var appliance = await RunningAppliance.StartAsync("--MedVision:Pipeline:StudyQuietSeconds=3");
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        using var files = new TempDirectory();
        var study = ChestXrayDicom.NewUid();
        var first = ChestXrayDicom.Create(files.Path, images.Image(10), studyUid: study);
        var second = ChestXrayDicom.Create(files.Path, images.Image(11), studyUid: study);

        var sent = await ExternalTool.RunAsync("storescu", ["-aec", "MEDVISION", "127.0.0.1", appliance.DicomPortText, first.Path, second.Path]);
        Assert.True(sent.ExitCode == 0, sent.Combined);
        var open = await appliance.GetJsonAsync($"/api/studies/{study}");
        Assert.Equal(2, open.GetProperty("instanceCount").GetInt32());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, open.GetProperty("completedUtc").ValueKind);

        var completed = await appliance.WaitForAsync($"/api/studies/{study}", s => s.GetProperty("completedUtc").ValueKind != System.Text.Json.JsonValueKind.Null, TimeSpan.FromSeconds(15));
        var completedAt = completed.GetProperty("completedUtc").GetDateTimeOffset();
        var lastReceived = completed.GetProperty("lastReceivedUtc").GetDateTimeOffset();
        Assert.InRange((completedAt - lastReceived).TotalSeconds, 3, 8);

        var late = ChestXrayDicom.Create(files.Path, images.Image(12), studyUid: study);
        sent = await ExternalTool.RunAsync("storescu", ["-aec", "MEDVISION", "127.0.0.1", appliance.DicomPortText, late.Path]);
        Assert.True(sent.ExitCode == 0, sent.Combined);
        var reopened = await appliance.GetJsonAsync($"/api/studies/{study}");
        Assert.Equal(3, reopened.GetProperty("instanceCount").GetInt32());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, reopened.GetProperty("completedUtc").ValueKind);
        await appliance.WaitForAsync($"/api/studies/{study}", s => s.GetProperty("completedUtc").ValueKind != System.Text.Json.JsonValueKind.Null, TimeSpan.FromSeconds(15));
    }
}
