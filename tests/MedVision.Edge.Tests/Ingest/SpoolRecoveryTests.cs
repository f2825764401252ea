using MedVision.Dicom;
using MedVision.Dicom.IO;
using MedVision.Edge.Ingest;
using MedVision.Edge.Storage;
using MedVision.Edge.Tests.EndToEnd;
using MedVision.Testing;
using Microsoft.Data.Sqlite;

namespace MedVision.Edge.Tests.Ingest;

/// <summary>
/// The ingest record is committed without a WAL flush; these tests play the power cut that loses such records and the
/// transfer that a cut leaves half-written, and check what start-up recovery makes of the spool.
/// </summary>
public sealed class SpoolRecoveryTests
{
    private const int Instances = 12;
    private const int LostRecords = 5;

    [Fact]
    public async Task Lost_records_of_acknowledged_instances_come_back_once_and_unfinished_slots_are_not_registered()
    {
        using var data = new TempDirectory("medvision-recovery");
        var sent = await SendAndStopAsync(data, Instances);
        var ingestOnly = IngestOnly(data);

        var spooled = SpoolFiles.BySopInstance(data.Path);
        Assert.All(sent, uid => Assert.Single(spooled[uid]));
        var lost = sent.Take(LostRecords).ToList();
        var database = DatabasePath(data);
        await ExecuteAsync(database, $"DELETE FROM instances WHERE sop_instance_uid IN ({string.Join(",", lost.Select(u => $"'{u}'"))}); UPDATE studies SET instance_count = instance_count - {LostRecords};");
        Assert.Equal(Instances - LostRecords, await CountAsync(database, "SELECT COUNT(*) FROM instances;"));

        // What a cut mid-transfer or mid-flush leaves: a truncated copy, a full copy whose proof was never written, and
        // a full copy whose data blocks did not all reach the disk (CRC mismatch). None was acknowledged.
        var template = await File.ReadAllBytesAsync(spooled[sent[^1]].Single());
        var truncated = WriteSlot(data.Path, template.AsSpan(0, template.Length / 2));
        var unproven = template.ToArray();
        unproven.AsSpan(ProofOffset(unproven), 16).Clear();
        var unprovenSlot = WriteSlot(data.Path, unproven);
        var torn = template.ToArray();
        torn.AsSpan(torn.Length - 100, 50).Clear();
        var tornSlot = WriteSlot(data.Path, torn);

        var second = await RunningAppliance.StartAsync(data, ingestOnly);
        try
        {
            var studies = await second.GetJsonAsync("/api/studies");
            Assert.Equal(Instances, studies.EnumerateArray().Single().GetProperty("instanceCount").GetInt32());
        }
        finally
        {
            await second.StopAsync();
            second.Http.Dispose();
        }

        Assert.Equal(Instances, await CountAsync(database, "SELECT COUNT(*) FROM instances;"));
        Assert.Equal(Instances, await CountAsync(database, "SELECT COUNT(*) FROM instances WHERE state = 'received';"));
        foreach (var uid in sent)
        {
            Assert.Equal(1, await CountAsync(database, $"SELECT COUNT(*) FROM instances WHERE sop_instance_uid = '{uid}';"));
        }
        Assert.False(File.Exists(truncated));
        Assert.False(File.Exists(unprovenSlot));
        Assert.False(File.Exists(tornSlot));
        var after = SpoolFiles.BySopInstance(data.Path);
        Assert.All(sent, uid => Assert.Single(after[uid]));
    }

    [Fact]
    public async Task Restart_without_losses_records_nothing_twice()
    {
        using var data = new TempDirectory("medvision-recovery-clean");
        await SendAndStopAsync(data, 3);
        await StartAndStopAsync(data);

        var database = DatabasePath(data);
        Assert.Equal(3, await CountAsync(database, "SELECT COUNT(*) FROM instances;"));
        Assert.Equal(3, await CountAsync(database, "SELECT instance_count FROM studies;"));
        // The unused slots of the first run are offered again, not leaked: the pool does not grow per restart.
        var empty = SpoolFiles.Slots(data.Path).Count(p => new FileInfo(p).Length == 0);
        Assert.InRange(empty, 1, StorageOptions.DefaultSpoolSlotPoolSize + 3);
    }

    [Fact]
    public async Task Queued_record_whose_file_flush_did_not_finish_is_failed_and_quarantined_not_processed()
    {
        // The record is committed while the file is flushed (success waits for both). A power cut in that window can
        // keep the record and lose data blocks: recovery must not hand such a file to the pipeline as if complete.
        using var data = new TempDirectory("medvision-recovery-torn");
        var sent = await SendAndStopAsync(data, 3);

        var tornPath = SpoolFiles.BySopInstance(data.Path)[sent[0]].Single();
        var torn = await File.ReadAllBytesAsync(tornPath);
        torn.AsSpan(torn.Length - 200, 100).Clear();
        await File.WriteAllBytesAsync(tornPath, torn);

        await StartAndStopAsync(data);

        var database = DatabasePath(data);
        Assert.Equal(1, await CountAsync(database, $"SELECT COUNT(*) FROM instances WHERE sop_instance_uid = '{sent[0]}' AND state = 'failed' AND error LIKE '%never acknowledged%';"));
        Assert.Equal(2, await CountAsync(database, "SELECT COUNT(*) FROM instances WHERE state = 'received';"));
        AssertQuarantined(data, tornPath);
    }

    [Fact]
    public async Task Proven_file_that_fails_the_receivers_check_is_quarantined_not_recorded()
    {
        // The receiver writes the proof before its check and takes it back from a data set it refuses; a cut between
        // the two can leave a proven file of an instance that was never acknowledged. Recovery repeats the check.
        using var data = new TempDirectory("medvision-recovery-refused");
        await SendAndStopAsync(data, 1);
        using var source = new TempDirectory("medvision-recovery-src");
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        var created = ChestXrayDicom.Create(source.Path, images.Image(0));
        var dataset = DicomFile.Open(created.Path).Dataset;
        Assert.True(dataset.Remove(DicomTags.StudyInstanceUID));
        var slot = WriteProvenSlot(data.Path, dataset, created.SopInstanceUid);
        var (proven, _) = await SpoolProof.VerifyAsync(slot, CancellationToken.None);
        Assert.True(proven);

        await StartAndStopAsync(data);

        var database = DatabasePath(data);
        Assert.Equal(0, await CountAsync(database, $"SELECT COUNT(*) FROM instances WHERE sop_instance_uid = '{created.SopInstanceUid}';"));
        Assert.Equal(1, await CountAsync(database, "SELECT COUNT(*) FROM instances;"));
        AssertQuarantined(data, slot);
    }

    /// <summary>A slot as the receiver leaves it: header with a filled-in proof, then the data set.</summary>
    private static string WriteProvenSlot(string storageRoot, DicomDataset dataset, string sopInstanceUid)
    {
        var syntax = DicomTransferSyntax.ExplicitVRLittleEndian;
        var header = SpoolProof.Header(DicomFile.CreateFileMetaInfo(dataset.GetStringOrDefault(DicomTags.SOPClassUID)!, sopInstanceUid, syntax), syntax);
        using var body = new MemoryStream();
        DicomWriter.WriteDataset(body, dataset, syntax);
        var path = WriteSlot(storageRoot, [.. header, .. body.ToArray()]);
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        SpoolProof.Write(file, header.Length, body.Length, System.IO.Hashing.Crc32.HashToUInt32(body.ToArray()));
        return path;
    }

    /// <summary>Start-up recovery moved a slot it must not record to spool/rejected, keeping it for a person.</summary>
    private static void AssertQuarantined(TempDirectory data, string slot)
    {
        Assert.False(File.Exists(slot));
        Assert.True(File.Exists(Path.Combine(data.Path, "spool", "rejected", Path.GetFileName(slot))));
    }

    private static string DatabasePath(TempDirectory data) => Path.Combine(data.Path, "db", "edge.db");

    /// <summary>Sends <paramref name="count"/> instances of one study with storescu to an ingest-only appliance, then stops it.</summary>
    private static async Task<List<string>> SendAndStopAsync(TempDirectory data, int count)
    {
        using var source = new TempDirectory("medvision-recovery-src");
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        var study = ChestXrayDicom.NewUid();
        var sent = Enumerable.Range(0, count).Select(i => ChestXrayDicom.Create(source.Path, images.Image(i), scale: 2, studyUid: study).SopInstanceUid).ToList();
        var appliance = await RunningAppliance.StartAsync(data, IngestOnly(data));
        var store = await ExternalTool.RunAsync("storescu", ["-aec", "MEDVISION", "+sd", "127.0.0.1", appliance.DicomPortText, source.Path]);
        Assert.True(store.ExitCode == 0, store.Combined);
        await appliance.StopAsync();
        appliance.Http.Dispose();
        return sent;
    }

    /// <summary>One more life of the appliance: start-up recovery runs, nothing is sent.</summary>
    private static async Task StartAndStopAsync(TempDirectory data)
    {
        var appliance = await RunningAppliance.StartAsync(data, IngestOnly(data));
        await appliance.StopAsync();
        appliance.Http.Dispose();
    }

    /// <summary>No model: instances stay queued, so a test sees exactly what ingest and recovery recorded.</summary>
    private static string[] IngestOnly(TempDirectory data) => [$"--MedVision:Inference:ModelsDirectory={data.Combine("none")}"];

    /// <summary>The proof is the last 16 bytes of the file meta group, which ends at 144 + (0002,0000).</summary>
    private static int ProofOffset(byte[] file) => 144 + (int)BitConverter.ToUInt32(file, 140) - 16;

    private static string WriteSlot(string storageRoot, ReadOnlySpan<byte> content)
    {
        var path = Path.Combine(SpoolFiles.SlotDirectory(storageRoot), $"{Guid.NewGuid():N}.dcm");
        File.WriteAllBytes(path, content.ToArray());
        return path;
    }

    private static async Task ExecuteAsync(string database, string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={database};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<long> CountAsync(string database, string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={database};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
