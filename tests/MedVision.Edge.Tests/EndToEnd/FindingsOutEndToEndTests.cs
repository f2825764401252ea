using System.Text.Json;
using Hl7.Fhir.Model;
using MedVision.Edge.Outputs;
using MedVision.Testing;
using Task = System.Threading.Tasks.Task;

namespace MedVision.Edge.Tests.EndToEnd;

/// <summary>
/// Issue 8 end to end with the real producers and real peers: a modality (storescu) sends a chest X-ray; the appliance compares it
/// with the patient's prior held by the PACS (Orthanc), makes the SR, Parametric Map, Secondary Capture, HTML report and FHIR Bundle,
/// and delivers them: Orthanc holds the DICOM objects in the same study, the FHIR endpoint got a valid DiagnosticReport, and every
/// output states the comparison with the prior.
/// </summary>
public sealed class FindingsOutEndToEndTests
{
    private const int NegativeImage = 332;
    private const int PositiveImage = 428;

    [Fact]
    public async Task Study_becomes_sr_heatmaps_report_and_fhir_at_the_pacs_and_ehr_with_the_prior_comparison()
    {
        await using var pacs = await OrthancServer.StartAsync();
        await using var ehr = await FhirTestServer.StartAsync();
        using var files = new TempDirectory();
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        const string patient = "MV-E2E-0008";
        var prior = ChestXrayDicom.Create(files.Path, images.Image(NegativeImage), scale: 1, patientId: patient, studyDate: new DateTime(2025, 6, 30));
        await pacs.UploadAsync(prior.Path);
        var current = ChestXrayDicom.Create(files.Path, images.Image(PositiveImage), scale: 1, patientId: patient);

        await using var appliance = await RunningAppliance.StartAsync(
            "--MedVision:Pipeline:StudyQuietSeconds=1",
            "--MedVision:Priors:Enabled=true", "--MedVision:Priors:Host=127.0.0.1", $"--MedVision:Priors:Port={pacs.DicomPort}",
            $"--MedVision:Priors:CalledAeTitle={OrthancServer.AeTitle}",
            "--MedVision:Export:Destinations:0:Type=dicom", "--MedVision:Export:Destinations:0:Host=127.0.0.1",
            $"--MedVision:Export:Destinations:0:Port={pacs.DicomPort}", $"--MedVision:Export:Destinations:0:CalledAe={OrthancServer.AeTitle}",
            "--MedVision:Export:Destinations:1:Type=fhir", $"--MedVision:Export:Destinations:1:Url={ehr.BaseUrl}");
        var sent = await ExternalTool.RunAsync("storescu", ["-aec", "MEDVISION", "127.0.0.1", appliance.DicomPortText, current.Path]);
        Assert.True(sent.ExitCode == 0, sent.Combined);

        var outputs = await appliance.WaitForAsync($"/api/studies/{current.StudyUid}/outputs",
            o => o.GetArrayLength() > 0 && o.EnumerateArray().SelectMany(x => x.GetProperty("deliveries").EnumerateArray()).All(d => d.GetProperty("state").GetString() == "delivered"),
            TimeSpan.FromSeconds(90));
        var byKind = outputs.EnumerateArray().GroupBy(o => o.GetProperty("kind").GetString()!).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Single(byKind[StudyOutputKinds.StructuredReport]);
        Assert.Single(byKind[StudyOutputKinds.ParametricMap]);
        Assert.Single(byKind[StudyOutputKinds.SecondaryCapture]);
        Assert.Single(byKind[StudyOutputKinds.HtmlReport]);
        Assert.Single(byKind[StudyOutputKinds.FhirBundle]);

        // The PACS holds each DICOM object, byte for byte the data set we made, in the source study.
        foreach (var kind in new[] { StudyOutputKinds.StructuredReport, StudyOutputKinds.ParametricMap, StudyOutputKinds.SecondaryCapture })
        {
            var output = byKind[kind][0];
            var sop = output.GetProperty("sopInstanceUid").GetString()!;
            var id = await pacs.FindInstanceAsync(sop);
            Assert.True(id is not null, $"Orthanc does not hold the {kind} {sop}");
            var tags = await pacs.GetJsonAsync($"/instances/{id}/simplified-tags");
            Assert.Equal(current.StudyUid, tags.GetProperty("StudyInstanceUID").GetString());
            Assert.Equal(patient, tags.GetProperty("PatientID").GetString());
            Assert.Equal(output.GetProperty("sopClassUid").GetString(), tags.GetProperty("SOPClassUID").GetString());
        }

        // The SR says what the comparison found, readable by dcmtk.
        var srPath = files.Combine("sr.dcm");
        await File.WriteAllBytesAsync(srPath, await appliance.Http.GetByteArrayAsync($"/api/outputs/{byKind[StudyOutputKinds.StructuredReport][0].GetProperty("id").GetInt64()}"));
        var dump = await ExternalTool.RunAsync("dsrdump", [srPath]);
        Assert.True(dump.ExitCode == 0, dump.Combined);
        Assert.Contains(prior.StudyUid, dump.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("new", dump.StandardOutput, StringComparison.OrdinalIgnoreCase);

        // The readable report names the prior and the change.
        var html = await appliance.Http.GetStringAsync($"/api/outputs/{byKind[StudyOutputKinds.HtmlReport][0].GetProperty("id").GetInt64()}");
        Assert.Contains("2025", html, StringComparison.Ordinal);
        Assert.Contains("new", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("preliminary", html, StringComparison.OrdinalIgnoreCase);

        // The EHR got one valid transaction Bundle with a DiagnosticReport for this study and the comparison.
        var received = await ehr.WaitForBundleAsync(0, TimeSpan.FromSeconds(10));
        Assert.True(received.IsValid, string.Join("; ", received.Validation.Errors));
        var report = Assert.Single(received.Bundle.Entry.Select(e => e.Resource).OfType<DiagnosticReport>());
        Assert.Equal(DiagnosticReport.DiagnosticReportStatus.Preliminary, report.Status);
        Assert.Contains(received.Bundle.Entry.Select(e => e.Resource).OfType<ImagingStudy>(),
            s => s.Identifier.Any(i => i.Value?.EndsWith(current.StudyUid, StringComparison.Ordinal) == true));
        Assert.Contains(prior.StudyUid, received.Json, StringComparison.Ordinal);
    }
}
