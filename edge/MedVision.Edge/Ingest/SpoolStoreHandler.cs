using System.Buffers;
using System.IO.Hashing;
using MedVision.Dicom;
using MedVision.Dicom.IO;
using MedVision.Dicom.Network;
using MedVision.Edge.Pipeline;
using MedVision.Edge.Storage;
using Microsoft.Extensions.Options;
using Microsoft.Win32.SafeHandles;

namespace MedVision.Edge.Ingest;

/// <summary>
/// Writes each incoming instance straight into a pre-created spool slot (see <see cref="SpoolSlots"/>) while its PDVs
/// arrive, stamps it with a completion proof (<see cref="SpoolProof"/>), and then flushes it once while it checks that
/// it parses and records it in SQLite — all before C-STORE success is sent. The record's commit skips its own WAL
/// flush: a record lost to a power cut is rebuilt at start-up from the proven file (<see cref="SpoolRecovery"/>).
/// What fails to parse is kept in spool/rejected with the reason, never silently dropped.
/// </summary>
public sealed partial class SpoolStoreHandler(
    IOptions<StorageOptions> storage,
    IStudyStore store,
    DiskSpace diskSpace,
    SpoolSlots slots,
    PipelineSignal pipeline,
    IngestStatistics statistics,
    TimeProvider clock,
    ILogger<SpoolStoreHandler> logger) : ICStoreHandler
{
    public ValueTask<ICStoreTarget> BeginStoreAsync(CStoreRequest request, CancellationToken cancellationToken)
    {
        if (!diskSpace.HasRoomFor(0))
        {
            statistics.Rejected("disk-full");
            LogDiskFull(request.SopInstanceUid, request.Association.CallingAeTitle);
            return ValueTask.FromResult<ICStoreTarget>(new RefusingStoreTarget(DicomStatus.OutOfResources));
        }
        var slot = slots.Take();
        // Plain synchronous positional writes: each is a copy into the page cache, so an async file API would only add
        // a thread-pool hop per fragment. The one blocking call per instance is the flush in CompleteAsync.
        var file = File.OpenHandle(slot, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            var meta = DicomFile.CreateFileMetaInfo(request.SopClassUid, request.SopInstanceUid, request.TransferSyntax, request.Association.CallingAeTitle);
            var header = SpoolProof.Header(meta, request.TransferSyntax);
            RandomAccess.Write(file, header, 0);
            return ValueTask.FromResult<ICStoreTarget>(new SpoolTarget(this, request, file, slot, header));
        }
        catch
        {
            file.Dispose();
            File.Delete(slot);
            throw;
        }
    }

    /// <summary>Why a received data set may not be acknowledged; its file goes to spool/rejected.</summary>
    internal sealed record Rejection(string Reason, string Detail, DicomStatus Status);

    /// <summary>
    /// Parses and checks the received file (from <paramref name="copy"/>, the same bytes, when the instance was small
    /// enough to keep one); no rejection when it may be acknowledged.
    /// </summary>
    private (Rejection? Rejection, ReceivedInstance? Instance, IReadOnlyList<string> Warnings) Check(CStoreRequest request, string path, ArraySegment<byte>? copy)
    {
        DicomFile parsed;
        try
        {
            var options = new DicomReadOptions { LargeValueThreshold = 1024 };
            parsed = copy is { } bytes
                ? DicomReader.Read(new MemoryStream(bytes.Array!, bytes.Offset, bytes.Count, writable: false), options)
                : DicomReader.ReadFile(path, options);
        }
        catch (DicomFormatException ex)
        {
            return (new Rejection("unparseable", ex.Message, DicomStatus.CannotUnderstand), null, []);
        }

        if (CheckIdentity(parsed.Dataset, request.SopInstanceUid) is { } rejection)
        {
            return (rejection, null, []);
        }
        var received = ToReceived(parsed, path, 0, clock.GetUtcNow()) with
        {
            SopClassUid = request.SopClassUid,
            TransferSyntaxUid = request.TransferSyntax.Uid,
            CallingAe = request.Association.CallingAeTitle,
        };
        return (null, received, parsed.Warnings);
    }

    /// <summary>
    /// The identity every stored instance needs: a SOP Instance UID (the command's, when there was one) and a Study
    /// Instance UID. Start-up recovery repeats it without a command, for a refused file whose proof a cut kept.
    /// </summary>
    internal static Rejection? CheckIdentity(DicomDataset dataset, string? announcedSopInstanceUid)
    {
        var sopInstance = dataset.GetStringOrDefault(DicomTags.SOPInstanceUID);
        if (announcedSopInstanceUid is not null && sopInstance != announcedSopInstanceUid)
        {
            return new Rejection("mismatch", $"data set SOP Instance UID '{sopInstance}' differs from the command's '{announcedSopInstanceUid}'", DicomStatus.DataSetDoesNotMatchSopClass);
        }
        if (string.IsNullOrEmpty(sopInstance))
        {
            return new Rejection("no-instance", "data set has no SOP Instance UID", DicomStatus.DataSetDoesNotMatchSopClass);
        }
        if (string.IsNullOrEmpty(dataset.GetStringOrDefault(DicomTags.StudyInstanceUID)))
        {
            return new Rejection("no-study", "data set has no Study Instance UID", DicomStatus.DataSetDoesNotMatchSopClass);
        }
        return null;
    }

    /// <summary>What the database records for a spooled file; also used by start-up recovery.</summary>
    internal static ReceivedInstance ToReceived(DicomFile parsed, string path, long size, DateTimeOffset receivedUtc)
    {
        var dataset = parsed.Dataset;
        return new ReceivedInstance(
            dataset.GetStringOrDefault(DicomTags.SOPInstanceUID) ?? "",
            parsed.FileMetaInfo.GetStringOrDefault(DicomTags.MediaStorageSOPClassUID) ?? dataset.GetStringOrDefault(DicomTags.SOPClassUID) ?? "",
            dataset.GetStringOrDefault(DicomTags.StudyInstanceUID) ?? "",
            dataset.GetStringOrDefault(DicomTags.SeriesInstanceUID),
            dataset.GetStringOrDefault(DicomTags.Modality),
            dataset.GetStringOrDefault(DicomTags.PatientID),
            dataset.GetStringOrDefault(DicomTags.PatientName),
            dataset.GetStringOrDefault(DicomTags.StudyDate),
            dataset.GetStringOrDefault(DicomTags.AccessionNumber),
            parsed.TransferSyntax.Uid,
            parsed.FileMetaInfo.GetStringOrDefault(DicomTags.SourceApplicationEntityTitle) ?? "",
            path,
            size,
            receivedUtc);
    }

    /// <summary>Records the instance; returns the replaced copy's path, to delete once the new copy is durable.</summary>
    private async ValueTask<string?> RecordAsync(CStoreRequest request, ReceivedInstance received, CancellationToken cancellationToken)
    {
        // This commit skips the WAL flush: a record lost to a power cut is rebuilt from the proven file, and a record
        // whose file did not become durable is caught by start-up recovery (see SpoolRecovery).
        var result = await store.RecordReceivedAsync(received, syncToDisk: false, cancellationToken).ConfigureAwait(false);
        if (!result.IsDuplicate)
        {
            return null;
        }
        statistics.Duplicate();
        LogDuplicate(request.SopInstanceUid, request.Association.CallingAeTitle);
        return result.PreviousSpoolPath is { } old && old != received.SpoolPath ? old : null;
    }

    private DicomStatus Acknowledge(CStoreRequest request, ReceivedInstance received, IReadOnlyList<string> warnings, long datasetBytes, string? replaced)
    {
        if (replaced is not null && File.Exists(replaced))
        {
            File.Delete(replaced);
        }
        statistics.Stored(datasetBytes);
        foreach (var warning in warnings)
        {
            LogReadWarning(request.SopInstanceUid, warning);
        }
        LogStored(request.SopInstanceUid, received.Modality, received.StudyInstanceUid, request.Association.CallingAeTitle, datasetBytes);
        pipeline.Notify();
        return DicomStatus.Success;
    }

    private DicomStatus Quarantine(CStoreRequest request, string partialPath, Rejection rejection)
    {
        var (reason, detail, status) = rejection;
        var rejected = Path.Combine(storage.Value.SpoolDirectory, "rejected");
        Directory.CreateDirectory(rejected);
        var name = $"{clock.GetUtcNow():yyyyMMddTHHmmssfff}-{SafeName(request.SopInstanceUid)}";
        File.Move(partialPath, Path.Combine(rejected, name + ".dcm"), overwrite: true);
        File.WriteAllText(
            Path.Combine(rejected, name + ".txt"),
            $"calling AE: {request.Association.CallingAeTitle}\nremote: {request.Association.RemoteEndPoint}\nSOP Class: {request.SopClassUid}\nSOP Instance: {request.SopInstanceUid}\ntransfer syntax: {request.TransferSyntax.Uid}\nstatus: {status}\nreason: {detail}\n");
        statistics.Rejected(reason);
        LogRejected(request.SopInstanceUid, request.Association.CallingAeTitle, detail, status.Code);
        return status;
    }

    /// <summary>UIDs are digits and dots; anything else in a file name is replaced so a hostile UID cannot escape the spool.</summary>
    internal static string SafeName(string uid)
    {
        var chars = uid.Trim().Select(c => char.IsAsciiDigit(c) || c == '.' || char.IsAsciiLetter(c) ? c : '_').ToArray();
        var name = new string(chars).Trim('.');
        return name.Length == 0 ? "_" : name.Length > 128 ? name[..128] : name;
    }

    [LoggerMessage(EventId = 1100, Level = LogLevel.Information, Message = "Stored {SopInstanceUid} ({Modality}) of study {StudyUid} from {CallingAe}, {Bytes} bytes")]
    private partial void LogStored(string sopInstanceUid, string? modality, string studyUid, string callingAe, long bytes);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "Rejected {SopInstanceUid} from {CallingAe}: {Reason} (status 0x{Status:X4}); kept in spool/rejected")]
    private partial void LogRejected(string sopInstanceUid, string callingAe, string reason, ushort status);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Refused {SopInstanceUid} from {CallingAe}: free disk below the watermark")]
    private partial void LogDiskFull(string sopInstanceUid, string callingAe);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Information, Message = "{SopInstanceUid} from {CallingAe} was already stored; the new copy replaces it")]
    private partial void LogDuplicate(string sopInstanceUid, string callingAe);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Debug, Message = "{SopInstanceUid}: {Warning}")]
    private partial void LogReadWarning(string sopInstanceUid, string warning);

    private sealed class SpoolTarget(SpoolStoreHandler owner, CStoreRequest request, SafeFileHandle file, string slot, byte[] header) : ICStoreTarget
    {
        // Small enough that the device keeps pace with a large instance as it arrives, so the flush at its end waits
        // mostly for the last chunk (MR 2 MB, per-step timer: flush 1.1 -> 0.6 ms; the 8 calls cost the reader 0.4 ms).
        private const long WritebackChunk = 256 << 10;
        // Up to this size the check parses a copy kept in memory instead of opening and reading the file again. Larger
        // instances give their copy up when they pass it, so a low limit wastes less copying on them (MR 2 MB: 229 µs of
        // copying at 1 MB, 38 µs at 256 kB).
        private const int CopyLimit = 256 << 10;
        private readonly long _headerLength = header.Length;
        private readonly Crc32 _crc = new();
        private byte[]? _copy = CopyOf(header);
        private int _copyLength = header.Length;
        private long _bytes;
        private long _writebackFrom;
        private bool _closed;
        private bool _kept;

        private static byte[] CopyOf(byte[] header)
        {
            var copy = ArrayPool<byte>.Shared.Rent(Math.Max(64 * 1024, header.Length));
            header.CopyTo(copy, 0);
            return copy;
        }

        public ValueTask WriteAsync(ReadOnlyMemory<byte> fragment, CancellationToken cancellationToken)
        {
            var written = _headerLength + _bytes;
            RandomAccess.Write(file, fragment.Span, written);
            Keep(fragment.Span);
            _crc.Append(fragment.Span);
            _bytes += fragment.Length;
            written += fragment.Length;
            if (written - _writebackFrom >= WritebackChunk)
            {
                // Overlaps the device write of a large instance with receiving the rest of it.
                Durability.StartWriteback(file, _writebackFrom, written - _writebackFrom);
                _writebackFrom = written;
            }
            return ValueTask.CompletedTask;
        }

        public async ValueTask<DicomStatus> CompleteAsync(CancellationToken cancellationToken)
        {
            // The proof goes in before the check, so the one device flush (data, proof and size together; the slot's
            // name is durable already) runs while the instance is parsed and recorded: the waits overlap, and success is
            // sent only after all of them. A rejected instance has its proof taken back before it is quarantined.
            SpoolProof.Write(file, _headerLength, _bytes, _crc.GetCurrentHashAsUInt32());
            var flush = Task.Run(() => Durability.FlushData(file), CancellationToken.None);
            Rejection? rejection = null;
            ReceivedInstance? received = null;
            IReadOnlyList<string> warnings = [];
            string? replaced = null;
            var recorded = false;
            try
            {
                (rejection, received, warnings) = owner.Check(request, slot, KeptCopy);
                ReleaseCopy();
                if (rejection is null)
                {
                    received = received! with { SizeBytes = _headerLength + _bytes };
                    replaced = await owner.RecordAsync(request, received, cancellationToken).ConfigureAwait(false);
                    recorded = true;
                }
            }
            finally
            {
                try
                {
                    await flush.ConfigureAwait(false);
                }
                catch (IOException) when (!recorded)
                {
                    // Not acknowledged either way; the flush that takes the proof back reports a device that keeps failing.
                }
                finally
                {
                    if (!recorded)
                    {
                        TakeBackProof();
                    }
                    Close();
                    // A rejected file is quarantined below; one that failed otherwise is deleted as never acknowledged.
                    _kept = recorded || rejection is not null;
                }
            }
            return rejection is not null
                ? owner.Quarantine(request, slot, rejection)
                : owner.Acknowledge(request, received!, warnings, _bytes, replaced);
        }

        /// <summary>
        /// Zeroes the proof of a data set that will not be acknowledged, durably, so start-up recovery never mistakes its
        /// file (whose move to quarantine or deletion may not survive a power cut) for an acknowledged instance.
        /// </summary>
        private void TakeBackProof()
        {
            SpoolProof.Clear(file, _headerLength);
            Durability.FlushData(file);
        }

        /// <summary>The file's bytes so far, while the instance is small enough to keep them.</summary>
        private ArraySegment<byte>? KeptCopy => _copy is null ? default(ArraySegment<byte>?) : new ArraySegment<byte>(_copy, 0, _copyLength);

        private void Keep(ReadOnlySpan<byte> bytes)
        {
            if (_copy is null)
            {
                return;
            }
            if (_copyLength + bytes.Length > CopyLimit)
            {
                ReleaseCopy();
                return;
            }
            if (_copyLength + bytes.Length > _copy.Length)
            {
                var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_copyLength + bytes.Length, _copy.Length * 2));
                _copy.AsSpan(0, _copyLength).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_copy);
                _copy = larger;
            }
            bytes.CopyTo(_copy.AsSpan(_copyLength));
            _copyLength += bytes.Length;
        }

        private void ReleaseCopy()
        {
            if (_copy is not null)
            {
                ArrayPool<byte>.Shared.Return(_copy);
                _copy = null;
            }
        }

        private void Close()
        {
            ReleaseCopy();
            file.Dispose();
            _closed = true;
        }

        public ValueTask DisposeAsync()
        {
            if (!_closed)
            {
                Close();
            }
            if (!_kept && File.Exists(slot))
            {
                // Never acknowledged (association dropped mid-transfer): the sender still owns the instance.
                File.Delete(slot);
            }
            return ValueTask.CompletedTask;
        }
    }
}
