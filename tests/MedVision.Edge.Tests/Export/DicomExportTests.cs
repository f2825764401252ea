using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using MedVision.Edge.Tests.EndToEnd;
using MedVision.Testing;

namespace MedVision.Edge.Tests.Export;

/// <summary>
/// The export outbox against a real PACS (Orthanc): a study sent with storescu to the running appliance comes out as a
/// DICOM object that Orthanc holds, whether the PACS is up, down for a while, down for good (dead letter, then retried by
/// hand), or the appliance restarts in between.
/// </summary>
public sealed class DicomExportTests
{
    [Fact]
    public async Task Orthanc_holds_the_studys_DICOM_output_and_the_folder_gets_every_output()
    {
        await using var orthanc = await OrthancServer.StartAsync();
        using var folder = new TempDirectory("medvision-export-folder");
        await using var appliance = await RunningAppliance.StartAsync(new TempDirectory("medvision-edge"), ExportTestKit.UseTestProducers,
        [
            .. ExportTestKit.FastRetries(5),
            .. ExportTestKit.DicomDestination(orthanc.DicomPort),
            "--MedVision:Export:Destinations:1:Type=folder",
            $"--MedVision:Export:Destinations:1:Path={folder.Path}",
        ]);

        var study = await ExportTestKit.SendStudyAsync(appliance);
        var outputs = await ExportTestKit.WaitForDeliveriesAsync(appliance, study, d => ExportTestKit.State(d) == "delivered");

        Assert.Equal(2, outputs.GetArrayLength());
        var sc = outputs.EnumerateArray().Single(o => o.GetProperty("kind").GetString() == "secondary-capture");
        var bundle = outputs.EnumerateArray().Single(o => o.GetProperty("kind").GetString() == "fhir-bundle");
        Assert.Equal(["folder", "pacs"], sc.GetProperty("deliveries").EnumerateArray().Select(d => d.GetProperty("destination").GetString()).Order());
        Assert.Equal(["folder"], bundle.GetProperty("deliveries").EnumerateArray().Select(d => d.GetProperty("destination").GetString()));
        Assert.All(ExportTestKit.Deliveries(outputs), d => Assert.Equal(1, d.GetProperty("attempts").GetInt32()));

        // Orthanc holds it, as the Secondary Capture our producer made.
        var sop = sc.GetProperty("sopInstanceUid").GetString()!;
        var id = await orthanc.FindInstanceAsync(sop);
        Assert.NotNull(id);
        var tags = await orthanc.GetJsonAsync($"/instances/{id}/simplified-tags");
        Assert.Equal(ExportTestKit.SecondaryCaptureClass, tags.GetProperty("SOPClassUID").GetString());
        Assert.Equal(study, tags.GetProperty("StudyInstanceUID").GetString());

        // The download is the stored file, with its type and name.
        using var download = await appliance.Http.GetAsync($"/api/outputs/{sc.GetProperty("id").GetInt64()}");
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal("application/dicom", download.Content.Headers.ContentType!.MediaType);
        Assert.Equal(sc.GetProperty("fileName").GetString(), download.Content.Headers.ContentDisposition!.FileNameStar ?? download.Content.Headers.ContentDisposition.FileName);
        var bytes = await download.Content.ReadAsByteArrayAsync();
        Assert.Equal(sc.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(bytes)));
        Assert.Equal(sc.GetProperty("sizeBytes").GetInt64(), bytes.Length);

        using var json = await appliance.Http.GetAsync($"/api/outputs/{bundle.GetProperty("id").GetInt64()}");
        Assert.Equal("application/fhir+json", json.Content.Headers.ContentType!.MediaType);

        // The folder destination wrote both files atomically (no leftovers) under the study.
        var written = Directory.GetFiles(Path.Combine(folder.Path, study)).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(2, written.Count);
        Assert.DoesNotContain(written, n => n!.StartsWith('.'));
        var scCopy = Path.Combine(folder.Path, study, $"{sc.GetProperty("id").GetInt64()}_{sc.GetProperty("fileName").GetString()}");
        Assert.Equal(bytes, await File.ReadAllBytesAsync(scCopy));

        var health = await appliance.WaitForAsync("/healthz",
            h => h.GetProperty("export").GetProperty("destinations").GetProperty("pacs").GetProperty("delivered").GetInt64() == 1, TimeSpan.FromSeconds(10));
        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.Equal(0, health.GetProperty("export").GetProperty("destinations").GetProperty("pacs").GetProperty("depth").GetInt64());

        using var missing = await appliance.Http.GetAsync("/api/outputs/999999");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var unknownStudy = await appliance.Http.GetAsync("/api/studies/1.2.3.999/outputs");
        Assert.Equal(HttpStatusCode.NotFound, unknownStudy.StatusCode);

        var metrics = await appliance.Http.GetStringAsync("/metrics");
        Assert.Contains("medvision_export_delivered", metrics, StringComparison.Ordinal);
        Assert.Contains("medvision_export_outbox_depth", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pacs_down_deliveries_wait_and_retry_then_arrive_exactly_once_when_it_comes_up()
    {
        var port = OrthancServer.FreePort();
        await using var appliance = await RunningAppliance.StartAsync(new TempDirectory("medvision-edge"), ExportTestKit.UseTestProducers,
            [.. ExportTestKit.FastRetries(100), .. ExportTestKit.DicomDestination(port)]);

        var study = await ExportTestKit.SendStudyAsync(appliance);
        var failing = await ExportTestKit.WaitForDeliveriesAsync(appliance, study, d => d.GetProperty("attempts").GetInt32() >= 2);
        var waiting = Assert.Single(ExportTestKit.Deliveries(failing));
        Assert.Contains(ExportTestKit.State(waiting), new[] { "pending", "delivering" });
        var health = await appliance.GetJsonAsync("/healthz");
        Assert.True(health.GetProperty("export").GetProperty("destinations").GetProperty("pacs").GetProperty("depth").GetInt64() >= 1, health.ToString());

        await using var orthanc = await OrthancServer.StartAsync(dicomPort: port);
        var outputs = await ExportTestKit.WaitForDeliveriesAsync(appliance, study, d => ExportTestKit.State(d) == "delivered");
        var delivered = Assert.Single(ExportTestKit.Deliveries(outputs));
        var attempts = delivered.GetProperty("attempts").GetInt32();
        Assert.True(attempts > 1, delivered.ToString());
        Assert.Equal(JsonValueKind.String, delivered.GetProperty("deliveredUtc").ValueKind);

        var sop = outputs.EnumerateArray().Single(o => o.GetProperty("kind").GetString() == "secondary-capture").GetProperty("sopInstanceUid").GetString()!;
        await AssertHeldOnceAsync(orthanc, sop);

        // Delivered means done: no further attempt however long we wait.
        await Task.Delay(1500);
        var later = Assert.Single(ExportTestKit.Deliveries(await appliance.GetJsonAsync($"/api/studies/{study}/outputs")));
        Assert.Equal("delivered", ExportTestKit.State(later));
        Assert.Equal(attempts, later.GetProperty("attempts").GetInt32());
    }

    [Fact]
    public async Task After_MaxAttempts_a_delivery_is_dead_in_the_api_and_retry_delivers_it()
    {
        var port = OrthancServer.FreePort();
        await using var appliance = await RunningAppliance.StartAsync(new TempDirectory("medvision-edge"), ExportTestKit.UseTestProducers,
            [.. ExportTestKit.FastRetries(2), .. ExportTestKit.DicomDestination(port)]);

        var study = await ExportTestKit.SendStudyAsync(appliance);
        var dead = Assert.Single(ExportTestKit.Deliveries(await ExportTestKit.WaitForDeliveriesAsync(appliance, study, d => ExportTestKit.State(d) == "dead")));
        Assert.Equal(2, dead.GetProperty("attempts").GetInt32());
        Assert.False(string.IsNullOrEmpty(dead.GetProperty("lastError").GetString()));

        var letters = await appliance.GetJsonAsync("/api/deliveries?state=dead");
        var letter = Assert.Single(letters.EnumerateArray());
        var id = letter.GetProperty("id").GetInt64();
        Assert.Equal(study, letter.GetProperty("studyInstanceUid").GetString());
        Assert.Equal("pacs", letter.GetProperty("destination").GetString());
        var health = await appliance.WaitForAsync("/healthz",
            h => h.GetProperty("export").GetProperty("destinations").GetProperty("pacs").GetProperty("dead").GetInt64() == 1, TimeSpan.FromSeconds(10));
        Assert.Equal("degraded", health.GetProperty("status").GetString());

        using (var refused = await appliance.Http.GetAsync("/api/deliveries?state=lost"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        }

        await using var orthanc = await OrthancServer.StartAsync(dicomPort: port);
        using (var retry = await appliance.Http.PostAsync($"/api/deliveries/{id.ToString(CultureInfo.InvariantCulture)}/retry", null))
        {
            Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
            var body = await retry.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(0, body.GetProperty("attempts").GetInt32());
        }
        var delivered = Assert.Single(ExportTestKit.Deliveries(await ExportTestKit.WaitForDeliveriesAsync(appliance, study, d => ExportTestKit.State(d) == "delivered")));
        Assert.Equal(1, delivered.GetProperty("attempts").GetInt32());
        var outputs = await appliance.GetJsonAsync($"/api/studies/{study}/outputs");
        await AssertHeldOnceAsync(orthanc, outputs.EnumerateArray().Single(o => o.GetProperty("kind").GetString() == "secondary-capture").GetProperty("sopInstanceUid").GetString()!);

        using (var again = await appliance.Http.PostAsync($"/api/deliveries/{id.ToString(CultureInfo.InvariantCulture)}/retry", null))
        {
            Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        }
        using (var unknown = await appliance.Http.PostAsync("/api/deliveries/999999/retry", null))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }
        Assert.Equal(0, (await appliance.GetJsonAsync("/api/deliveries?state=dead")).GetArrayLength());
    }

    [Fact]
    public async Task A_restart_mid_way_neither_loses_nor_duplicates_outputs()
    {
        var port = OrthancServer.FreePort();
        var data = new TempDirectory("medvision-edge");
        string[] args = [.. ExportTestKit.FastRetries(1000), .. ExportTestKit.DicomDestination(port)];
        var first = await RunningAppliance.StartAsync(data, ExportTestKit.UseTestProducers, args);
        string study;
        JsonElement before;
        try
        {
            study = await ExportTestKit.SendStudyAsync(first);
            before = await ExportTestKit.WaitForDeliveriesAsync(first, study, d => d.GetProperty("attempts").GetInt32() >= 1 && d.GetProperty("lastError").ValueKind == JsonValueKind.String);
        }
        finally
        {
            // Stop as systemd does, keeping the data folder for the second start.
            first.Http.Dispose();
            await first.StopAsync();
        }
        var outputIds = before.EnumerateArray().Select(o => o.GetProperty("id").GetInt64()).Order().ToList();
        var sop = before.EnumerateArray().Single(o => o.GetProperty("kind").GetString() == "secondary-capture").GetProperty("sopInstanceUid").GetString()!;

        await using var orthanc = await OrthancServer.StartAsync(dicomPort: port);
        var second = await RunningAppliance.StartAsync(data, ExportTestKit.UseTestProducers, args);
        JsonElement after;
        try
        {
            after = await ExportTestKit.WaitForDeliveriesAsync(second, study, d => ExportTestKit.State(d) == "delivered");
            // Same outputs (same rows, same SOP Instance UID), not a second set made after the restart.
            Assert.Equal(outputIds, after.EnumerateArray().Select(o => o.GetProperty("id").GetInt64()).Order().ToList());
            await AssertHeldOnceAsync(orthanc, sop);
        }
        finally
        {
            second.Http.Dispose();
            await second.StopAsync();
        }

        // A third start finds everything delivered and sends nothing again.
        await using var third = await RunningAppliance.StartAsync(data, ExportTestKit.UseTestProducers, args);
        await Task.Delay(1000);
        var final = await third.GetJsonAsync($"/api/studies/{study}/outputs");
        Assert.Equal(outputIds, final.EnumerateArray().Select(o => o.GetProperty("id").GetInt64()).Order().ToList());
        var attemptsAfter = ExportTestKit.Deliveries(after).Select(d => d.GetProperty("attempts").GetInt32()).ToList();
        Assert.Equal(attemptsAfter, ExportTestKit.Deliveries(final).Select(d => d.GetProperty("attempts").GetInt32()).ToList());
        Assert.All(ExportTestKit.Deliveries(final), d => Assert.Equal("delivered", ExportTestKit.State(d)));
        Assert.Single(Directory.GetDirectories(Path.Combine(data.Path, "outputs", study)));
    }

    private static async Task AssertHeldOnceAsync(OrthancServer orthanc, string sopInstanceUid)
    {
        var found = await orthanc.PostJsonAsync("/tools/lookup", sopInstanceUid);
        Assert.Single(found.EnumerateArray(), e => e.GetProperty("Type").GetString() == "Instance");
        var statistics = await orthanc.GetJsonAsync("/statistics");
        Assert.Equal(1, statistics.GetProperty("CountInstances").GetInt32());
    }
}
