using System.Buffers.Binary;
using System.Net.Sockets;
using MedVision.Dicom.IO;

namespace MedVision.Dicom.Network;

/// <summary>Thrown when the peer answers A-ASSOCIATE-RQ with A-ASSOCIATE-RJ.</summary>
public sealed class DicomAssociationRejectedException(byte result, byte source, byte reason)
    : Exception($"Association rejected (result {result}, source {source}, reason {reason}).")
{
    public byte Result { get; } = result;
    public byte RejectSource { get; } = source;
    public byte Reason { get; } = reason;
}

/// <summary>
/// A requestor (SCU) for one association: C-ECHO and C-STORE, one operation at a time. Used by the CLI and by tests
/// that must send what dcmtk refuses to send (damaged data sets).
/// </summary>
public sealed class DicomClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly Dictionary<byte, (string AbstractSyntax, DicomTransferSyntax Syntax)> _accepted;
    private readonly uint _peerMaxPdu;
    private ushort _messageId;

    private DicomClient(TcpClient tcp, NetworkStream stream, Dictionary<byte, (string, DicomTransferSyntax)> accepted, uint peerMaxPdu)
    {
        _tcp = tcp;
        _stream = stream;
        _accepted = accepted;
        _peerMaxPdu = peerMaxPdu;
    }

    public IReadOnlyDictionary<byte, (string AbstractSyntax, DicomTransferSyntax Syntax)> AcceptedContexts => _accepted;

    public static async Task<DicomClient> ConnectAsync(
        string host, int port, string callingAe, string calledAe,
        IReadOnlyList<PresentationContextProposal> contexts, CancellationToken cancellationToken, uint maxPduLength = 116_794)
    {
        var tcp = new TcpClient { NoDelay = true };
        try
        {
            await tcp.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
            var stream = tcp.GetStream();
            await stream.WriteAsync(PduCodec.EncodeAssociateRequest(calledAe, callingAe, contexts, maxPduLength), cancellationToken).ConfigureAwait(false);
            var pdu = await ReadPduAsync(stream, cancellationToken).ConfigureAwait(false);
            if (pdu.Type == PduType.AssociateReject)
            {
                throw new DicomAssociationRejectedException(pdu.Body[1], pdu.Body[2], pdu.Body[3]);
            }
            if (pdu.Type != PduType.AssociateAccept)
            {
                throw new DicomFormatException($"Expected A-ASSOCIATE-AC, got {pdu.Type}.");
            }
            var (answers, peerMax) = PduCodec.ParseAssociateAccept(pdu.Body);
            var accepted = new Dictionary<byte, (string, DicomTransferSyntax)>();
            foreach (var answer in answers.Where(a => a.Result == PresentationContextResult.Acceptance))
            {
                var proposal = contexts.FirstOrDefault(c => c.Id == answer.Id);
                if (proposal is not null)
                {
                    accepted[answer.Id] = (proposal.AbstractSyntax, DicomTransferSyntax.Parse(answer.TransferSyntax));
                }
            }
            return new DicomClient(tcp, stream, accepted, peerMax);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    public async Task<DicomStatus> EchoAsync(CancellationToken cancellationToken)
    {
        var context = FindContext("1.2.840.10008.1.1");
        var command = new DicomDataset()
            .AddOrUpdate(DicomTags.AffectedSOPClassUID, DicomVR.UI, "1.2.840.10008.1.1")
            .AddOrUpdate(DicomTags.CommandField, DicomVR.US, DimseCommand.CEchoRequest)
            .AddOrUpdate(DicomTags.MessageID, DicomVR.US, ++_messageId)
            .AddOrUpdate(DicomTags.CommandDataSetType, DicomVR.US, DimseCommand.NoDataSet);
        await SendAsync(context, DimseCommand.Encode(command), isCommand: true, cancellationToken).ConfigureAwait(false);
        return await ReadStatusAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends a file's data set, re-encoded in the accepted syntax when both are uncompressed.</summary>
    public Task<DicomStatus> StoreAsync(DicomFile file, CancellationToken cancellationToken)
    {
        var sopClass = file.Dataset.GetStringOrDefault(DicomTags.SOPClassUID) ?? throw new ArgumentException("No SOP Class UID.", nameof(file));
        var sopInstance = file.Dataset.GetStringOrDefault(DicomTags.SOPInstanceUID) ?? throw new ArgumentException("No SOP Instance UID.", nameof(file));
        var context = FindContext(sopClass);
        var syntax = _accepted[context].Syntax;
        if (syntax.IsEncapsulated != file.TransferSyntax.IsEncapsulated || (syntax.IsEncapsulated && syntax != file.TransferSyntax))
        {
            throw new InvalidOperationException($"The peer accepted {syntax.Name}; this file is {file.TransferSyntax.Name} and transcoding is not available.");
        }
        var body = new MemoryStream();
        DicomWriter.WriteDataset(body, file.Dataset, syntax);
        return StoreRawAsync(sopClass, sopInstance, body.ToArray(), cancellationToken);
    }

    /// <summary>Sends bytes as the data set of a C-STORE, exactly as given.</summary>
    public async Task<DicomStatus> StoreRawAsync(string sopClassUid, string sopInstanceUid, ReadOnlyMemory<byte> dataset, CancellationToken cancellationToken)
    {
        var context = FindContext(sopClassUid);
        var command = new DicomDataset()
            .AddOrUpdate(DicomTags.AffectedSOPClassUID, DicomVR.UI, sopClassUid)
            .AddOrUpdate(DicomTags.CommandField, DicomVR.US, DimseCommand.CStoreRequest)
            .AddOrUpdate(DicomTags.MessageID, DicomVR.US, ++_messageId)
            .AddOrUpdate(DicomTags.Priority, DicomVR.US, (ushort)0)
            .AddOrUpdate(DicomTags.CommandDataSetType, DicomVR.US, (ushort)0x0000)
            .AddOrUpdate(DicomTags.AffectedSOPInstanceUID, DicomVR.UI, sopInstanceUid);
        await SendAsync(context, DimseCommand.Encode(command), isCommand: true, cancellationToken).ConfigureAwait(false);
        await SendAsync(context, dataset, isCommand: false, cancellationToken).ConfigureAwait(false);
        return await ReadStatusAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task ReleaseAsync(CancellationToken cancellationToken)
    {
        await _stream.WriteAsync(PduCodec.EncodeReleaseRequest(), cancellationToken).ConfigureAwait(false);
        var pdu = await ReadPduAsync(_stream, cancellationToken).ConfigureAwait(false);
        if (pdu.Type != PduType.ReleaseResponse)
        {
            throw new DicomFormatException($"Expected A-RELEASE-RP, got {pdu.Type}.");
        }
    }

    public async Task AbortAsync(CancellationToken cancellationToken) =>
        await _stream.WriteAsync(PduCodec.EncodeAbort(0, 0), cancellationToken).ConfigureAwait(false);

    private byte FindContext(string abstractSyntax)
    {
        foreach (var (id, context) in _accepted)
        {
            if (context.AbstractSyntax == abstractSyntax)
            {
                return id;
            }
        }
        throw new InvalidOperationException($"No accepted presentation context for {abstractSyntax}.");
    }

    private async Task SendAsync(byte context, ReadOnlyMemory<byte> data, bool isCommand, CancellationToken cancellationToken)
    {
        var max = _peerMaxPdu == 0 ? 1 << 20 : (int)Math.Max(_peerMaxPdu - 6, 1);
        var offset = 0;
        do
        {
            var chunk = Math.Min(max, data.Length - offset);
            var last = offset + chunk == data.Length;
            var body = new byte[6 + chunk];
            BinaryPrimitives.WriteUInt32BigEndian(body, (uint)(chunk + 2));
            body[4] = context;
            body[5] = (byte)((isCommand ? 1 : 0) | (last ? 2 : 0));
            data.Span.Slice(offset, chunk).CopyTo(body.AsSpan(6));
            await _stream.WriteAsync(PduCodec.Frame(PduType.DataTransfer, body), cancellationToken).ConfigureAwait(false);
            offset += chunk;
        }
        while (offset < data.Length);
    }

    private async Task<DicomStatus> ReadStatusAsync(CancellationToken cancellationToken)
    {
        var command = new MemoryStream();
        while (true)
        {
            var pdu = await ReadPduAsync(_stream, cancellationToken).ConfigureAwait(false);
            if (pdu.Type != PduType.DataTransfer)
            {
                throw new DicomFormatException($"Expected a response, got {pdu.Type}.");
            }
            var pos = 0;
            var last = false;
            while (pos < pdu.Body.Length)
            {
                var length = (int)BinaryPrimitives.ReadUInt32BigEndian(pdu.Body.AsSpan(pos));
                var control = pdu.Body[pos + 5];
                command.Write(pdu.Body, pos + 6, length - 2);
                last = (control & 3) == 3;
                pos += 4 + length;
            }
            if (last)
            {
                break;
            }
        }
        var response = DimseCommand.Parse(command.ToArray());
        var code = (ushort)response.GetIntOrDefault(DicomTags.Status, 0xFFFF);
        return new DicomStatus(code, response.GetStringOrDefault(DicomTags.ErrorComment) ?? string.Empty);
    }

    private static async Task<RawPdu> ReadPduAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var header = new byte[6];
        await stream.ReadExactlyAsync(header, cancellationToken).ConfigureAwait(false);
        var length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(2));
        if (length > 64 * 1024 * 1024)
        {
            throw new DicomFormatException($"PDU of {length} bytes refused.");
        }
        var body = new byte[length];
        await stream.ReadExactlyAsync(body, cancellationToken).ConfigureAwait(false);
        return new RawPdu((PduType)header[0], body);
    }

    public ValueTask DisposeAsync()
    {
        _stream.Dispose();
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
