using System.Globalization;
using System.Text.Json;
using MedVision.Testing;

namespace MedVision.Edge.Tests.EndToEnd;

/// <summary>
/// Storage commitment with a real requester: Orthanc stores a study into the appliance and asks for commitment; the
/// appliance's N-EVENT-REPORT arrives at Orthanc on a new association and names exactly what is held.
/// </summary>
public sealed class StorageCommitmentTests
{
    [Fact]
    public async Task Orthanc_gets_a_commitment_report_for_what_it_stored_and_a_failure_for_what_it_did_not()
    {
        await using var orthanc = await OrthancServer.StartAsync();
        await using var appliance = await RunningAppliance.StartAsync(
            "--MedVision:Dicom:Peers:ORTHANC:Host=127.0.0.1",
            $"--MedVision:Dicom:Peers:ORTHANC:Port={orthanc.DicomPort.ToString(CultureInfo.InvariantCulture)}");
        using (var put = await orthanc.Http.PutAsync("/modalities/MEDVISION", new StringContent(JsonSerializer.Serialize(new { AET = "MEDVISION", Host = "127.0.0.1", Port = appliance.DicomPort }))))
        {
            put.EnsureSuccessStatusCode();
        }
        var ids = new List<string>();
        foreach (var file in new[] { "CT_small.dcm", "rtplan.dcm" })
        {
            ids.Add(await orthanc.UploadAsync(Path.Combine(RepoPaths.PydicomTestFiles, file)));
        }

        var stored = await orthanc.PostJsonAsync("/modalities/MEDVISION/store", JsonSerializer.Serialize(new { Resources = ids, Synchronous = true, StorageCommitment = true }));
        var transaction = stored.GetProperty("StorageCommitmentTransactionUID").GetString()!;
        var report = await WaitForReportAsync(orthanc, transaction);
        Assert.Equal("Success", report.GetProperty("Status").GetString());
        Assert.Equal(2, report.GetProperty("Success").GetArrayLength());
        Assert.Equal(0, report.GetProperty("Failures").GetArrayLength());

        // Ask about an instance the appliance never received: it must say so, not claim it.
        var request = await orthanc.PostJsonAsync("/modalities/MEDVISION/storage-commitment", JsonSerializer.Serialize(new
        {
            DicomInstances = new[] { new { SOPClassUID = "1.2.840.10008.5.1.4.1.1.2", SOPInstanceUID = "2.25.1234567890" } },
        }));
        var failed = await WaitForReportAsync(orthanc, request.GetProperty("ID").GetString()!);
        Assert.Equal("Failure", failed.GetProperty("Status").GetString());
        var failure = Assert.Single(failed.GetProperty("Failures").EnumerateArray());
        Assert.Equal("2.25.1234567890", failure.GetProperty("SOPInstanceUID").GetString());

        // The counts in /healthz refresh right after a report is delivered.
        await appliance.WaitForAsync("/healthz", h => h.GetProperty("storageCommitment").GetProperty("reported").GetInt64() == 2, TimeSpan.FromSeconds(10));
    }

    private static async Task<JsonElement> WaitForReportAsync(OrthancServer orthanc, string transaction)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var report = await orthanc.GetJsonAsync($"/storage-commitment/{transaction}");
            if (report.GetProperty("Status").GetString() != "Pending")
            {
                return report;
            }
            Assert.True(DateTime.UtcNow < deadline, $"No storage commitment report for {transaction} within 30 s: {report}");
            await Task.Delay(200);
        }
    }
}
