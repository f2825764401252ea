using System.Buffers.Binary;
using System.Net.Sockets;
using MedVision.Dicom.Network;
using MedVision.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace MedVision.Dicom.Tests;

/// <summary>
/// Hostile and broken peers on loopback: malformed PDUs, lying lengths, abrupt disconnects and slow-loris senders
/// must end their own association cleanly while the server keeps serving everyone else.
/// </summary>
public sealed class ScpRobustnessTests : IAsyncLifetime
{
    private const string CtStorage = "1.2.840.10008.5.1.4.1.1.2";
    private readonly CountingStoreHandler _store = new();
    private readonly CancellationTokenSource _stop = new();
    private DicomServer _server = null!;
    private Task _running = Task.CompletedTask;

    public Task InitializeAsync()
    {
        var options = new DicomServerOptions
        {
            AeTitle = "ROBUST", Port = 0, BindAddress = "127.0.0.1", MaxAssociations = 4,
            ArtimTimeout = TimeSpan.FromSeconds(2), IdleTimeout = TimeSpan.FromSeconds(3), MaxPduLength = 16384,
        };
        _server = new DicomServer(options, [new DefaultAssociationPolicy(options)], _store, new AlwaysSuccessfulEcho(), NullLogger<DicomServer>.Instance);
        _server.Start();
        _running = _server.RunAsync(_stop.Token);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        await _running;
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Truncated_associate_request_is_aborted()
    {
        var reply = await SendRawAsync(PduCodec.Frame(PduType.AssociateRequest, new byte[10]));
        Assert.True(reply.Length == 0 || reply[0] == (byte)PduType.Abort, $"got PDU type {reply.FirstOrDefault()}");
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Pdu_claiming_gigabytes_is_refused_without_reading_it()
    {
        var header = new byte[6];
        header[0] = (byte)PduType.AssociateRequest;
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(2), 2_000_000_000);
        var reply = await SendRawAsync(header);
        Assert.True(reply.Length == 0 || reply[0] == (byte)PduType.Abort);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Data_before_association_is_aborted()
    {
        var reply = await SendRawAsync(PduCodec.Frame(PduType.DataTransfer, new byte[] { 0, 0, 0, 2, 1, 3 }));
        Assert.True(reply.Length > 0 && reply[0] == (byte)PduType.Abort, "expected an A-ABORT");
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Oversized_pdata_and_lying_pdv_lengths_abort_the_association()
    {
        foreach (var pdu in new[]
        {
            // P-DATA longer than the max PDU we announced.
            PduCodec.Frame(PduType.DataTransfer, new byte[20000]),
            // PDV that claims more bytes than its PDU holds.
            PduCodec.Frame(PduType.DataTransfer, new byte[] { 0, 0, 1, 0, 1, 3, 9, 9 }),
            // PDV on a presentation context that was never accepted.
            PduCodec.Frame(PduType.DataTransfer, new byte[] { 0, 0, 0, 4, 99, 3, 0, 0 }),
        })
        {
            using var tcp = await AssociateAsync();
            await tcp.GetStream().WriteAsync(pdu);
            var reply = await ReadUntilClosedAsync(tcp);
            Assert.True(reply.Length > 0 && reply[0] == (byte)PduType.Abort, "expected an A-ABORT");
        }
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Abrupt_disconnect_mid_instance_discards_the_partial_instance()
    {
        using (var tcp = await AssociateAsync())
        {
            var command = new DicomDataset()
                .AddOrUpdate(DicomTags.AffectedSOPClassUID, DicomVR.UI, CtStorage)
                .AddOrUpdate(DicomTags.CommandField, DicomVR.US, DimseCommand.CStoreRequest)
                .AddOrUpdate(DicomTags.MessageID, DicomVR.US, (ushort)1)
                .AddOrUpdate(DicomTags.Priority, DicomVR.US, (ushort)0)
                .AddOrUpdate(DicomTags.CommandDataSetType, DicomVR.US, (ushort)0)
                .AddOrUpdate(DicomTags.AffectedSOPInstanceUID, DicomVR.UI, "2.25.42");
            var stream = tcp.GetStream();
            await stream.WriteAsync(Pdv(1, DimseCommand.Encode(command), command: true, last: true));
            await stream.WriteAsync(Pdv(1, new byte[1000], command: false, last: false));
            await stream.FlushAsync();
            await Eventually.UntilAsync(() => _store.Begun == 1, TimeSpan.FromSeconds(10), "the store begun");
        }
        await Eventually.UntilAsync(() => _store.Discarded == 1, TimeSpan.FromSeconds(10), "the cut-off instance discarded");
        Assert.Equal(0, _store.Completed);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Slow_loris_connections_are_cut_by_artim_and_do_not_block_real_peers()
    {
        var loris = new List<TcpClient>();
        var request = PduCodec.EncodeAssociateRequest("ROBUST", "LORIS", [new PresentationContextProposal(1, "1.2.840.10008.1.1", [DicomTransferSyntax.ImplicitVRLittleEndian.Uid])], 16384);
        for (var i = 0; i < 8; i++)
        {
            var tcp = new TcpClient();
            await tcp.ConnectAsync("127.0.0.1", _server.BoundPort);
            await tcp.GetStream().WriteAsync(request.AsMemory(0, 3));
            loris.Add(tcp);
        }
        // While they dribble, a real peer still gets through: negotiating connections hold no association slot.
        await AssertStillServingAsync();
        var closed = await Task.WhenAll(loris.Select(async tcp =>
        {
            var stream = tcp.GetStream();
            var sent = 3;
            var started = DateTime.UtcNow;
            try
            {
                while (DateTime.UtcNow - started < TimeSpan.FromSeconds(10))
                {
                    await stream.WriteAsync(request.AsMemory(sent++ % request.Length, 1));
                    await Task.Delay(250);
                }
            }
            catch (IOException)
            {
                return DateTime.UtcNow - started;
            }
            return TimeSpan.MaxValue;
        }));
        foreach (var tcp in loris)
        {
            tcp.Dispose();
        }
        Assert.All(closed, elapsed => Assert.True(elapsed < TimeSpan.FromSeconds(6), $"loris connection lived {elapsed}"));
    }

    [Fact]
    public async Task Established_association_limit_rejects_the_extra_peer_then_frees_up()
    {
        var held = new List<TcpClient>();
        for (var i = 0; i < 4; i++)
        {
            held.Add(await AssociateAsync());
        }
        var echo = await ExternalTool.RunAsync("echoscu", ["-aec", "ROBUST", "127.0.0.1", _server.BoundPort.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.NotEqual(0, echo.ExitCode);
        Assert.Contains("Local Limit Exceeded", echo.Combined, StringComparison.OrdinalIgnoreCase);
        foreach (var tcp in held)
        {
            tcp.Dispose();
        }
        await Eventually.UntilAsync(() => _server.ActiveAssociations == 0, TimeSpan.FromSeconds(10), "no association left");
        await AssertStillServingAsync();
    }

    private async Task AssertStillServingAsync()
    {
        var echo = await ExternalTool.RunAsync("echoscu", ["-aec", "ROBUST", "127.0.0.1", _server.BoundPort.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.True(echo.ExitCode == 0, echo.Combined);
    }

    private async Task<TcpClient> AssociateAsync()
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", _server.BoundPort);
        var stream = tcp.GetStream();
        await stream.WriteAsync(PduCodec.EncodeAssociateRequest("ROBUST", "TESTSCU",
            [new PresentationContextProposal(1, CtStorage, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid])], 16384));
        var header = new byte[6];
        await stream.ReadExactlyAsync(header);
        Assert.Equal((byte)PduType.AssociateAccept, header[0]);
        var body = new byte[BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(2))];
        await stream.ReadExactlyAsync(body);
        return tcp;
    }

    private async Task<byte[]> SendRawAsync(byte[] bytes)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", _server.BoundPort);
        await tcp.GetStream().WriteAsync(bytes);
        return await ReadUntilClosedAsync(tcp);
    }

    private static async Task<byte[]> ReadUntilClosedAsync(TcpClient tcp)
    {
        var received = new MemoryStream();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(8));
        try
        {
            int n;
            while ((n = await tcp.GetStream().ReadAsync(buffer, timeout.Token)) > 0)
            {
                received.Write(buffer, 0, n);
            }
        }
        catch (IOException)
        {
            // Reset by the server after its A-ABORT: also a clean end.
        }
        return received.ToArray();
    }

    private static byte[] Pdv(byte context, byte[] data, bool command, bool last)
    {
        var body = new byte[6 + data.Length];
        BinaryPrimitives.WriteUInt32BigEndian(body, (uint)(data.Length + 2));
        body[4] = context;
        body[5] = (byte)((command ? 1 : 0) | (last ? 2 : 0));
        data.CopyTo(body, 6);
        return PduCodec.Frame(PduType.DataTransfer, body);
    }

    private sealed class CountingStoreHandler : ICStoreHandler
    {
        private int _begun;
        private int _completed;
        private int _discarded;

        public int Begun => Volatile.Read(ref _begun);
        public int Completed => Volatile.Read(ref _completed);
        public int Discarded => Volatile.Read(ref _discarded);

        public ValueTask<ICStoreTarget> BeginStoreAsync(CStoreRequest request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _begun);
            return ValueTask.FromResult<ICStoreTarget>(new Target(this));
        }

        private sealed class Target(CountingStoreHandler owner) : ICStoreTarget
        {
            private bool _completed;

            public ValueTask WriteAsync(ReadOnlyMemory<byte> fragment, CancellationToken cancellationToken) => ValueTask.CompletedTask;

            public ValueTask<DicomStatus> CompleteAsync(CancellationToken cancellationToken)
            {
                _completed = true;
                Interlocked.Increment(ref owner._completed);
                return ValueTask.FromResult(DicomStatus.Success);
            }

            public ValueTask DisposeAsync()
            {
                if (!_completed)
                {
                    Interlocked.Increment(ref owner._discarded);
                }
                return ValueTask.CompletedTask;
            }
        }
    }
}
