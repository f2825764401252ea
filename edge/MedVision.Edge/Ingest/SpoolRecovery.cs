using MedVision.Dicom;
using MedVision.Dicom.IO;
using MedVision.Edge.Storage;

namespace MedVision.Edge.Ingest;

/// <summary>
/// Start-up reconciliation of the spool with the database, before the DICOM listener opens.
/// </summary>
/// <remarks>
/// The ingest record is committed without its own WAL flush, so a power cut can lose the records of instances whose
/// files (and completion proofs) were already flushed and acknowledged. Every slot file the database does not know is
/// therefore checked here: a proven one is recorded (durably) and then processed like any other; an unproven one is a
/// transfer that never finished (never acknowledged) and is deleted; an empty one goes back to the pool.
/// </remarks>
public sealed partial class SpoolRecovery(
    IStudyStore store,
    SpoolSlots slots,
    ILogger<SpoolRecovery> logger)
{
    /// <summary>Far more than can be in flight at once (associations × operations window), far less than a backlog.</summary>
    private const int InFlightBound = 1024;

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(slots.Directory);
        var known = await store.GetSpoolPathsAsync(cancellationToken).ConfigureAwait(false);
        var empty = new List<string>();
        var recovered = 0;
        foreach (var path in Directory.EnumerateFiles(slots.Directory))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var info = new FileInfo(path);
            if (info.Length == 0)
            {
                empty.Add(path);
                continue;
            }
            if (known.Contains(path))
            {
                continue;
            }
            var (proven, reason) = await SpoolProof.VerifyAsync(path, cancellationToken).ConfigureAwait(false);
            if (!proven)
            {
                LogDiscarded(path, reason);
                File.Delete(path);
                continue;
            }
            DicomFile parsed;
            try
            {
                parsed = DicomReader.ReadFile(path, new DicomReadOptions { LargeValueThreshold = 1024 });
            }
            catch (DicomFormatException ex)
            {
                // Damage after the fact, or a rejected instance whose proof a cut kept: keep it for a person.
                LogUnreadable(path, ex.Message);
                Quarantine(path);
                continue;
            }
            if (SpoolStoreHandler.CheckIdentity(parsed.Dataset, announcedSopInstanceUid: null) is { } refused)
            {
                // Failed the receiver's check; a cut came before its proof was taken back. It was never acknowledged.
                LogRefusedByCheck(path, refused.Detail);
                Quarantine(path);
                continue;
            }
            var instance = SpoolStoreHandler.ToReceived(parsed, path, info.Length, new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero));
            var result = await store.RecordReceivedAsync(instance, syncToDisk: true, cancellationToken).ConfigureAwait(false);
            if (result.PreviousSpoolPath is { } old && old != path && File.Exists(old))
            {
                File.Delete(old);
            }
            LogRecovered(instance.SopInstanceUid, path);
            recovered++;
        }
        slots.AdoptEmpty(empty);
        var incomplete = await FailUnprovenRecordsAsync(cancellationToken).ConfigureAwait(false);
        LogReconciled(recovered, empty.Count, incomplete);
        return recovered;
    }

    /// <summary>
    /// A record is committed while its file is being flushed (the two overlap; success waits for both), so after a
    /// power cut a queued record can point at a file whose flush never finished. Such an instance was never
    /// acknowledged: its record is marked failed, its file quarantined, and the sender's retry replaces both.
    /// </summary>
    private async Task<int> FailUnprovenRecordsAsync(CancellationToken cancellationToken)
    {
        var failed = 0;
        var slotDirectory = Path.GetFullPath(slots.Directory) + Path.DirectorySeparatorChar;
        // Only the newest records can be affected: a record and its flush finish within milliseconds of each other, so at
        // a cut only the instances then in flight (at most one window per association) can have a record without a
        // durable file. Checking just those keeps start-up fast with a large backlog (each check reads the whole file).
        var pendingInstances = await store.GetPendingInstancesAsync(int.MaxValue, cancellationToken).ConfigureAwait(false);
        foreach (var pending in pendingInstances.OrderByDescending(p => p.ReceivedUtc).Take(InFlightBound))
        {
            if (!Path.GetFullPath(pending.SpoolPath).StartsWith(slotDirectory, StringComparison.Ordinal))
            {
                continue;
            }
            var (proven, reason) = File.Exists(pending.SpoolPath)
                ? await SpoolProof.VerifyAsync(pending.SpoolPath, cancellationToken).ConfigureAwait(false)
                : (false, "file missing");
            if (proven)
            {
                continue;
            }
            LogUnprovenRecord(pending.SopInstanceUid, pending.SpoolPath, reason);
            await store.MarkInstanceAsync(pending.SopInstanceUid, InstanceStates.Failed, $"spool file incomplete after an unclean stop ({reason}); it was never acknowledged", cancellationToken).ConfigureAwait(false);
            await store.UpdateStudyStatusAsync(pending.StudyUid, cancellationToken).ConfigureAwait(false);
            if (File.Exists(pending.SpoolPath))
            {
                Quarantine(pending.SpoolPath);
            }
            failed++;
        }
        return failed;
    }

    private void Quarantine(string path)
    {
        var rejected = Path.Combine(Path.GetDirectoryName(slots.Directory)!, "rejected");
        Directory.CreateDirectory(rejected);
        File.Move(path, Path.Combine(rejected, Path.GetFileName(path)), overwrite: true);
    }

    [LoggerMessage(EventId = 1152, Level = LogLevel.Warning, Message = "Spool slot {Path} holds an unfinished transfer ({Reason}); it was never acknowledged and is deleted")]
    private partial void LogDiscarded(string path, string reason);

    [LoggerMessage(EventId = 1153, Level = LogLevel.Error, Message = "Spool slot {Path} has a completion proof but does not parse ({Reason}); moved to spool/rejected")]
    private partial void LogUnreadable(string path, string reason);

    [LoggerMessage(EventId = 1157, Level = LogLevel.Warning, Message = "Spool slot {Path} has a completion proof but fails the receiver's check ({Reason}): never acknowledged; moved to spool/rejected")]
    private partial void LogRefusedByCheck(string path, string reason);

    [LoggerMessage(EventId = 1154, Level = LogLevel.Warning, Message = "Recovered {SopInstanceUid} from {Path}: its file was complete but its database record was lost")]
    private partial void LogRecovered(string sopInstanceUid, string path);

    [LoggerMessage(EventId = 1155, Level = LogLevel.Information, Message = "Spool reconciled: {Recovered} instances re-recorded, {Free} empty slots reused, {Incomplete} queued records with an incomplete file failed")]
    private partial void LogReconciled(int recovered, int free, int incomplete);

    [LoggerMessage(EventId = 1156, Level = LogLevel.Warning, Message = "Queued instance {SopInstanceUid} has an incomplete spool file {Path} ({Reason}): never acknowledged; marked failed and quarantined")]
    private partial void LogUnprovenRecord(string sopInstanceUid, string path, string reason);
}

/// <summary>Runs <see cref="SpoolRecovery"/> before the listener starts, then keeps the slot pool topped up.</summary>
public sealed class SpoolSlotService(SpoolRecovery recovery, SpoolSlots slots) : BackgroundService
{
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await recovery.RunAsync(cancellationToken).ConfigureAwait(false);
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => slots.RefillLoopAsync(stoppingToken);
}
