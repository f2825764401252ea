using MedVision.Dicom.IO;

namespace MedVision.Dicom.Network;

/// <summary>Storage Commitment Push Model (PS3.4 J): a peer asks whether instances are safely stored here.</summary>
public static class StorageCommitment
{
    public const string SopClassUid = "1.2.840.10008.1.20.1";
    public const string SopInstanceUid = "1.2.840.10008.1.20.1.1";

    /// <summary>Event Type ID 1: every instance committed; 2: some failed (PS3.4 J.3.3).</summary>
    public const ushort AllSucceeded = 1;
    public const ushort SomeFailed = 2;

    /// <summary>Failure Reason 0x0112: no such object instance; 0x0110: processing failure (PS3.4 J.3.3.1.1).</summary>
    public const ushort NoSuchObjectInstance = 0x0112;
    public const ushort ProcessingFailure = 0x0110;

    /// <summary>The Event Information of an N-EVENT-REPORT for a transaction.</summary>
    public static (ushort EventTypeId, DicomDataset Report) CreateReport(string transactionUid, IEnumerable<SopReference> committed, IEnumerable<(SopReference Reference, ushort Reason)> failed)
    {
        var report = new DicomDataset().AddOrUpdate(DicomTags.TransactionUID, DicomVR.UI, transactionUid);
        var ok = new DicomSequence(DicomTags.ReferencedSOPSequence, committed.Select(r => r.ToItem()));
        var bad = new DicomSequence(DicomTags.FailedSOPSequence, failed.Select(f => f.Reference.ToItem().AddOrUpdate(DicomTags.FailureReason, DicomVR.US, f.Reason)));
        if (ok.Items.Count > 0)
        {
            report.AddOrUpdate(ok);
        }
        if (bad.Items.Count > 0)
        {
            report.AddOrUpdate(bad);
        }
        return (bad.Items.Count == 0 ? AllSucceeded : SomeFailed, report);
    }
}

public sealed record SopReference(string SopClassUid, string SopInstanceUid)
{
    public DicomDataset ToItem() => new DicomDataset()
        .AddOrUpdate(DicomTags.ReferencedSOPClassUID, DicomVR.UI, SopClassUid)
        .AddOrUpdate(DicomTags.ReferencedSOPInstanceUID, DicomVR.UI, SopInstanceUid);
}

/// <summary>Takes a commitment request; the report is sent later (on a new association) by the implementation.</summary>
public interface IStorageCommitmentHandler
{
    /// <summary>Success once the request is recorded; the N-ACTION response carries this status.</summary>
    ValueTask<DicomStatus> OnCommitmentRequestedAsync(AssociationInfo association, string transactionUid, IReadOnlyList<SopReference> references, CancellationToken cancellationToken);
}

/// <summary>Collects an N-ACTION data set (small: a list of references) and hands the parsed request over.</summary>
internal sealed class CommitmentRequestTarget(IStorageCommitmentHandler handler, AssociationInfo association, DicomTransferSyntax syntax) : ICStoreTarget
{
    private const int MaxLength = 16 * 1024 * 1024;
    private readonly MemoryStream _bytes = new();

    public ValueTask WriteAsync(ReadOnlyMemory<byte> fragment, CancellationToken cancellationToken)
    {
        if (_bytes.Length + fragment.Length > MaxLength)
        {
            throw new DicomFormatException($"Storage commitment request larger than {MaxLength} bytes.");
        }
        _bytes.Write(fragment.Span);
        return ValueTask.CompletedTask;
    }

    public async ValueTask<DicomStatus> CompleteAsync(CancellationToken cancellationToken)
    {
        DicomDataset request;
        try
        {
            _bytes.Position = 0;
            request = DicomReader.ReadDataset(_bytes, syntax);
        }
        catch (DicomFormatException)
        {
            return new DicomStatus(0x0110, "Processing failure: unreadable request");
        }
        var transaction = request.GetStringOrDefault(DicomTags.TransactionUID);
        if (string.IsNullOrEmpty(transaction) || !request.TryGetSequence(DicomTags.ReferencedSOPSequence, out var sequence))
        {
            // Missing Attribute (PS3.7 C.4.2.1.6).
            return new DicomStatus(0x0120, "Missing Transaction UID or Referenced SOP Sequence");
        }
        var references = sequence.Items
            .Select(i => new SopReference(i.GetStringOrDefault(DicomTags.ReferencedSOPClassUID) ?? string.Empty, i.GetStringOrDefault(DicomTags.ReferencedSOPInstanceUID) ?? string.Empty))
            .ToList();
        return await handler.OnCommitmentRequestedAsync(association, transaction, references, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => _bytes.DisposeAsync();
}
