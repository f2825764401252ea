using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using MedVision.Dicom;
using MedVision.Dicom.Network;
using MedVision.Testing;
using Microsoft.Data.Sqlite;

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

    [Fact]
    public async Task A_peer_that_never_answers_is_given_up_on_after_the_artim_time_and_tried_again()
    {
        // Accepts connections and then says nothing: before the limit, the first report waited on it for good and no
        // later report (to any modality) was ever sent.
        var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var held = new List<Socket>();
        try
        {
            var port = ((IPEndPoint)silent.LocalEndpoint).Port;
            await using var appliance = await RunningAppliance.StartAsync(
                "--MedVision:Dicom:ArtimTimeoutSeconds=1",
                "--MedVision:Dicom:Peers:SILENT:Host=127.0.0.1",
                $"--MedVision:Dicom:Peers:SILENT:Port={port.ToString(CultureInfo.InvariantCulture)}");
            await using (var requester = await DicomClient.ConnectAsync("127.0.0.1", appliance.DicomPort, "SILENT", "MEDVISION",
                [new PresentationContextProposal(1, StorageCommitment.SopClassUid, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid])], CancellationToken.None))
            {
                var request = new DicomDataset()
                    .AddOrUpdate(DicomTags.TransactionUID, DicomVR.UI, ChestXrayDicom.NewUid())
                    .AddOrUpdate(new DicomSequence(DicomTags.ReferencedSOPSequence, [new SopReference("1.2.840.10008.5.1.4.1.1.2", "2.25.42").ToItem()]));
                var status = await requester.ActionAsync(StorageCommitment.SopClassUid, StorageCommitment.SopInstanceUid, 1, request, CancellationToken.None);
                Assert.False(status.IsFailure, $"N-ACTION got {status}");
                await requester.ReleaseAsync(CancellationToken.None);
            }

            // First attempt at once, given up after 1 s, the next 2 s later: a second connection within seconds.
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                while (held.Count < 2)
                {
                    held.Add(await silent.AcceptSocketAsync(wait.Token));
                }
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"{held.Count} connection(s) to the silent peer in 20 s: the report was never given up on and tried again");
            }
            await using var database = new SqliteConnection($"Data Source={Path.Combine(appliance.Data.Path, "db", "edge.db")};Mode=ReadOnly");
            await database.OpenAsync();
            await using var query = database.CreateCommand();
            query.CommandText = "SELECT last_error FROM storage_commitments;";
            var error = (string?)await query.ExecuteScalarAsync();
            Assert.Contains("no answer from the peer within 1 s", error, StringComparison.Ordinal);
        }
        finally
        {
            held.ForEach(s => s.Dispose());
            silent.Stop();
        }
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
