using System.Globalization;
using System.Text.Json;
using MedVision.Edge.Tests.EndToEnd;
using MedVision.Testing;

namespace MedVision.Edge.Tests.Cli;

/// <summary>`medvision echo|send|find|move` as an operator would use them: against Orthanc, pulling a prior into the appliance.</summary>
public sealed class NetworkCommandTests
{
    private static Task<ToolResult> Medvision(params string[] args) =>
        ExternalTool.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "medvision.dll"), .. args], TimeSpan.FromSeconds(60));

    [Fact]
    public async Task Send_find_and_move_a_prior_from_orthanc_into_the_appliance()
    {
        await using var orthanc = await OrthancServer.StartAsync();
        await using var appliance = await RunningAppliance.StartAsync();
        using (var put = await orthanc.Http.PutAsync("/modalities/MEDVISION", new StringContent(JsonSerializer.Serialize(new { AET = "MEDVISION", Host = "127.0.0.1", Port = appliance.DicomPort }))))
        {
            put.EnsureSuccessStatusCode();
        }
        var port = orthanc.DicomPort.ToString(CultureInfo.InvariantCulture);

        var echo = await Medvision("echo", "127.0.0.1", port, "-aec", OrthancServer.AeTitle);
        Assert.True(echo.ExitCode == 0, echo.Combined);
        Assert.Contains("Success", echo.StandardOutput, StringComparison.Ordinal);

        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        using var files = new TempDirectory();
        var prior = ChestXrayDicom.Create(files.Path, images.Image(14), patientId: "PRIOR-42");
        var send = await Medvision("send", "127.0.0.1", port, "-aec", OrthancServer.AeTitle, files.Path);
        Assert.True(send.ExitCode == 0, send.Combined);

        var find = await Medvision("find", "127.0.0.1", port, "-aec", OrthancServer.AeTitle, "--patient-id", "PRIOR-42");
        Assert.True(find.ExitCode == 0, find.Combined);
        var row = Assert.Single(find.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(prior.StudyUid, row, StringComparison.Ordinal);

        var move = await Medvision("move", "127.0.0.1", port, "-aec", OrthancServer.AeTitle, "--destination", "MEDVISION", "--study", prior.StudyUid);
        Assert.True(move.ExitCode == 0, move.Combined);
        Assert.Contains("completed 1, failed 0", move.StandardOutput, StringComparison.Ordinal);
        await appliance.WaitForAsync($"/api/findings?study={prior.StudyUid}", f => f.GetArrayLength() == 1, TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Unreachable_peer_and_bad_files_give_one_line_errors_and_non_zero_exit_codes()
    {
        var refused = await Medvision("echo", "127.0.0.1", "1");
        Assert.Equal(2, refused.ExitCode);
        Assert.StartsWith("error:", refused.StandardError.Trim(), StringComparison.Ordinal);
        Assert.Single(refused.StandardError.Trim().Split('\n'));

        using var files = new TempDirectory();
        var notDicom = files.Combine("notes.txt");
        await File.WriteAllTextAsync(notDicom, "not a DICOM file");
        var send = await Medvision("send", "127.0.0.1", "1", notDicom);
        Assert.Equal(2, send.ExitCode);
        Assert.Contains("no DICOM file to send", send.StandardError, StringComparison.Ordinal);
    }
}
