using MedVision.Edge.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Tests.Storage;

/// <summary>A storage root in a fresh temp folder with a migrated database; deleted on dispose.</summary>
public sealed class TempStorage : IAsyncDisposable
{
    private TempStorage(string root, StorageOptions options, EdgeDatabase database, SqliteStudyStore store)
    {
        Root = root;
        Options = options;
        Database = database;
        Store = store;
    }

    public string Root { get; }

    public StorageOptions Options { get; }

    public EdgeDatabase Database { get; }

    public SqliteStudyStore Store { get; }

    public static async Task<TempStorage> CreateAsync(bool migrate = true)
    {
        var root = Path.Combine(Path.GetTempPath(), "medvision-edge-tests", Guid.NewGuid().ToString("N"));
        var options = new StorageOptions { Root = root };
        var wrapped = Microsoft.Extensions.Options.Options.Create(options);
        var database = new EdgeDatabase(wrapped, NullLogger<EdgeDatabase>.Instance);
        var store = new SqliteStudyStore(database, wrapped, NullLogger<SqliteStudyStore>.Instance);
        var storage = new TempStorage(root, options, database, store);
        if (migrate)
        {
            await database.MigrateAsync(CancellationToken.None);
        }
        return storage;
    }

    public ValueTask DisposeAsync()
    {
        // Pooled connections keep the file open; release them before deleting the folder.
        Store.Dispose();
        Database.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp folder must not fail the test that used it.
        }
        return ValueTask.CompletedTask;
    }

    public static ReceivedInstance Instance(
        string sop,
        string study = "1.2.3.4",
        string? modality = "CR",
        string? patientId = "PAT1",
        DateTimeOffset? received = null,
        string? spoolPath = null,
        long size = 1234) =>
        new(
            SopInstanceUid: sop,
            SopClassUid: "1.2.840.10008.5.1.4.1.1.1",
            StudyInstanceUid: study,
            SeriesInstanceUid: study + ".1",
            Modality: modality,
            PatientId: patientId,
            PatientName: patientId is null ? null : "DOE^JANE",
            StudyDate: "20240131",
            AccessionNumber: "ACC1",
            TransferSyntaxUid: "1.2.840.10008.1.2.1",
            CallingAe: "MODALITY1",
            SpoolPath: spoolPath ?? $"/spool/{sop}.dcm",
            SizeBytes: size,
            ReceivedUtc: received ?? DateTimeOffset.UtcNow);
}
