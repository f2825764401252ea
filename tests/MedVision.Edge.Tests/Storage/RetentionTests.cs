using MedVision.Edge.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace MedVision.Edge.Tests.Storage;

/// <summary>
/// Retention deletes the files of finished studies only: by age, or oldest first under disk pressure, and never those a
/// queued instance, an undelivered output or an unanswered alert still needs.
/// </summary>
public sealed class RetentionTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Finished_studies_are_purged_by_age_then_by_disk_pressure_and_busy_ones_never()
    {
        await using var storage = await TempStorage.CreateAsync();
        var store = storage.Store;
        var received = DateTimeOffset.UtcNow.AddMinutes(-1);
        var files = new Dictionary<string, string>();
        foreach (var study in new[] { "1.9.1", "1.9.2", "1.9.3", "1.9.4", "1.9.5" })
        {
            files[study] = SpoolFile(storage, study);
            await store.RecordReceivedAsync(TempStorage.Instance(study + ".1", study: study, received: received, spoolPath: files[study]), None);
        }
        foreach (var study in new[] { "1.9.1", "1.9.2", "1.9.3", "1.9.5" })
        {
            await store.MarkInstanceAsync(study + ".1", InstanceStates.Processed, null, None);
            await store.UpdateStudyStatusAsync(study, None);
        }
        // 1.9.4 stays queued for the pipeline.
        Assert.Equal(5, (await store.CompleteQuietStudiesAsync(DateTimeOffset.UtcNow, None)).Count);
        var output = Path.Combine(storage.Options.OutputsDirectory, "1.9.1", "g1", "report.html");
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        await File.WriteAllTextAsync(output, "<html></html>");
        await ExecuteAsync(storage, $"""
            INSERT INTO output_generations (id, study_uid, generation_key, state, requested_utc, next_attempt_utc) VALUES (1, '1.9.1', 'k', 'done', 'x', 'x');
            INSERT INTO outputs (id, generation_id, study_uid, kind, file_name, content_type, size_bytes, sha256, path, created_utc)
                VALUES (1, 1, '1.9.1', 'report-html', 'report.html', 'text/html', 13, 'h', '{output}', 'x');
            INSERT INTO deliveries (output_id, destination, state, created_utc, next_attempt_utc) VALUES (1, 'pacs', 'delivered', 'x', 'x');
            INSERT INTO output_generations (id, study_uid, generation_key, state, requested_utc, next_attempt_utc) VALUES (2, '1.9.2', 'k', 'done', 'x', 'x');
            INSERT INTO outputs (id, generation_id, study_uid, kind, file_name, content_type, size_bytes, sha256, path, created_utc)
                VALUES (2, 2, '1.9.2', 'report-html', 'report.html', 'text/html', 13, 'h', '/nowhere/report.html', 'x');
            INSERT INTO deliveries (output_id, destination, state, created_utc, next_attempt_utc) VALUES (2, 'pacs', 'pending', 'x', 'x');
            INSERT INTO alerts (study_uid, rule, severity, state, sop_instance_uid, model_id, label, probability, threshold, finding_created_utc, raised_utc)
                VALUES ('1.9.3', 'critical', 'critical', 'active', '1.9.3.1', 'm', 'l', 0.9, 0.5, 'x', 'x');
            """);

        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var disk = new SettableDisk { FreeBytes = long.MaxValue / 2, MinFreeBytes = 500L << 20 };
        var options = new RetentionOptions { MaxAge = TimeSpan.FromDays(14), BatchSize = 2 };
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var retention = new SpoolRetentionService(new RetentionStore(storage.Database, NullLogger<RetentionStore>.Instance, clock), disk,
            Microsoft.Extensions.Options.Options.Create(options), clock, services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            NullLogger<SpoolRetentionService>.Instance);

        clock.Advance(TimeSpan.FromDays(13));
        Assert.Equal(0, await retention.RunOnceAsync(None));
        Assert.All(files.Values, f => Assert.True(File.Exists(f)));

        // Past the age: 1.9.1 (delivered) and 1.9.5 go; 1.9.2 (undelivered), 1.9.3 (alert active), 1.9.4 (queued) stay.
        clock.Advance(TimeSpan.FromDays(2));
        Assert.Equal(2, await retention.RunOnceAsync(None));
        Assert.False(File.Exists(files["1.9.1"]));
        Assert.False(File.Exists(files["1.9.5"]));
        Assert.False(File.Exists(output));
        Assert.False(Directory.Exists(Path.Combine(storage.Options.OutputsDirectory, "1.9.1")));
        Assert.True(Directory.Exists(storage.Options.OutputsDirectory));
        Assert.All(new[] { "1.9.2", "1.9.3", "1.9.4" }, s => Assert.True(File.Exists(files[s])));
        Assert.Equal(["1.9.1", "1.9.5"], await PurgedAsync(storage));
        // Rows stay: the study, its instance and its delivery are still there to audit.
        Assert.NotNull(await store.GetStudyAsync("1.9.1", None));

        // The alert is acknowledged and the delivery done; then the disk runs low: both go now, whatever their age.
        await ExecuteAsync(storage, "UPDATE alerts SET state = 'acknowledged'; UPDATE deliveries SET state = 'delivered';");
        var young = SpoolFile(storage, "1.9.6");
        await store.RecordReceivedAsync(TempStorage.Instance("1.9.6.1", study: "1.9.6", received: clock.GetUtcNow(), spoolPath: young), None);
        await store.MarkInstanceAsync("1.9.6.1", InstanceStates.Skipped, null, None);
        await store.CompleteQuietStudiesAsync(clock.GetUtcNow(), None);
        options.MaxAge = TimeSpan.FromDays(365);
        disk.FreeBytes = 100L << 20;
        Assert.Equal(3, await retention.RunOnceAsync(None));
        Assert.False(File.Exists(young));
        Assert.True(File.Exists(files["1.9.4"]));
        Assert.Equal(["1.9.1", "1.9.2", "1.9.3", "1.9.5", "1.9.6"], await PurgedAsync(storage));

        // A late instance reopens a purged study: it is no longer marked purged, so its new file is retained again later.
        await store.RecordReceivedAsync(TempStorage.Instance("1.9.1.2", study: "1.9.1", received: clock.GetUtcNow(), spoolPath: SpoolFile(storage, "1.9.1.2")), None);
        Assert.DoesNotContain("1.9.1", await PurgedAsync(storage));
    }

    [Fact]
    public async Task Running_appliance_purges_a_finished_study_once_it_is_older_than_the_configured_age()
    {
        using var data = new MedVision.Testing.TempDirectory("medvision-retention");
        var appliance = await MedVision.Edge.Tests.EndToEnd.RunningAppliance.StartAsync(data,
            "--MedVision:Retention:MaxAge=00:00:02", "--MedVision:Retention:Interval=00:00:00.5", "--MedVision:Pipeline:StudyQuietSeconds=0.5");
        try
        {
            var ct = Path.Combine(MedVision.Testing.RepoPaths.PydicomTestFiles, "CT_small.dcm");
            var store = await MedVision.Testing.ExternalTool.RunAsync("storescu", ["-aec", "MEDVISION", "127.0.0.1", appliance.DicomPortText, ct]);
            Assert.True(store.ExitCode == 0, store.Combined);
            var spooled = Directory.GetFiles(Path.Combine(data.Path, "spool", "slots")).Where(f => new FileInfo(f).Length > 0).ToList();
            Assert.Single(spooled);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (File.Exists(spooled[0]) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
            Assert.False(File.Exists(spooled[0]), "the finished study's spool file was not purged");
            var studies = await appliance.GetJsonAsync("/api/studies");
            Assert.Equal(1, studies.GetArrayLength());
            // The outputs made from it stay listed; their files are gone, which the download says plainly.
            var studyUid = MedVision.Dicom.DicomFile.Open(ct).Dataset.GetStringOrDefault(MedVision.Dicom.DicomTags.StudyInstanceUID);
            var outputs = await appliance.GetJsonAsync($"/api/studies/{studyUid}/outputs");
            Assert.NotEqual(0, outputs.GetArrayLength());
            foreach (var output in outputs.EnumerateArray())
            {
                using var download = await appliance.Http.GetAsync($"/api/outputs/{output.GetProperty("id").GetInt64()}");
                Assert.Equal(System.Net.HttpStatusCode.Gone, download.StatusCode);
            }
        }
        finally
        {
            await appliance.StopAsync();
            appliance.Http.Dispose();
        }
    }

    private static string SpoolFile(TempStorage storage, string name)
    {
        Directory.CreateDirectory(storage.Options.SlotDirectory);
        var path = Path.Combine(storage.Options.SlotDirectory, name + ".dcm");
        File.WriteAllBytes(path, new byte[4096]);
        return path;
    }

    private static async Task ExecuteAsync(TempStorage storage, string sql)
    {
        await using var connection = await storage.Database.OpenConnectionAsync(None);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<List<string>> PurgedAsync(TempStorage storage)
    {
        await using var connection = await storage.Database.OpenConnectionAsync(None);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT study_uid FROM studies WHERE purged_utc IS NOT NULL ORDER BY study_uid;";
        var purged = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            purged.Add(reader.GetString(0));
        }
        return purged;
    }

    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        private DateTimeOffset _now = start;

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }

    /// <summary>The disk as the retention sees it; the real one cannot be filled on purpose in a test.</summary>
    private sealed class SettableDisk : IDiskSpace
    {
        public long FreeBytes { get; set; }

        public long MinFreeBytes { get; set; }

        public bool IsBelowWatermark => !HasRoomFor(0);

        public bool HasRoomFor(long bytes) => FreeBytes - bytes >= MinFreeBytes;
    }
}
