using MedVision.Dicom;
using MedVision.Dicom.IO;
using MedVision.Dicom.Network;
using MedVision.Edge.Pipeline;
using MedVision.Edge.Storage;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Ingest;

/// <summary>
/// Writes each incoming instance straight into the spool as a Part 10 file while its PDVs arrive, then makes it durable
/// (fsync of file and folder), checks it parses, and records it in SQLite — all before C-STORE success is sent.
/// What fails to parse is kept in spool/rejected with the reason, never silently dropped.
/// </summary>
public sealed partial class SpoolStoreHandler(
    IOptions<StorageOptions> storage,
    IStudyStore store,
    DiskSpace diskSpace,
    PipelineSignal pipeline,
    IngestStatistics statistics,
    TimeProvider clock,
    ILogger<SpoolStoreHandler> logger) : ICStoreHandler
{
    private const string PartialSuffix = ".partial";

    public ValueTask<ICStoreTarget> BeginStoreAsync(CStoreRequest request, CancellationToken cancellationToken)
    {
        if (!diskSpace.HasRoomFor(0))
        {
            statistics.Rejected("disk-full");
            LogDiskFull(request.SopInstanceUid, request.Association.CallingAeTitle);
            return ValueTask.FromResult<ICStoreTarget>(new RefusingStoreTarget(DicomStatus.OutOfResources));
        }
        var incoming = Path.Combine(storage.Value.SpoolDirectory, "incoming");
        Directory.CreateDirectory(incoming);
        var partial = Path.Combine(incoming, $"{SafeName(request.SopInstanceUid)}.{Guid.NewGuid():N}{PartialSuffix}");
        var file = new FileStream(partial, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
        var meta = DicomFile.CreateFileMetaInfo(request.SopClassUid, request.SopInstanceUid, request.TransferSyntax, request.Association.CallingAeTitle);
        Span<byte> preamble = stackalloc byte[132];
        preamble.Clear();
        "DICM"u8.CopyTo(preamble[128..]);
        file.Write(preamble);
        DicomWriter.WriteFileMetaInfo(file, meta, request.TransferSyntax);
        return ValueTask.FromResult<ICStoreTarget>(new SpoolTarget(this, request, file, partial));
    }

    private async ValueTask<DicomStatus> CompleteAsync(CStoreRequest request, string partialPath, long datasetBytes, CancellationToken cancellationToken)
    {
        DicomFile parsed;
        try
        {
            parsed = DicomReader.ReadFile(partialPath, new DicomReadOptions { LargeValueThreshold = 1024 });
        }
        catch (DicomFormatException ex)
        {
            return Quarantine(request, partialPath, "unparseable", ex.Message, DicomStatus.CannotUnderstand);
        }

        var dataset = parsed.Dataset;
        var sopInstance = dataset.GetStringOrDefault(DicomTags.SOPInstanceUID);
        var studyUid = dataset.GetStringOrDefault(DicomTags.StudyInstanceUID);
        if (sopInstance != request.SopInstanceUid)
        {
            return Quarantine(request, partialPath, "mismatch", $"data set SOP Instance UID '{sopInstance}' differs from the command's '{request.SopInstanceUid}'", DicomStatus.DataSetDoesNotMatchSopClass);
        }
        if (string.IsNullOrEmpty(studyUid))
        {
            return Quarantine(request, partialPath, "no-study", "data set has no Study Instance UID", DicomStatus.DataSetDoesNotMatchSopClass);
        }

        var studyDirectory = Path.Combine(storage.Value.SpoolDirectory, SafeName(studyUid));
        Directory.CreateDirectory(studyDirectory);
        var finalPath = Path.Combine(studyDirectory, SafeName(request.SopInstanceUid) + ".dcm");
        File.Move(partialPath, finalPath, overwrite: true);
        Durability.FsyncDirectory(studyDirectory);

        var received = new ReceivedInstance(
            request.SopInstanceUid,
            request.SopClassUid,
            studyUid,
            dataset.GetStringOrDefault(DicomTags.SeriesInstanceUID),
            dataset.GetStringOrDefault(DicomTags.Modality),
            dataset.GetStringOrDefault(DicomTags.PatientID),
            dataset.GetStringOrDefault(DicomTags.PatientName),
            dataset.GetStringOrDefault(DicomTags.StudyDate),
            dataset.GetStringOrDefault(DicomTags.AccessionNumber),
            request.TransferSyntax.Uid,
            request.Association.CallingAeTitle,
            finalPath,
            new FileInfo(finalPath).Length,
            clock.GetUtcNow());
        var result = await store.RecordReceivedAsync(received, cancellationToken).ConfigureAwait(false);
        if (result.IsDuplicate)
        {
            statistics.Duplicate();
            LogDuplicate(request.SopInstanceUid, request.Association.CallingAeTitle);
            if (result.PreviousSpoolPath is { } old && old != finalPath && File.Exists(old))
            {
                File.Delete(old);
            }
        }
        statistics.Stored(datasetBytes);
        foreach (var warning in parsed.Warnings)
        {
            LogReadWarning(request.SopInstanceUid, warning);
        }
        LogStored(request.SopInstanceUid, received.Modality, studyUid, request.Association.CallingAeTitle, datasetBytes);
        pipeline.Notify();
        return DicomStatus.Success;
    }

    private DicomStatus Quarantine(CStoreRequest request, string partialPath, string reason, string detail, DicomStatus status)
    {
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

    private sealed class SpoolTarget(SpoolStoreHandler owner, CStoreRequest request, FileStream file, string partialPath) : ICStoreTarget
    {
        private long _bytes;
        private bool _closed;
        private bool _kept;

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> fragment, CancellationToken cancellationToken)
        {
            await file.WriteAsync(fragment, cancellationToken).ConfigureAwait(false);
            _bytes += fragment.Length;
        }

        public async ValueTask<DicomStatus> CompleteAsync(CancellationToken cancellationToken)
        {
            await file.FlushAsync(cancellationToken).ConfigureAwait(false);
            file.Flush(flushToDisk: true);
            await file.DisposeAsync().ConfigureAwait(false);
            _closed = true;
            var status = await owner.CompleteAsync(request, partialPath, _bytes, cancellationToken).ConfigureAwait(false);
            _kept = true;
            return status;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_closed)
            {
                await file.DisposeAsync().ConfigureAwait(false);
            }
            if (!_kept && File.Exists(partialPath))
            {
                // Never acknowledged (association dropped mid-transfer): the sender still owns the instance.
                File.Delete(partialPath);
            }
        }
    }
}
