using System.Buffers.Binary;
using System.Net.Sockets;
using MedVision.Dicom.IO;

namespace MedVision.Dicom.Network;

public sealed record MoveResult(DicomStatus Status, int Completed, int Failed, int Warnings);

/// <summary>The peer's answer to one C-STORE of <see cref="DicomClient.StoreManyAsync"/>.</summary>
public sealed record StoreResult(string SopInstanceUid, ushort MessageId, DicomStatus Status);

/// <summary>An instance received as a C-GET sub-operation: its data set decoded from the accepted transfer syntax.</summary>
public sealed record RetrievedInstance(string SopClassUid, string SopInstanceUid, DicomTransferSyntax TransferSyntax, DicomDataset Dataset);

/// <summary>Thrown when the peer answers A-ASSOCIATE-RQ with A-ASSOCIATE-RJ.</summary>
public sealed class DicomAssociationRejectedException(byte result, byte source, byte reason)
    : Exception($"Association rejected (result {result}, source {source}, reason {reason}).")
{
    public byte Result { get; } = result;
    public byte RejectSource { get; } = source;
    public byte Reason { get; } = reason;
}

/// <summary>
/// A requestor (SCU) for one association: C-ECHO, C-STORE, C-FIND/MOVE/GET and N-ACTION/N-EVENT-REPORT, one operation at a
/// time, except <see cref="StoreManyAsync"/>, which keeps as many C-STOREs outstanding as the acceptor granted in the
/// asynchronous operations window. Used by the CLI and by tests that must send what dcmtk refuses to send (damaged data sets).
/// </summary>
public sealed class DicomClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly Stream _stream;
    private readonly Dictionary<byte, (string AbstractSyntax, DicomTransferSyntax Syntax)> _accepted;
    private readonly uint _peerMaxPdu;
    private ushort _messageId;

    private DicomClient(TcpClient tcp, Stream stream, Dictionary<byte, (string, DicomTransferSyntax)> accepted, uint peerMaxPdu, int operationsWindow, AssociateAccept accept)
    {
        _tcp = tcp;
        _stream = stream;
        _accepted = accepted;
        _peerMaxPdu = peerMaxPdu;
        OperationsWindow = operationsWindow;
        Accept = accept;
    }

    public IReadOnlyDictionary<byte, (string AbstractSyntax, DicomTransferSyntax Syntax)> AcceptedContexts => _accepted;

    /// <summary>
    /// Operations this client may have outstanding: what the acceptor granted as Maximum Number Operations Performed, capped by what we
    /// proposed; 1 when either side sent no window (PS3.7 D.3.3.3).
    /// </summary>
    public int OperationsWindow { get; }

    /// <summary>The acceptor's A-ASSOCIATE-AC as parsed, e.g. for its extended negotiation answers.</summary>
    public AssociateAccept Accept { get; }

    public static Task<DicomClient> ConnectAsync(
        string host, int port, string callingAe, string calledAe,
        IReadOnlyList<PresentationContextProposal> contexts, CancellationToken cancellationToken, uint maxPduLength = 116_794, int maxOperationsInvoked = 1) =>
        ConnectAsync(host, port, callingAe, calledAe, contexts, [], cancellationToken, maxPduLength, maxOperationsInvoked);

    /// <summary>Connects proposing <paramref name="roles"/> too (e.g. the SCP role for storage classes a C-GET will bring back).</summary>
    public static Task<DicomClient> ConnectAsync(
        string host, int port, string callingAe, string calledAe,
        IReadOnlyList<PresentationContextProposal> contexts, IReadOnlyList<RoleSelection> roles, CancellationToken cancellationToken, uint maxPduLength = 116_794,
        int maxOperationsInvoked = 1) =>
        ConnectAsync(host, port, callingAe, calledAe, contexts, roles, tls: null, cancellationToken, maxPduLength, maxOperationsInvoked);

    /// <summary>
    /// Connects, over TLS when <paramref name="tls"/> is given (PS3.15 B.1 Secure Transport Connection Profile, TLS 1.2 or 1.3): the
    /// peer's certificate must chain to <see cref="DicomClientTlsOptions.TrustedServerAuthorities"/> (or the system store) and name
    /// <see cref="DicomClientTlsOptions.TargetHost"/>; our certificate is presented when the peer asks for one.
    /// <paramref name="maxOperationsInvoked"/> above 1 proposes an asynchronous operations window (PS3.7 D.3.3.3) of that many
    /// outstanding operations invoked by us (we perform one at a time); 1 proposes none, as before.
    /// </summary>
    public static async Task<DicomClient> ConnectAsync(
        string host, int port, string callingAe, string calledAe,
        IReadOnlyList<PresentationContextProposal> contexts, IReadOnlyList<RoleSelection> roles, DicomClientTlsOptions? tls,
        CancellationToken cancellationToken, uint maxPduLength = 116_794, int maxOperationsInvoked = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxOperationsInvoked, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxOperationsInvoked, ushort.MaxValue);
        AsyncOperationsWindow? windowProposal = maxOperationsInvoked > 1 ? new AsyncOperationsWindow((ushort)maxOperationsInvoked, 1) : null;
        var tcp = new TcpClient { NoDelay = true };
        try
        {
            await tcp.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
            Stream stream = tcp.GetStream();
            if (tls is not null)
            {
                var ssl = new System.Net.Security.SslStream(stream, leaveInnerStreamOpen: false, (_, certificate, chain, errors) => tls.ValidateServer(certificate, errors));
                await ssl.AuthenticateAsClientAsync(tls.ToAuthenticationOptions(host), cancellationToken).ConfigureAwait(false);
                stream = ssl;
            }
            await stream.WriteAsync(PduCodec.EncodeAssociateRequest(calledAe, callingAe, contexts, maxPduLength, roles, windowProposal), cancellationToken).ConfigureAwait(false);
            var pdu = await ReadPduAsync(stream, cancellationToken).ConfigureAwait(false);
            if (pdu.Type == PduType.AssociateReject)
            {
                throw new DicomAssociationRejectedException(pdu.Body[1], pdu.Body[2], pdu.Body[3]);
            }
            if (pdu.Type != PduType.AssociateAccept)
            {
                throw new DicomFormatException($"Expected A-ASSOCIATE-AC, got {pdu.Type}.");
            }
            var accept = PduCodec.ParseAssociateAcceptFull(pdu.Body);
            var (answers, peerMax) = (accept.Answers, accept.MaxPduLength);
            // No window in the AC means one at a time (PS3.7 D.3.3.3.2); 0 means the acceptor sets no limit, so ours applies.
            var window = windowProposal is null || accept.AsyncOperationsWindow is not { } granted
                ? 1
                : granted.MaxOperationsPerformed == 0 ? maxOperationsInvoked : Math.Min(maxOperationsInvoked, (int)granted.MaxOperationsPerformed);
            var accepted = new Dictionary<byte, (string, DicomTransferSyntax)>();
            foreach (var answer in answers.Where(a => a.Result == PresentationContextResult.Acceptance))
            {
                var proposal = contexts.FirstOrDefault(c => c.Id == answer.Id);
                if (proposal is not null)
                {
                    accepted[answer.Id] = (proposal.AbstractSyntax, DicomTransferSyntax.Parse(answer.TransferSyntax));
                }
            }
            return new DicomClient(tcp, stream, accepted, peerMax, window, accept);
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
        var (context, sopClass, sopInstance, body) = PrepareStore(file);
        return StoreOnContextAsync(context, sopClass, sopInstance, body, cancellationToken);
    }

    /// <summary>
    /// Stores every file, keeping up to <see cref="OperationsWindow"/> C-STOREs outstanding and matching each response to its
    /// request by Message ID Being Responded To (responses may come in any order). With a window of 1 (the acceptor granted none)
    /// this is one store after another. Results come in the order of <paramref name="files"/>.
    /// </summary>
    public async Task<IReadOnlyList<StoreResult>> StoreManyAsync(IEnumerable<DicomFile> files, CancellationToken cancellationToken)
    {
        var results = new List<StoreResult?>();
        var pending = new Dictionary<ushort, (int Index, string SopInstanceUid)>();
        foreach (var file in files)
        {
            // Requests go out while responses wait in the socket buffer; read one only when the window is full. Responses are
            // small and at most OperationsWindow of them are unread, so neither side can block the other.
            while (pending.Count >= OperationsWindow)
            {
                await ReceiveStoreResponseAsync(pending, results, cancellationToken).ConfigureAwait(false);
            }
            var (context, sopClass, sopInstance, body) = PrepareStore(file);
            var messageId = NextMessageId(pending);
            pending[messageId] = (results.Count, sopInstance);
            results.Add(null);
            await SendStoreRequestAsync(context, messageId, sopClass, sopInstance, body, cancellationToken).ConfigureAwait(false);
        }
        while (pending.Count > 0)
        {
            await ReceiveStoreResponseAsync(pending, results, cancellationToken).ConfigureAwait(false);
        }
        return results.Select(r => r!).ToList();
    }

    /// <summary>The next Message ID, skipping one still awaiting its response (the counter wraps at 65535).</summary>
    private ushort NextMessageId(Dictionary<ushort, (int, string)> pending)
    {
        do
        {
            _messageId++;
        }
        while (_messageId == 0 || pending.ContainsKey(_messageId));
        return _messageId;
    }

    private async Task ReceiveStoreResponseAsync(Dictionary<ushort, (int Index, string SopInstanceUid)> pending, List<StoreResult?> results, CancellationToken cancellationToken)
    {
        var (response, _) = await ReadMessageAsync(cancellationToken).ConfigureAwait(false);
        var field = response.GetIntOrDefault(DicomTags.CommandField, 0);
        var respondedTo = (ushort)response.GetIntOrDefault(DicomTags.MessageIDBeingRespondedTo, 0);
        if (field != (DimseCommand.CStoreRequest | DimseCommand.ResponseBit) || !pending.Remove(respondedTo, out var request))
        {
            throw new DicomFormatException($"Unexpected response 0x{field:X4} to message {respondedTo}, which is not an outstanding C-STORE.");
        }
        results[request.Index] = new StoreResult(request.SopInstanceUid, respondedTo, StatusOf(response));
    }

    /// <summary>The context, SOP class and instance UIDs and the data set encoded in the accepted syntax.</summary>
    private (byte Context, string SopClass, string SopInstance, byte[] Body) PrepareStore(DicomFile file)
    {
        var sopClass = file.Dataset.GetStringOrDefault(DicomTags.SOPClassUID) ?? throw new ArgumentException("No SOP Class UID.", nameof(file));
        var sopInstance = file.Dataset.GetStringOrDefault(DicomTags.SOPInstanceUID) ?? throw new ArgumentException("No SOP Instance UID.", nameof(file));
        var context = FindContext(sopClass, file.TransferSyntax);
        var syntax = _accepted[context].Syntax;
        if ((syntax.IsEncapsulated || file.TransferSyntax.IsEncapsulated) && !syntax.Equals(file.TransferSyntax))
        {
            throw new InvalidOperationException($"The peer accepted {syntax.Name}; this file is {file.TransferSyntax.Name} and transcoding is not available.");
        }
        var body = new MemoryStream();
        DicomWriter.WriteDataset(body, file.Dataset, syntax);
        return (context, sopClass, sopInstance, body.ToArray());
    }

    /// <summary>Sends bytes as the data set of a C-STORE, exactly as given.</summary>
    public Task<DicomStatus> StoreRawAsync(string sopClassUid, string sopInstanceUid, ReadOnlyMemory<byte> dataset, CancellationToken cancellationToken) =>
        StoreOnContextAsync(FindContext(sopClassUid), sopClassUid, sopInstanceUid, dataset, cancellationToken);

    private async Task<DicomStatus> StoreOnContextAsync(byte context, string sopClassUid, string sopInstanceUid, ReadOnlyMemory<byte> dataset, CancellationToken cancellationToken)
    {
        await SendStoreRequestAsync(context, ++_messageId, sopClassUid, sopInstanceUid, dataset, cancellationToken).ConfigureAwait(false);
        return await ReadStatusAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task SendStoreRequestAsync(byte context, ushort messageId, string sopClassUid, string sopInstanceUid, ReadOnlyMemory<byte> dataset, CancellationToken cancellationToken)
    {
        var command = new DicomDataset()
            .AddOrUpdate(DicomTags.AffectedSOPClassUID, DicomVR.UI, sopClassUid)
            .AddOrUpdate(DicomTags.CommandField, DicomVR.US, DimseCommand.CStoreRequest)
            .AddOrUpdate(DicomTags.MessageID, DicomVR.US, messageId)
            .AddOrUpdate(DicomTags.Priority, DicomVR.US, (ushort)0)
            .AddOrUpdate(DicomTags.CommandDataSetType, DicomVR.US, (ushort)0x0000)
            .AddOrUpdate(DicomTags.AffectedSOPInstanceUID, DicomVR.UI, sopInstanceUid);
        await SendAsync(context, DimseCommand.Encode(command), isCommand: true, cancellationToken).ConfigureAwait(false);
        await SendAsync(context, dataset, isCommand: false, cancellationToken).ConfigureAwait(false);
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

    /// <summary>A context for the SOP class, preferring one whose accepted syntax is the data's own (no transcoding).</summary>
    private byte FindContext(string abstractSyntax, DicomTransferSyntax preferred)
    {
        foreach (var (id, context) in _accepted)
        {
            if (context.AbstractSyntax == abstractSyntax && context.Syntax.Equals(preferred))
            {
                return id;
            }
        }
        foreach (var (id, context) in _accepted)
        {
            if (context.AbstractSyntax == abstractSyntax && !context.Syntax.IsEncapsulated && !preferred.IsEncapsulated)
            {
                return id;
            }
        }
        return FindContext(abstractSyntax);
    }

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

    /// <summary>A command and its data set, the data set encoded in the context's accepted syntax.</summary>
    private async Task SendRequestAsync(byte context, DicomDataset command, DicomDataset dataset, CancellationToken cancellationToken)
    {
        var body = new MemoryStream();
        DicomWriter.WriteDataset(body, dataset, _accepted[context].Syntax);
        await SendAsync(context, DimseCommand.Encode(command), isCommand: true, cancellationToken).ConfigureAwait(false);
        await SendAsync(context, body.ToArray(), isCommand: false, cancellationToken).ConfigureAwait(false);
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
        var (response, _) = await ReadMessageAsync(cancellationToken).ConfigureAwait(false);
        return StatusOf(response);
    }

    private static DicomStatus StatusOf(DicomDataset response) =>
        DicomStatus.FromCode((ushort)response.GetIntOrDefault(DicomTags.Status, 0xFFFF), response.GetStringOrDefault(DicomTags.ErrorComment));

    /// <summary>Reads one DIMSE message: its command and, when the command announces one, its data set bytes.</summary>
    private async Task<(DicomDataset Command, byte[]? DataSet)> ReadMessageAsync(CancellationToken cancellationToken)
    {
        var (command, dataset, _) = await ReadMessageOnContextAsync(cancellationToken).ConfigureAwait(false);
        return (command, dataset);
    }

    /// <summary>As <see cref="ReadMessageAsync"/>, with the presentation context the command arrived on.</summary>
    private async Task<(DicomDataset Command, byte[]? DataSet, byte Context)> ReadMessageOnContextAsync(CancellationToken cancellationToken)
    {
        var command = new MemoryStream();
        MemoryStream? dataset = null;
        DicomDataset? parsedCommand = null;
        while (true)
        {
            var pdu = await ReadPduAsync(_stream, cancellationToken).ConfigureAwait(false);
            if (pdu.Type == PduType.Abort)
            {
                throw new IOException("The peer aborted the association.");
            }
            if (pdu.Type != PduType.DataTransfer)
            {
                throw new DicomFormatException($"Expected a response, got {pdu.Type}.");
            }
            var pos = 0;
            while (pos < pdu.Body.Length)
            {
                var length = (int)BinaryPrimitives.ReadUInt32BigEndian(pdu.Body.AsSpan(pos));
                var context = pdu.Body[pos + 4];
                var control = pdu.Body[pos + 5];
                var isCommand = (control & 1) == 1;
                var isLast = (control & 2) == 2;
                (isCommand ? command : dataset ??= new MemoryStream()).Write(pdu.Body, pos + 6, length - 2);
                pos += 4 + length;
                if (isCommand && isLast)
                {
                    parsedCommand = DimseCommand.Parse(command.ToArray());
                    if (parsedCommand.GetIntOrDefault(DicomTags.CommandDataSetType, DimseCommand.NoDataSet) == DimseCommand.NoDataSet)
                    {
                        return (parsedCommand, null, context);
                    }
                }
                else if (!isCommand && isLast && parsedCommand is not null)
                {
                    return (parsedCommand, dataset!.ToArray(), context);
                }
            }
        }
    }

    /// <summary>N-EVENT-REPORT (PS3.7 10.1.1), e.g. a storage commitment result; returns the peer's status.</summary>
    public async Task<DicomStatus> EventReportAsync(string sopClassUid, string sopInstanceUid, ushort eventTypeId, DicomDataset eventInformation, CancellationToken cancellationToken)
    {
        var context = FindContext(sopClassUid);
        var command = new DicomDataset()
            .AddOrUpdate(DicomTags.AffectedSOPClassUID, DicomVR.UI, sopClassUid)
            .AddOrUpdate(DicomTags.CommandField, DicomVR.US, DimseCommand.NEventReportRequest)
            .AddOrUpdate(DicomTags.MessageID, DicomVR.US, ++_messageId)
            .AddOrUpdate(DicomTags.CommandDataSetType, DicomVR.US, (ushort)0x0000)
            .AddOrUpdate(DicomTags.AffectedSOPInstanceUID, DicomVR.UI, sopInstanceUid)
            .AddOrUpdate(DicomTags.EventTypeID, DicomVR.US, eventTypeId);
        await SendRequestAsync(context, command, eventInformation, cancellationToken).ConfigureAwait(false);
        return await ReadStatusAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>N-ACTION (PS3.7 10.1.4), e.g. a storage commitment request; returns the peer's status.</summary>
    public async Task<DicomStatus> ActionAsync(string sopClassUid, string sopInstanceUid, ushort actionTypeId, DicomDataset actionInformation, CancellationToken cancellationToken)
    {
        var context = FindContext(sopClassUid);
        var command = new DicomDataset()
            .AddOrUpdate(DicomTags.RequestedSOPClassUID, DicomVR.UI, sopClassUid)
            .AddOrUpdate(DicomTags.CommandField, DicomVR.US, DimseCommand.NActionRequest)
            .AddOrUpdate(DicomTags.MessageID, DicomVR.US, ++_messageId)
            .AddOrUpdate(DicomTags.CommandDataSetType, DicomVR.US, (ushort)0x0000)
            .AddOrUpdate(DicomTags.RequestedSOPInstanceUID, DicomVR.UI, sopInstanceUid)
            .AddOrUpdate(DicomTags.ActionTypeID, DicomVR.US, actionTypeId);
        await SendRequestAsync(context, command, actionInformation, cancellationToken).ConfigureAwait(false);
        return await ReadStatusAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// C-FIND (PS3.4 C.4.1) with <paramref name="identifier"/> as the query; returns every pending match. The final
    /// status is returned too so callers can tell a complete answer from a cancelled or failed one.
    /// </summary>
    public async Task<(IReadOnlyList<DicomDataset> Matches, DicomStatus Status)> FindAsync(string informationModelUid, DicomDataset identifier, CancellationToken cancellationToken)
    {
        var context = FindContext(informationModelUid);
        var syntax = _accepted[context].Syntax;
        var command = new DicomDataset()
            .AddOrUpdate(DicomTags.AffectedSOPClassUID, DicomVR.UI, informationModelUid)
            .AddOrUpdate(DicomTags.CommandField, DicomVR.US, (ushort)0x0020)
            .AddOrUpdate(DicomTags.MessageID, DicomVR.US, ++_messageId)
            .AddOrUpdate(DicomTags.Priority, DicomVR.US, (ushort)0)
            .AddOrUpdate(DicomTags.CommandDataSetType, DicomVR.US, (ushort)0x0000);
        await SendRequestAsync(context, command, identifier, cancellationToken).ConfigureAwait(false);
        var matches = new List<DicomDataset>();
        while (true)
        {
            var (response, data) = await ReadMessageAsync(cancellationToken).ConfigureAwait(false);
            var status = StatusOf(response);
            if (status.Code is 0xFF00 or 0xFF01)
            {
                if (data is not null)
                {
                    matches.Add(DicomReader.ReadDataset(new MemoryStream(data), syntax));
                }
                continue;
            }
            return (matches, status);
        }
    }

    /// <summary>
    /// C-MOVE (PS3.4 C.4.2): asks the peer to send the matching instances to <paramref name="destinationAeTitle"/>
    /// (which the peer must know). Returns the final status and the completed/failed/warning sub-operation counts.
    /// </summary>
    public async Task<MoveResult> MoveAsync(string informationModelUid, string destinationAeTitle, DicomDataset identifier, CancellationToken cancellationToken)
    {
        var context = FindContext(informationModelUid);
        var command = new DicomDataset()
            .AddOrUpdate(DicomTags.AffectedSOPClassUID, DicomVR.UI, informationModelUid)
            .AddOrUpdate(DicomTags.CommandField, DicomVR.US, (ushort)0x0021)
            .AddOrUpdate(DicomTags.MessageID, DicomVR.US, ++_messageId)
            .AddOrUpdate(DicomTags.MoveDestination, DicomVR.AE, destinationAeTitle)
            .AddOrUpdate(DicomTags.Priority, DicomVR.US, (ushort)0)
            .AddOrUpdate(DicomTags.CommandDataSetType, DicomVR.US, (ushort)0x0000);
        await SendRequestAsync(context, command, identifier, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            var (response, _) = await ReadMessageAsync(cancellationToken).ConfigureAwait(false);
            var status = StatusOf(response);
            if (status.Code is 0xFF00)
            {
                continue;
            }
            return RetrieveResult(status, response);
        }
    }

    /// <summary>
    /// C-GET (PS3.4 C.4.3): the peer sends the matching instances back on this association as C-STORE sub-operations, each handed
    /// to <paramref name="onInstance"/> (whose status is the C-STORE response) before the next is accepted, so memory holds one
    /// instance at a time. Connect with storage contexts and SCP role selection for the classes expected
    /// (<see cref="StorageContextsForGet"/>). A sub-operation on a context this association did not accept is refused with 0x0122.
    /// </summary>
    public async Task<MoveResult> GetAsync(
        string informationModelUid, DicomDataset identifier, Func<RetrievedInstance, CancellationToken, Task<DicomStatus>> onInstance, CancellationToken cancellationToken)
    {
        var context = FindContext(informationModelUid);
        var command = new DicomDataset()
            .AddOrUpdate(DicomTags.AffectedSOPClassUID, DicomVR.UI, informationModelUid)
            .AddOrUpdate(DicomTags.CommandField, DicomVR.US, (ushort)0x0010)
            .AddOrUpdate(DicomTags.MessageID, DicomVR.US, ++_messageId)
            .AddOrUpdate(DicomTags.Priority, DicomVR.US, (ushort)0)
            .AddOrUpdate(DicomTags.CommandDataSetType, DicomVR.US, (ushort)0x0000);
        await SendRequestAsync(context, command, identifier, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            var (message, data, messageContext) = await ReadMessageOnContextAsync(cancellationToken).ConfigureAwait(false);
            if (message.GetIntOrDefault(DicomTags.CommandField, 0) == DimseCommand.CStoreRequest)
            {
                var status = await ReceiveSubOperationAsync(message, data, messageContext, onInstance, cancellationToken).ConfigureAwait(false);
                var response = new DicomDataset()
                    .AddOrUpdate(DicomTags.AffectedSOPClassUID, DicomVR.UI, message.GetStringOrDefault(DicomTags.AffectedSOPClassUID) ?? string.Empty)
                    .AddOrUpdate(DicomTags.CommandField, DicomVR.US, (ushort)0x8001)
                    .AddOrUpdate(DicomTags.MessageIDBeingRespondedTo, DicomVR.US, (ushort)message.GetIntOrDefault(DicomTags.MessageID, 0))
                    .AddOrUpdate(DicomTags.CommandDataSetType, DicomVR.US, DimseCommand.NoDataSet)
                    .AddOrUpdate(DicomTags.Status, DicomVR.US, status.Code)
                    .AddOrUpdate(DicomTags.AffectedSOPInstanceUID, DicomVR.UI, message.GetStringOrDefault(DicomTags.AffectedSOPInstanceUID) ?? string.Empty);
                await SendAsync(messageContext, DimseCommand.Encode(response), isCommand: true, cancellationToken).ConfigureAwait(false);
                continue;
            }
            var final = StatusOf(message);
            if (final.Code is 0xFF00)
            {
                continue;
            }
            return RetrieveResult(final, message);
        }
    }

    /// <summary>The final status and sub-operation counts of a C-MOVE or C-GET response.</summary>
    private static MoveResult RetrieveResult(DicomStatus status, DicomDataset response) => new(
        status,
        response.GetIntOrDefault(DicomTags.NumberOfCompletedSuboperations, 0),
        response.GetIntOrDefault(DicomTags.NumberOfFailedSuboperations, 0),
        response.GetIntOrDefault(DicomTags.NumberOfWarningSuboperations, 0));

    private async Task<DicomStatus> ReceiveSubOperationAsync(
        DicomDataset command, byte[]? data, byte context, Func<RetrievedInstance, CancellationToken, Task<DicomStatus>> onInstance, CancellationToken cancellationToken)
    {
        if (!_accepted.TryGetValue(context, out var accepted) || data is null)
        {
            return DicomStatus.FromCode(0x0122, "SOP class not supported on this presentation context");
        }
        var sopClass = command.GetStringOrDefault(DicomTags.AffectedSOPClassUID) ?? accepted.AbstractSyntax;
        var sopInstance = command.GetStringOrDefault(DicomTags.AffectedSOPInstanceUID) ?? string.Empty;
        try
        {
            var dataset = DicomReader.ReadDataset(new MemoryStream(data), accepted.Syntax);
            return await onInstance(new RetrievedInstance(sopClass, sopInstance, accepted.Syntax, dataset), cancellationToken).ConfigureAwait(false);
        }
        catch (DicomFormatException ex)
        {
            return DicomStatus.FromCode(0xC000, $"Cannot understand the data set: {ex.Message}");
        }
    }

    /// <summary>
    /// Storage presentation contexts (ids from <paramref name="firstId"/>, odd) and SCP role selections for the SOP classes a C-GET
    /// should bring back: one context per SOP class and transfer syntax (most preferred first), because the SCP settles one
    /// syntax per context, and only separate contexts let it send each instance as it is stored instead of transcoding it.
    /// </summary>
    public static (IReadOnlyList<PresentationContextProposal> Contexts, IReadOnlyList<RoleSelection> Roles) StorageContextsForGet(
        IEnumerable<string> sopClassUids, IReadOnlyList<string> transferSyntaxes, byte firstId = 3)
    {
        var contexts = new List<PresentationContextProposal>();
        var roles = new List<RoleSelection>();
        var id = (int)firstId;
        foreach (var sopClass in sopClassUids.Distinct(StringComparer.Ordinal))
        {
            foreach (var syntax in transferSyntaxes)
            {
                if (id > 255)
                {
                    throw new ArgumentException($"{contexts.Count + 1} or more storage contexts: more than the 128 presentation context ids allow.", nameof(sopClassUids));
                }
                contexts.Add(new PresentationContextProposal((byte)id, sopClass, [syntax]));
                id += 2;
            }
            roles.Add(new RoleSelection(sopClass, ScuRole: false, ScpRole: true));
        }
        return (contexts, roles);
    }

    private static async Task<RawPdu> ReadPduAsync(Stream stream, CancellationToken cancellationToken)
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
