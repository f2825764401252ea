using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace MedVision.Dicom.Network;

/// <summary>
/// The acceptor side of one association (PS3.8 9.2, states Sta2 → Sta3 → Sta6 → Sta13). Commands are reassembled in
/// memory (they are small and capped); data sets are streamed to the store target PDV by PDV. With an asynchronous
/// operations window above 1 (PS3.7 D.3.3.3), a completed message is handed to its target without stopping the reader and
/// its response is sent when it completes, so responses may go out of order; whole messages are written under one lock, so
/// PDVs of different messages never interleave (PS3.8 9.3.5.1).
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
    // Ends response writes of operations still being completed once the association is over.
    private CancellationTokenSource? _lifetime;
    // The server's token: what completions of received instances run under, so a peer's abort does not cut a durable write short.
    private CancellationToken _serverToken;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    // Operations completing while the reader goes on; touched by the reader only.
    private readonly List<Task> _inFlight = [];
    private int _window = 1;
    // Requests received whose response has not been sent yet; never more than _window.
    private int _outstanding;

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
        _lifetime = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _serverToken = cancellationToken;
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
            // Operations still completing after an abort or error are never acknowledged: stop their responses, close the
            // connection so the peer is not kept waiting for them, and let them finish before the association's slot is freed.
            await _lifetime.CancelAsync().ConfigureAwait(false);
            if (_inFlight.Exists(t => !t.IsCompleted))
            {
                try
                {
                    _socket.Shutdown(SocketShutdown.Both);
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                    // Already gone.
                }
            }
            await DrainInFlightAsync(quietly: true).ConfigureAwait(false);
            if (_target is not null)
            {
                // An instance cut off mid-transfer was never acknowledged; its target discards it.
                await _target.DisposeAsync().ConfigureAwait(false);
                _target = null;
            }
            await _stream.DisposeAsync().ConfigureAwait(false);
            _readTimer.Dispose();
            _lifetime.Dispose();
            _writeLock.Dispose();
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
        AsyncOperationsWindow? window = null;
        if (request.AsyncOperationsWindow is { } proposed)
        {
            // What the requestor may invoke caps what we perform (0 = unlimited). As acceptor we invoke nothing on its
            // association (storage commitment reports go on one of our own), so our invoked count is the default 1.
            var ours = Math.Clamp(_options.MaxOperationsPerformed, 1, ushort.MaxValue);
            _window = proposed.MaxOperationsInvoked == 0 ? ours : Math.Min(ours, (int)proposed.MaxOperationsInvoked);
            window = new AsyncOperationsWindow(1, (ushort)_window);
        }
        var extended = NegotiateExtended(request);
        await WriteAsync(PduCodec.EncodeAssociateAccept(request, answers, _options.MaxPduLength, roles, window, extended), cancellationToken).ConfigureAwait(false);
        _info = new AssociationInfo(request.CallingAeTitle, request.CalledAeTitle, remote, request.MaxPduLength, request.ImplementationClassUid, request.ImplementationVersionName);
        _state = State.Established;
        _logger.LogInformation(
            "Accepted association from {CallingAe}@{Remote} ({Accepted}/{Proposed} presentation contexts, peer max PDU {PeerMaxPdu}, implementation {Implementation})",
            request.CallingAeTitle, remote, _contexts.Count, request.PresentationContexts.Count, request.MaxPduLength, request.ImplementationVersionName ?? request.ImplementationClassUid);
        if (window is not null || extended.Count > 0)
        {
            _logger.LogInformation(
                "Association with {CallingAe}: asynchronous operations window {Window} (proposed invoked {ProposedInvoked}), extended negotiation answered for {ExtendedCount}/{ExtendedProposed} SOP classes",
                request.CallingAeTitle, _window, request.AsyncOperationsWindow?.MaxOperationsInvoked, extended.Count, request.ExtendedNegotiations.Count);
        }
        return true;
    }

    /// <summary>
    /// SOP Class Extended Negotiation (PS3.7 D.3.3.5) for storage classes the requestor asked about and we accepted, answered per
    /// PS3.4 B.3.1: level 2 (every attribute kept, private ones included, since the data set is stored as received), no digital
    /// signature verification claimed, no element coercion (we never change what was sent). Other classes get no answer,
    /// which PS3.7 reads as not supported.
    /// </summary>
    private List<SopClassExtendedNegotiation> NegotiateExtended(AssociateRequest request)
    {
        var accepted = _contexts.Values.Select(c => c.AbstractSyntax).ToHashSet(StringComparer.Ordinal);
        return request.ExtendedNegotiations
            .Select(e => e.SopClassUid)
            .Distinct(StringComparer.Ordinal)
            .Where(uid => accepted.Contains(uid) && DicomUidRegistry.Default.IsStorageSopClass(uid))
            .Select(uid => new SopClassExtendedNegotiation(uid, StorageExtendedNegotiation))
            .ToList();
    }

    // PS3.4 Table B.3-1: level of support 2, reserved, level of digital signature support 0, reserved, element coercion 0, reserved.
    private static readonly byte[] StorageExtendedNegotiation = [2, 0, 0, 0, 0, 0];

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
            // With operations completing off the reader the idle timer runs meanwhile, so (unlike one at a time, where the reader
            // waits for the completion) a peer whose window is full and a completion slower than IdleTimeout end in an abort.
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
                    // Responses still being completed go out before the release response, which must be the last PDU we send.
                    await DrainInFlightAsync(quietly: false).ConfigureAwait(false);
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
        if (field != DimseCommand.CCancelRequest)
        {
            // Counted from the command until its response is sent; a peer invoking more than it negotiated breaks the protocol.
            var outstanding = Volatile.Read(ref _outstanding);
            if (outstanding >= _window)
            {
                throw new DicomFormatException(
                    $"request 0x{field:X4} (message {command.GetIntOrDefault(DicomTags.MessageID, 0)}) with {outstanding} outstanding exceeds the asynchronous operations window of {_window}");
            }
            Interlocked.Increment(ref _outstanding);
        }
        switch (field)
        {
            case DimseCommand.CEchoRequest:
                var echoStatus = await _echoHandler.EchoAsync(_info!, cancellationToken).ConfigureAwait(false);
                _logger.LogInformation("C-ECHO from {CallingAe}: {Status}", _info!.CallingAeTitle, echoStatus);
                await SendResponseAsync(contextId, DimseCommand.CreateResponse(command, echoStatus), cancellationToken).ConfigureAwait(false);
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
                    await SendResponseAsync(contextId, DimseCommand.CreateResponse(command, DicomStatus.UnrecognizedOperation), cancellationToken).ConfigureAwait(false);
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
        // From here the target is disposed by CompleteAndRespondAsync, whatever happens.
        var target = _target;
        var command = _pendingCommand;
        _target = null;
        _pendingCommand = null;
        if (_window == 1)
        {
            // One operation at a time: the reader waits for the response, as before any window was negotiated.
            await CompleteAndRespondAsync(contextId, command, target, cancellationToken, cancellationToken).ConfigureAwait(false);
            return;
        }
        _inFlight.RemoveAll(t => t.IsCompleted);
        // Off the reader: a target may do its durable write synchronously, and the next message should keep arriving meanwhile.
        _inFlight.Add(Task.Run(() => CompleteInBackgroundAsync(contextId, command, target), CancellationToken.None));
    }

    private async Task CompleteInBackgroundAsync(byte contextId, DicomDataset command, ICStoreTarget target)
    {
        try
        {
            await CompleteAndRespondAsync(contextId, command, target, _serverToken, _lifetime!.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            _logger.LogInformation("Response to message {MessageId} from {CallingAe} not sent: {Reason}",
                command.GetIntOrDefault(DicomTags.MessageID, 0), _info!.CallingAeTitle, ex.Message);
        }
    }

    /// <summary>Completes the operation, disposes its target, and sends its response (Message ID Being Responded To = its Message ID).</summary>
    private async Task CompleteAndRespondAsync(byte contextId, DicomDataset command, ICStoreTarget target, CancellationToken completeToken, CancellationToken sendToken)
    {
        DicomStatus status;
        try
        {
            status = await target.CompleteAsync(completeToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _logger.LogError(ex, "Storing {SopInstanceUid} failed", command.GetStringOrDefault(DicomTags.AffectedSOPInstanceUID));
            status = DicomStatus.ProcessingFailure;
        }
        finally
        {
            await target.DisposeAsync().ConfigureAwait(false);
        }
        await SendResponseAsync(contextId, DimseCommand.CreateResponse(command, status), sendToken).ConfigureAwait(false);
    }

    /// <summary>Waits for operations completing off the reader; quietly at teardown, where their failures were already logged.</summary>
    private async Task DrainInFlightAsync(bool quietly)
    {
        if (_inFlight.Count == 0)
        {
            return;
        }
        var all = Task.WhenAll(_inFlight);
        _inFlight.Clear();
        try
        {
            await all.ConfigureAwait(false);
        }
        catch (Exception ex) when (quietly)
        {
            _logger.LogWarning(ex, "An operation of {CallingAe} failed while the association ended", _info?.CallingAeTitle);
        }
    }

    private Task SendResponseAsync(byte contextId, DicomDataset response, CancellationToken cancellationToken)
    {
        // Released before the write: a peer that has our response may send its next request at once, and must find room.
        Interlocked.Decrement(ref _outstanding);
        return SendCommandAsync(contextId, response, cancellationToken);
    }

    private async Task SendCommandAsync(byte contextId, DicomDataset command, CancellationToken cancellationToken)
    {
        var bytes = DimseCommand.Encode(command);
        // Fragment to the peer's maximum (0 = unlimited); each PDV costs 6 bytes of header.
        var max = _info!.PeerMaxPduLength == 0 ? int.MaxValue : (int)Math.Max(_info.PeerMaxPduLength - 6, 1);
        var offset = 0;
        // The whole message under one lock: another operation's response must not slip between its fragments.
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            do
            {
                var chunk = Math.Min(max, bytes.Length - offset);
                var last = offset + chunk == bytes.Length;
                var body = new byte[6 + chunk];
                BinaryPrimitives.WriteUInt32BigEndian(body, (uint)(chunk + 2));
                body[4] = contextId;
                body[5] = (byte)(1 | (last ? 2 : 0));
                bytes.AsSpan(offset, chunk).CopyTo(body.AsSpan(6));
                await _stream.WriteAsync(PduCodec.Frame(PduType.DataTransfer, body), cancellationToken).ConfigureAwait(false);
                offset += chunk;
            }
            while (offset < bytes.Length);
        }
        finally
        {
            _writeLock.Release();
        }
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
            await _writeLock.WaitAsync(timeout.Token).ConfigureAwait(false);
            try
            {
                await _stream.WriteAsync(PduCodec.EncodeAbort(source, reason), timeout.Token).ConfigureAwait(false);
            }
            finally
            {
                _writeLock.Release();
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The peer is gone; nothing more to tell it.
        }
    }

    private async Task WriteAsync(byte[] pdu, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _stream.WriteAsync(pdu, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }
}
