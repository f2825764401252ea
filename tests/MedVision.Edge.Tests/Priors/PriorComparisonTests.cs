using System.Text.Json;
using MedVision.Edge.Outputs;
using MedVision.Edge.Priors;
using MedVision.Edge.Storage;
using MedVision.Edge.Tests.EndToEnd;
using MedVision.Testing;

namespace MedVision.Edge.Tests.Priors;

/// <summary>
/// Prior comparison against a real PACS (Orthanc): the appliance finds the patient's earlier study with C-FIND, fetches it with
/// C-GET, runs the same model and says whether the finding is new, unchanged or resolved.
/// </summary>
public sealed class PriorComparisonTests : IAsyncLifetime
{
    // PneumoniaMNIST test images at their own 28 px whose probabilities (manifest golden set) sit far on either side of the threshold.
    private const int NegativeImage = 332;
    private const int PositiveImage = 428;

    private OrthancServer _pacs = null!;
    private readonly TempDirectory _files = new();

    public async Task InitializeAsync() => _pacs = await OrthancServer.StartAsync();

    public async Task DisposeAsync()
    {
        await _pacs.DisposeAsync();
        _files.Dispose();
    }

    private Task<RunningAppliance> StartApplianceAsync() => RunningAppliance.StartAsync(
        "--MedVision:Pipeline:StudyQuietSeconds=1",
        "--MedVision:Priors:Enabled=true",
        "--MedVision:Priors:Host=127.0.0.1",
        $"--MedVision:Priors:Port={_pacs.DicomPort}",
        $"--MedVision:Priors:CalledAeTitle={OrthancServer.AeTitle}");

    [Fact]
    public async Task A_positive_study_with_a_negative_prior_in_the_pacs_reads_new()
    {
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        const string patient = "MV-PRIOR-0001";
        var prior = ChestXrayDicom.Create(_files.Path, images.Image(NegativeImage), scale: 1, patientId: patient, studyDate: new DateTime(2025, 3, 14));
        // An older study too: the comparison must take the most recent prior, not the first match.
        var older = ChestXrayDicom.Create(_files.Path, images.Image(PositiveImage), scale: 1, patientId: patient, studyDate: new DateTime(2023, 1, 2));
        await _pacs.UploadAsync(prior.Path);
        await _pacs.UploadAsync(older.Path);
        var current = ChestXrayDicom.Create(_files.Path, images.Image(PositiveImage), scale: 1, patientId: patient);

        await using var appliance = await StartApplianceAsync();
        var sent = await ExternalTool.RunAsync("storescu", ["-aec", "MEDVISION", "127.0.0.1", appliance.DicomPortText, current.Path]);
        Assert.True(sent.ExitCode == 0, sent.Combined);

        var comparison = await WaitForComparisonAsync(appliance, current.StudyUid);
        Assert.Equal(PriorComparisonStates.Compared, comparison.GetProperty("state").GetString());
        Assert.Equal(prior.StudyUid, comparison.GetProperty("priorStudyUid").GetString());
        Assert.Equal("20250314", comparison.GetProperty("priorStudyDate").GetString());
        Assert.Equal(1, comparison.GetProperty("priorInstances").GetInt32());
        var change = Assert.Single(comparison.GetProperty("changes").EnumerateArray());
        Assert.Equal("cxr-pneumonia", change.GetProperty("modelId").GetString());
        Assert.Equal("pneumonia", change.GetProperty("label").GetString());
        Assert.Equal(FindingChanges.New, change.GetProperty("change").GetString());
        Assert.False(change.GetProperty("priorPositive").GetBoolean());
        Assert.True(change.GetProperty("currentPositive").GetBoolean());
        // The prior went through the same preprocessing and model as a received instance: its golden probability.
        Assert.InRange(change.GetProperty("priorProbability").GetDouble(), 0.049 - 0.01, 0.049 + 0.01);

        // Report producers get the same comparison through the contract.
        var source = (IPriorComparisonSource)appliance.Services.GetService(typeof(IPriorComparisonSource))!;
        var forReports = await source.GetComparisonAsync(current.StudyUid, CancellationToken.None);
        Assert.NotNull(forReports);
        Assert.Equal(prior.StudyUid, forReports.PriorStudyInstanceUid);
        Assert.Equal(FindingChanges.New, Assert.Single(forReports.Changes).Change);
    }

    [Fact]
    public async Task A_patient_without_earlier_studies_gets_no_prior_with_the_reason()
    {
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        // Someone else's study in the PACS, and a later one of the same patient: neither is a prior.
        await _pacs.UploadAsync(ChestXrayDicom.Create(_files.Path, images.Image(NegativeImage), scale: 1, patientId: "MV-OTHER", studyDate: new DateTime(2024, 5, 1)).Path);
        await _pacs.UploadAsync(ChestXrayDicom.Create(_files.Path, images.Image(NegativeImage), scale: 1, patientId: "MV-PRIOR-0002", studyDate: DateTime.UtcNow.AddDays(3)).Path);
        var current = ChestXrayDicom.Create(_files.Path, images.Image(PositiveImage), scale: 1, patientId: "MV-PRIOR-0002");

        await using var appliance = await StartApplianceAsync();
        var sent = await ExternalTool.RunAsync("storescu", ["-aec", "MEDVISION", "127.0.0.1", appliance.DicomPortText, current.Path]);
        Assert.True(sent.ExitCode == 0, sent.Combined);

        var comparison = await WaitForComparisonAsync(appliance, current.StudyUid);
        Assert.Equal(PriorComparisonStates.NoPrior, comparison.GetProperty("state").GetString());
        Assert.Contains("no earlier CR study", comparison.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Comparison_rules_cover_new_unchanged_resolved_and_unassessed_priors()
    {
        static FindingRecord Finding(string label, double p, bool positive) =>
            new("1.2.3", "1.2.3.4", "m", "1.0.0", "sha", label, p, 0.5, positive, "CPU", 1, DateTimeOffset.UnixEpoch);
        var current = PriorComparer.Aggregate([
            Finding("a", 0.9, true), Finding("a", 0.2, false), // positive on one image: the study is positive
            Finding("b", 0.1, false), Finding("c", 0.3, false), Finding("d", 0.7, true)]);
        var prior = new[]
        {
            new LabelResult("m", "1.0.0", "a", 0.1, 0.5, false),
            new LabelResult("m", "1.0.0", "b", 0.8, 0.5, true),
            new LabelResult("m", "1.0.0", "c", 0.2, 0.5, false),
        };
        var changes = PriorComparer.Compare(current, prior).ToDictionary(c => c.Label);
        Assert.Equal(FindingChanges.New, changes["a"].Change);
        Assert.Equal(0.9, changes["a"].CurrentProbability);
        Assert.Equal(FindingChanges.Resolved, changes["b"].Change);
        Assert.Equal(FindingChanges.Unchanged, changes["c"].Change);
        Assert.Equal(FindingChanges.New, changes["d"].Change);
        Assert.Null(changes["d"].PriorProbability);
    }

    private static async Task<JsonElement> WaitForComparisonAsync(RunningAppliance appliance, string studyUid)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(45);
        while (true)
        {
            using var response = await appliance.Http.GetAsync($"/api/studies/{studyUid}/prior");
            if (response.IsSuccessStatusCode)
            {
                var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
                if (body.GetProperty("state").GetString() != PriorComparisonStates.Pending)
                {
                    return body;
                }
            }
            Assert.True(DateTime.UtcNow < deadline, $"No prior comparison for {studyUid} within 45 s (last answer {(int)response.StatusCode})");
            await Task.Delay(250);
        }
    }
}
