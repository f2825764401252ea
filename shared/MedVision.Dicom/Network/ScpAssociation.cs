using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace MedVision.Dicom.Network;

/// <summary>
/// The acceptor side of one association (PS3.8 9.2, states Sta2 → Sta3 → Sta6 → Sta13). Commands are reassembled in
/// memory (they are small and capped); data sets are streamed to the store target PDV by PDV.
/// </summary>
internal sealed class ScpAssociation
{
    private const int MaxAssociateRequestLength = 64 * 1024;
    private const int MaxCommandLength = 64 * 1024;
    private const string VerificationSopClass = "1.2.840.10008.1.1";

    private enum State { AwaitingAssociateRequest, Established, Released, Aborted }

    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly DicomServerOptions _options;
    private readonly IReadOnlyList<IAssociationPolicy> _policies;
    private readonly ICStoreHandler _storeHandler;
    private readonly ICEchoHandler _echoHandler;
    private readonly ILogger _logger;
    private readonly Func<string, string?> _tryAcquireSlot;
    private readonly IStorageCommitmentHandler? _commitmentHandler;
    private readonly Dictionary<byte, (string AbstractSyntax, DicomTransferSyntax Syntax)> _contexts = [];
    private readonly byte[] _header = new byte[6];
    private CancellationTokenSource? _readTimer;

    private State _state = State.AwaitingAssociateRequest;
    private AssociationInfo? _info;
    private MemoryStream? _command;
    private DicomDataset? _pendingCommand;
    private byte _pendingContext;
    private ICStoreTarget? _target;

    public ScpAssociation(Socket socket, DicomServerOptions options, IReadOnlyList<IAssociationPolicy> policies, ICStoreHandler storeHandler, ICEchoHandler echoHandler, ILogger logger, Func<string, string?> tryAcquireSlot, Stream? transport = null, IStorageCommitmentHandler? commitmentHandler = null)
    {
        _commitmentHandler = commitmentHandler;
        _socket = socket;
        _stream = transport ?? new NetworkStream(socket, ownsSocket: false);
        _options = options;
        _policies = policies;
        _storeHandler = storeHandler;
        _echoHandler = echoHandler;
        _logger = logger;
        _tryAcquireSlot = tryAcquireSlot;
    }

    /// <summary>Runs the association to its end; true when it was accepted.</summary>
    public async Task<bool> RunAsync(CancellationToken cancellationToken)
    {
        var remote = _socket.RemoteEndPoint as IPEndPoint;
        _readTimer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            // Sta2: ARTIM runs until an A-ASSOCIATE-RQ arrives.
            var first = await ReadPduAsync(MaxAssociateRequestLength, _options.ArtimTimeout, cancellationToken).ConfigureAwait(false);
            if (first is null)
            {
                _logger.LogInformation("DICOM connection from {Remote} closed before association (ARTIM {Timeout}s)", remote, _options.ArtimTimeout.TotalSeconds);
                return false;
            }
            if (first.Value.Type != PduType.AssociateRequest)
            {
                _logger.LogWarning("DICOM connection from {Remote} sent {Type} before A-ASSOCIATE-RQ; aborting", remote, first.Value.Type);
                await AbortAsync(2, 2, cancellationToken).ConfigureAwait(false);
                return false;
            }
            if (!await NegotiateAsync(first.Value.Body, remote, cancellationToken).ConfigureAwait(false))
            {
                return false;
            }
            await ServeEstablishedAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (DicomFormatException ex)
        {
            _logger.LogWarning("DICOM protocol error from {Remote}: {Reason}; aborting", remote, ex.Message);
            await TryAbortAsync(2, 6).ConfigureAwait(false);
            return _info is not null;
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
        {
            _logger.LogInformation("DICOM association with {Remote} ended: {Reason}", remote, ex.Message);
            if (cancellationToken.IsCancellationRequested)
            {
                await TryAbortAsync(2, 0).ConfigureAwait(false);
            }
            return _info is not null;
        }
        finally
        {
            if (_target is not null)
            {
                // An instance cut off mid-transfer was never acknowledged; its target discards it.
                await _target.DisposeAsync().ConfigureAwait(false);
                _target = null;
            }
            await _stream.DisposeAsync().ConfigureAwait(false);
            _readTimer.Dispose();
        }
    }

    private async Task<bool> NegotiateAsync(byte[] body, IPEndPoint? remote, CancellationToken cancellationToken)
    {
        var request = PduCodec.ParseAssociateRequest(body);
        var rejection = (request.ProtocolVersion & 1) == 0
            ? new AssociationRejection(1, 2, 2, $"protocol version 0x{request.ProtocolVersion:X4} not supported")
            : _policies.Select(p => p.Evaluate(request, remote)).FirstOrDefault(r => r is not null);
        if (rejection is null && _tryAcquireSlot(request.CallingAeTitle) is { } full)
        {
            rejection = AssociationRejection.LocalLimitExceeded(full);
        }
        if (rejection is not null)
        {
            _logger.LogWarning("Rejected association from {CallingAe}@{Remote} to {CalledAe}: {Why}", request.CallingAeTitle, remote, request.CalledAeTitle, rejection.Why);
            await WriteAsync(PduCodec.EncodeAssociateReject(rejection.Result, rejection.Source, rejection.Reason), cancellationToken).ConfigureAwait(false);
            _state = State.Aborted;
            return false;
        }

        var answers = new List<PresentationContextAnswer>();
        foreach (var pc in request.PresentationContexts)
        {
            var answer = NegotiateContext(pc);
            answers.Add(answer);
            if (answer.Result == PresentationContextResult.Acceptance)
            {
                _contexts[pc.Id] = (pc.AbstractSyntax, DicomTransferSyntax.Parse(answer.TransferSyntax));
            }
        }
        // We accept the SCU role a peer asks for on its own contexts and never take the SCU role ourselves.
        var roles = request.RoleSelections.Select(r => new RoleSelection(r.SopClassUid, r.ScuRole, false)).ToList();
        await WriteAsync(PduCodec.EncodeAssociateAccept(request, answers, _options.MaxPduLength, roles), cancellationToken).ConfigureAwait(false);
        _info = new AssociationInfo(request.CallingAeTitle, request.CalledAeTitle, remote, request.MaxPduLength, request.ImplementationClassUid, request.ImplementationVersionName);
        _state = State.Established;
        _logger.LogInformation(
            "Accepted association from {CallingAe}@{Remote} ({Accepted}/{Proposed} presentation contexts, peer max PDU {PeerMaxPdu}, implementation {Implementation})",
            request.CallingAeTitle, remote, _contexts.Count, request.PresentationContexts.Count, request.MaxPduLength, request.ImplementationVersionName ?? request.ImplementationClassUid);
        return true;
    }

    private PresentationContextAnswer NegotiateContext(PresentationContextProposal pc)
    {
        var supported = pc.AbstractSyntax == VerificationSopClass || DicomUidRegistry.Default.IsStorageSopClass(pc.AbstractSyntax) ||
                        (pc.AbstractSyntax == StorageCommitment.SopClassUid && _commitmentHandler is not null);
        if (!supported)
        {
            return new PresentationContextAnswer(pc.Id, PresentationContextResult.AbstractSyntaxNotSupported, DicomTransferSyntax.ImplicitVRLittleEndian.Uid);
        }
        // A sender offering a compressed syntax usually holds the data that way; making it transcode risks a failed
        // store (or a lossy round trip), so compressed data is kept as received.
        if (_options.AcceptCompressedTransferSyntaxes && pc.AbstractSyntax != VerificationSopClass)
        {
            var compressed = pc.TransferSyntaxes.FirstOrDefault(ts => DicomTransferSyntax.Parse(ts).IsEncapsulated && DicomUidRegistry.Default.IsTransferSyntax(ts));
            if (compressed is not null)
            {
                return new PresentationContextAnswer(pc.Id, PresentationContextResult.Acceptance, compressed);
            }
        }
        foreach (var preferred in _options.TransferSyntaxPreference)
        {
            if (pc.TransferSyntaxes.Contains(preferred, StringComparer.Ordinal))
            {
                return new PresentationContextAnswer(pc.Id, PresentationContextResult.Acceptance, preferred);
            }
        }
        return new PresentationContextAnswer(pc.Id, PresentationContextResult.TransferSyntaxesNotSupported, DicomTransferSyntax.ImplicitVRLittleEndian.Uid);
    }

    private async Task ServeEstablishedAsync(CancellationToken cancellationToken)
    {
        while (_state == State.Established)
        {
            var pdu = await ReadPduAsync((int)Math.Min(_options.MaxPduLength, int.MaxValue), _options.IdleTimeout, cancellationToken).ConfigureAwait(false);
            if (pdu is null)
            {
                _logger.LogWarning("Association with {CallingAe} idle or closed without release; aborting", _info!.CallingAeTitle);
                await TryAbortAsync(2, 0).ConfigureAwait(false);
                return;
            }
            switch (pdu.Value.Type)
            {
                case PduType.DataTransfer:
                    try
                    {
                        await OnDataAsync(pdu.Value.Body.AsMemory(0, pdu.Value.Length), cancellationToken).ConfigureAwait(false);
                    }
                    finally
                    {
                        // Targets copy what they keep (ICStoreTarget.WriteAsync), so the buffer can serve the next PDU.
                        ArrayPool<byte>.Shared.Return(pdu.Value.Body);
                    }
                    break;
                case PduType.ReleaseRequest:
                    if (_target is not null || _command is not null)
                    {
                        _logger.LogWarning("{CallingAe} released with a message in progress; it was not acknowledged", _info!.CallingAeTitle);
                    }
                    await WriteAsync(PduCodec.EncodeReleaseResponse(), cancellationToken).ConfigureAwait(false);
                    _state = State.Released;
                    _logger.LogInformation("Association with {CallingAe} released", _info!.CallingAeTitle);
                    return;
                case PduType.Abort:
                    _state = State.Aborted;
                    _logger.LogWarning("Association with {CallingAe} aborted by peer", _info!.CallingAeTitle);
                    return;
                default:
                    _logger.LogWarning("Unexpected {Type} from {CallingAe} in an established association; aborting", pdu.Value.Type, _info!.CallingAeTitle);
                    await AbortAsync(2, 2, cancellationToken).ConfigureAwait(false);
                    return;
            }
        }
    }

    private async Task OnDataAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var pos = 0;
        while (pos < body.Length)
        {
            if (pos + 6 > body.Length)
            {
                throw new DicomFormatException("Truncated PDV item.");
            }
            var length = BinaryPrimitives.ReadUInt32BigEndian(body.Span[pos..]);
            if (length < 2 || pos + 4 + length > body.Length)
            {
                throw new DicomFormatException($"PDV item length {length} does not fit its P-DATA-TF.");
            }
            var contextId = body.Span[pos + 4];
            var control = body.Span[pos + 5];
            var data = body.Slice(pos + 6, (int)length - 2);
            pos += 4 + (int)length;
            if (!_contexts.ContainsKey(contextId))
            {
                throw new DicomFormatException($"PDV on presentation context {contextId}, which was not accepted.");
            }
            var isCommand = (control & 1) == 1;
            var isLast = (control & 2) == 2;
            if (isCommand)
            {
                await OnCommandFragmentAsync(contextId, data, isLast, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await OnDataSetFragmentAsync(contextId, data, isLast, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task OnCommandFragmentAsync(byte contextId, ReadOnlyMemory<byte> data, bool isLast, CancellationToken cancellationToken)
    {
        if (_pendingCommand is not null)
        {
            throw new DicomFormatException("A new command arrived before the previous command's data set.");
        }
        _command ??= new MemoryStream();
        if (_command.Length + data.Length > MaxCommandLength)
        {
            throw new DicomFormatException($"Command set larger than {MaxCommandLength} bytes.");
        }
        _command.Write(data.Span);
        if (!isLast)
        {
            return;
        }
        var command = DimseCommand.Parse(_command.ToArray());
        _command = null;
        var field = (ushort)command.GetIntOrDefault(DicomTags.CommandField, 0);
        var hasDataSet = command.GetIntOrDefault(DicomTags.CommandDataSetType, DimseCommand.NoDataSet) != DimseCommand.NoDataSet;
        switch (field)
        {
            case DimseCommand.CEchoRequest:
                var echoStatus = await _echoHandler.EchoAsync(_info!, cancellationToken).ConfigureAwait(false);
                _logger.LogInformation("C-ECHO from {CallingAe}: {Status}", _info!.CallingAeTitle, echoStatus);
                await SendCommandAsync(contextId, DimseCommand.CreateResponse(command, echoStatus), cancellationToken).ConfigureAwait(false);
                break;
            case DimseCommand.CStoreRequest when hasDataSet:
                _pendingCommand = command;
                _pendingContext = contextId;
                _target = await BeginStoreAsync(contextId, command, cancellationToken).ConfigureAwait(false);
                break;
            case DimseCommand.NActionRequest when hasDataSet && _commitmentHandler is not null && _contexts[contextId].AbstractSyntax == StorageCommitment.SopClassUid:
                _pendingCommand = command;
                _pendingContext = contextId;
                _target = new CommitmentRequestTarget(_commitmentHandler, _info!, _contexts[contextId].Syntax);
                break;
            case DimseCommand.CCancelRequest:
                break;
            default:
                _logger.LogWarning("Unsupported DIMSE command 0x{Command:X4} from {CallingAe}", field, _info!.CallingAeTitle);
                if (hasDataSet)
                {
                    _pendingCommand = command;
                    _pendingContext = contextId;
                    _target = new RefusingStoreTarget(DicomStatus.UnrecognizedOperation);
                }
                else
                {
                    await SendCommandAsync(contextId, DimseCommand.CreateResponse(command, DicomStatus.UnrecognizedOperation), cancellationToken).ConfigureAwait(false);
                }
                break;
        }
    }

    private async ValueTask<ICStoreTarget> BeginStoreAsync(byte contextId, DicomDataset command, CancellationToken cancellationToken)
    {
        var (abstractSyntax, syntax) = _contexts[contextId];
        var sopClass = command.GetStringOrDefault(DicomTags.AffectedSOPClassUID) ?? string.Empty;
        var sopInstance = command.GetStringOrDefault(DicomTags.AffectedSOPInstanceUID) ?? string.Empty;
        if (abstractSyntax == VerificationSopClass || (sopClass.Length > 0 && sopClass != abstractSyntax))
        {
            return new RefusingStoreTarget(DicomStatus.SopClassNotSupported);
        }
        if (sopInstance.Length == 0)
        {
            return new RefusingStoreTarget(DicomStatus.CannotUnderstand);
        }
        var request = new CStoreRequest(
            _info!, contextId, (ushort)command.GetIntOrDefault(DicomTags.MessageID, 0), abstractSyntax, sopInstance, syntax,
            (ushort)command.GetIntOrDefault(DicomTags.Priority, 0), command.GetStringOrDefault(DicomTags.MoveOriginatorApplicationEntityTitle));
        try
        {
            return await _storeHandler.BeginStoreAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _logger.LogError(ex, "Store handler failed to start {SopInstanceUid}", sopInstance);
            return new RefusingStoreTarget(DicomStatus.ProcessingFailure);
        }
    }

    private async Task OnDataSetFragmentAsync(byte contextId, ReadOnlyMemory<byte> data, bool isLast, CancellationToken cancellationToken)
    {
        if (_pendingCommand is null || _target is null || contextId != _pendingContext)
        {
            throw new DicomFormatException("Data set fragment without a command that announced it.");
        }
        await _target.WriteAsync(data, cancellationToken).ConfigureAwait(false);
        if (!isLast)
        {
            return;
        }
        DicomStatus status;
        try
        {
            status = await _target.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _logger.LogError(ex, "Storing {SopInstanceUid} failed", _pendingCommand.GetStringOrDefault(DicomTags.AffectedSOPInstanceUID));
            status = DicomStatus.ProcessingFailure;
        }
        await _target.DisposeAsync().ConfigureAwait(false);
        _target = null;
        var command = _pendingCommand;
        _pendingCommand = null;
        await SendCommandAsync(contextId, DimseCommand.CreateResponse(command, status), cancellationToken).ConfigureAwait(false);
    }

    private async Task SendCommandAsync(byte contextId, DicomDataset command, CancellationToken cancellationToken)
    {
        var bytes = DimseCommand.Encode(command);
        // Fragment to the peer's maximum (0 = unlimited); each PDV costs 6 bytes of header.
        var max = _info!.PeerMaxPduLength == 0 ? int.MaxValue : (int)Math.Max(_info.PeerMaxPduLength - 6, 1);
        var offset = 0;
        do
        {
            var chunk = Math.Min(max, bytes.Length - offset);
            var last = offset + chunk == bytes.Length;
            var body = new byte[6 + chunk];
            BinaryPrimitives.WriteUInt32BigEndian(body, (uint)(chunk + 2));
            body[4] = contextId;
            body[5] = (byte)(1 | (last ? 2 : 0));
            bytes.AsSpan(offset, chunk).CopyTo(body.AsSpan(6));
            await WriteAsync(PduCodec.Frame(PduType.DataTransfer, body), cancellationToken).ConfigureAwait(false);
            offset += chunk;
        }
        while (offset < bytes.Length);
    }

    /// <summary>
    /// Reads one PDU; null when the peer closed or the timer expired. Oversized PDUs are a protocol error. A P-DATA-TF
    /// body comes in a pooled buffer (possibly longer than the PDU) that the caller returns; the others are exact.
    /// </summary>
    private async Task<ScpPdu?> ReadPduAsync(int maxBodyLength, TimeSpan timeout, CancellationToken cancellationToken)
    {
        // One timer per association, re-armed per read: a linked token source per PDU would be an allocation and a
        // timer registration for every fragment of every instance.
        var timer = _readTimer!;
        timer.CancelAfter(timeout);
        byte[]? pooled = null;
        try
        {
            var read = await _stream.ReadAtLeastAsync(_header, 6, throwOnEndOfStream: false, timer.Token).ConfigureAwait(false);
            SocketTuning.QuickAck(_socket);
            if (read < 6)
            {
                return null;
            }
            var type = _header[0];
            var length = BinaryPrimitives.ReadUInt32BigEndian(_header.AsSpan(2));
            if (type is < 1 or > 7)
            {
                // Junk (an HTTP request, a port scan) is refused before reading a body of any size.
                throw new DicomFormatException($"unrecognised PDU type 0x{type:X2}");
            }
            if (length > maxBodyLength)
            {
                throw new DicomFormatException($"PDU of {length} bytes exceeds the {maxBodyLength}-byte limit");
            }
            var body = (PduType)type == PduType.DataTransfer ? pooled = ArrayPool<byte>.Shared.Rent((int)length) : new byte[length];
            await _stream.ReadExactlyAsync(body.AsMemory(0, (int)length), timer.Token).ConfigureAwait(false);
            SocketTuning.QuickAck(_socket);
            timer.CancelAfter(Timeout.InfiniteTimeSpan);
            pooled = null;
            return new ScpPdu((PduType)type, body, (int)length);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        catch (EndOfStreamException)
        {
            return null;
        }
        finally
        {
            if (pooled is not null)
            {
                ArrayPool<byte>.Shared.Return(pooled);
            }
        }
    }

    private readonly record struct ScpPdu(PduType Type, byte[] Body, int Length);

    private async Task AbortAsync(byte source, byte reason, CancellationToken cancellationToken)
    {
        _state = State.Aborted;
        await WriteAsync(PduCodec.EncodeAbort(source, reason), cancellationToken).ConfigureAwait(false);
    }

    private async Task TryAbortAsync(byte source, byte reason)
    {
        _state = State.Aborted;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await _stream.WriteAsync(PduCodec.EncodeAbort(source, reason), timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The peer is gone; nothing more to tell it.
        }
    }

    private ValueTask WriteAsync(byte[] pdu, CancellationToken cancellationToken) => _stream.WriteAsync(pdu, cancellationToken);
}
