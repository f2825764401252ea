using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using MedVision.Dicom.IO;
using MedVision.Dicom.Network;
using MedVision.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace MedVision.Dicom.Tests;

/// <summary>
/// Asynchronous Operations Window (PS3.7 D.3.3.3) between our SCU and our SCP, against dcmtk, and against a peer that
/// ignores what it negotiated; SOP Class Extended Negotiation (PS3.7 D.3.3.5, PS3.4 B.3.1) answered by the SCP.
/// </summary>
public sealed class ScpAsyncOperationsTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string CtStorage = "1.2.840.10008.5.1.4.1.1.2";
    private const string StudyRootFind = "1.2.840.10008.5.1.4.1.2.2.1";
    private readonly TempDirectory _spool = new("medvision-async-window");
    private readonly CancellationTokenSource _stop = new();
    private DurableStoreHandler _store = null!;
    private DicomServer _server = null!;
    private Task _running = Task.CompletedTask;

    public Task InitializeAsync()
    {
        _store = new DurableStoreHandler(_spool.Path);
        var options = new DicomServerOptions
        {
            AeTitle = "ASYNCSCP", Port = 0, BindAddress = "127.0.0.1", MaxAssociations = 4, MaxOperationsPerformed = 8,
            ArtimTimeout = TimeSpan.FromSeconds(5), IdleTimeout = TimeSpan.FromSeconds(30),
        };
        _server = new DicomServer(options, [new DefaultAssociationPolicy(options)], _store, new AlwaysSuccessfulEcho(), NullLogger<DicomServer>.Instance);
        _server.Start();
        _running = _server.RunAsync(_stop.Token);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _store.Gate.TrySetResult();
        await _stop.CancelAsync();
        await _running;
        await _server.DisposeAsync();
        _spool.Dispose();
    }

    [Fact]
    public async Task Window_of_8_pipelines_200_stores_with_every_response_matched_and_every_instance_intact()
    {
        var template = DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, "CT_small.dcm"));
        // A warm-up association so that no measured run pays for JIT and the first file system writes.
        await StoreBatchAsync(template, "2.25.1000", 20, window: 8);
        var speedUps = new Dictionary<CompletionCost, double>();
        var round = 0;
        foreach (var cost in Enum.GetValues<CompletionCost>())
        {
            _store.Cost = cost;
            _store.Reset();
            var serial = await StoreBatchAsync(template, $"2.25.1001.{++round}", 200, window: 1);
            var serialMaxConcurrent = _store.MaxConcurrentCompletions;
            _store.Reset();
            var pipelined = await StoreBatchAsync(template, $"2.25.1001.{++round}", 200, window: 8);
            var pipelinedMaxConcurrent = _store.MaxConcurrentCompletions;
            speedUps[cost] = serial.Elapsed / pipelined.Elapsed;
            output.WriteLine(
                $"{cost,-12} 200 × CT_small ({serial.Bytes / 200:N0} bytes): window 1 {serial.Elapsed.TotalMilliseconds,5:N0} ms ({200 / serial.Elapsed.TotalSeconds,5:N0}/s, " +
                $"max {serialMaxConcurrent} completing); window 8 {pipelined.Elapsed.TotalMilliseconds,5:N0} ms ({200 / pipelined.Elapsed.TotalSeconds,5:N0}/s, " +
                $"max {pipelinedMaxConcurrent} completing, {pipelined.OutOfOrder} finished after a later request); speed-up {speedUps[cost]:N2}×");

            Assert.Equal(1, serialMaxConcurrent);
            // The SCP never had more outstanding than granted; with a completion that waits, it really had several. (A local
            // fsync can finish before the next request has been read, so its overlap is reported, not asserted.)
            Assert.InRange(pipelinedMaxConcurrent, 1, 8);
            if (cost == CompletionCost.Wait5Ms)
            {
                Assert.True(pipelinedMaxConcurrent >= 2, $"{cost}: at most {pipelinedMaxConcurrent} completing at once");
            }
        }
        // Waiting on something other than the CPU (a remote or slow durable write) is what a window overlaps: 200 × 5 ms serial
        // against about 200 × 5 ms / 8 pipelined. (Local fsync and in-memory stores are reported, not asserted: on a small shared
        // machine they are bound by the disk journal and the CPU, which a window does not add.)
        Assert.True(speedUps[CompletionCost.Wait5Ms] > 2, $"window 8 only {speedUps[CompletionCost.Wait5Ms]:N2}× faster with 5 ms completions");
    }

    private async Task<(TimeSpan Elapsed, long Bytes, int InOrder, int OutOfOrder)> StoreBatchAsync(DicomFile template, string uidRoot, int count, int window)
    {
        var files = Enumerable.Range(1, count).Select(i => WithInstanceUid(template, $"{uidRoot}.{i}")).ToList();
        var expected = files.ToDictionary(f => f.Dataset.GetStringOrDefault(DicomTags.SOPInstanceUID)!, Encode);
        var watch = Stopwatch.StartNew();
        IReadOnlyList<StoreResult> results;
        await using (var client = await DicomClient.ConnectAsync("127.0.0.1", _server.BoundPort, "ASYNCSCU", "ASYNCSCP",
            [new PresentationContextProposal(1, CtStorage, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid])], CancellationToken.None, maxOperationsInvoked: window))
        {
            Assert.Equal(window, client.OperationsWindow);
            results = await client.StoreManyAsync(files, CancellationToken.None);
            await client.ReleaseAsync(CancellationToken.None);
        }
        watch.Stop();

        // One result per request, in request order, each for its own Message ID and instance.
        Assert.Equal(count, results.Count);
        Assert.Equal(files.Select(f => f.Dataset.GetStringOrDefault(DicomTags.SOPInstanceUID)), results.Select(r => r.SopInstanceUid));
        Assert.All(results, r => Assert.True(r.Status.IsSuccess, $"{r.SopInstanceUid}: {r.Status}"));
        Assert.Equal(count, results.Select(r => r.MessageId).Distinct().Count());
        foreach (var (uid, bytes) in expected)
        {
            Assert.True(_store.Received.TryGetValue(uid, out var received), $"{uid} not received");
            Assert.Equal(bytes, received);
            Assert.True(File.Exists(Path.Combine(_spool.Path, uid)), $"{uid} not written durably");
        }
        // Completions that finished after a later request's had: what a one-at-a-time peer could never see.
        var requestIndex = files.Select((f, i) => (Uid: f.Dataset.GetStringOrDefault(DicomTags.SOPInstanceUID)!, i)).ToDictionary(x => x.Uid, x => x.i);
        var latest = -1;
        var overtaken = 0;
        foreach (var uid in _store.CompletionOrder)
        {
            var index = requestIndex[uid];
            overtaken += index < latest ? 1 : 0;
            latest = Math.Max(latest, index);
        }
        return (watch.Elapsed, expected.Values.Sum(b => (long)b.Length), count - overtaken, overtaken);
    }

    [Fact]
    public async Task Our_scu_falls_back_to_one_at_a_time_against_dcmtk_storescp_which_grants_no_window()
    {
        using var received = new TempDirectory();
        var port = FreePort();
        using var storescp = Process.Start(new ProcessStartInfo(ExternalTool.Require("storescp"))
        {
            ArgumentList = { "-aet", "STORESCP", "-od", received.Path, port.ToString(CultureInfo.InvariantCulture) },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        try
        {
            var template = DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, "CT_small.dcm"));
            var files = Enumerable.Range(1, 10).Select(i => WithInstanceUid(template, $"2.25.2001.{i}")).ToList();
            DicomClient? client = null;
            for (var attempt = 0; client is null; attempt++)
            {
                try
                {
                    client = await DicomClient.ConnectAsync("127.0.0.1", port, "ASYNCSCU", "STORESCP",
                        [new PresentationContextProposal(1, CtStorage, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid])], CancellationToken.None, maxOperationsInvoked: 8);
                }
                catch (SocketException) when (attempt < 50)
                {
                    await Task.Delay(100);
                }
            }
            await using (client)
            {
                Assert.Null(client.Accept.AsyncOperationsWindow);
                Assert.Equal(1, client.OperationsWindow);
                var results = await client.StoreManyAsync(files, CancellationToken.None);
                Assert.All(results, r => Assert.True(r.Status.IsSuccess, r.Status.ToString()));
                await client.ReleaseAsync(CancellationToken.None);
            }
            Assert.Equal(files.Count, Directory.GetFiles(received.Path).Length);
        }
        finally
        {
            storescp.Kill();
        }
    }

    [Fact]
    public async Task Window_is_granted_only_when_proposed_and_never_above_the_proposal()
    {
        // No proposal: no window item in the AC (one operation at a time, as dcmtk expects).
        var none = await AssociateRawAsync(window: null, extended: []);
        Assert.Null(none.Accept.AsyncOperationsWindow);
        none.Tcp.Dispose();
        // Proposing 3 invoked gets 3 performed; proposing 0 (unlimited) gets our 8; our invoked count is 1 either way.
        var three = await AssociateRawAsync(new AsyncOperationsWindow(3, 1), []);
        Assert.Equal(new AsyncOperationsWindow(1, 3), three.Accept.AsyncOperationsWindow);
        three.Tcp.Dispose();
        var unlimited = await AssociateRawAsync(new AsyncOperationsWindow(0, 0), []);
        Assert.Equal(new AsyncOperationsWindow(1, 8), unlimited.Accept.AsyncOperationsWindow);
        unlimited.Tcp.Dispose();
    }

    [Fact]
    public async Task Default_server_answers_a_window_proposal_with_one_operation_at_a_time()
    {
        var options = new DicomServerOptions { AeTitle = "DEFAULT", Port = 0, BindAddress = "127.0.0.1" };
        await using var server = new DicomServer(options, [new DefaultAssociationPolicy(options)], new MemoryStoreHandler(), new AlwaysSuccessfulEcho(), NullLogger<DicomServer>.Instance);
        server.Start();
        using var stop = new CancellationTokenSource();
        var running = server.RunAsync(stop.Token);
        await using (var client = await DicomClient.ConnectAsync("127.0.0.1", server.BoundPort, "ASYNCSCU", "DEFAULT",
            [new PresentationContextProposal(1, CtStorage, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid])], CancellationToken.None, maxOperationsInvoked: 8))
        {
            Assert.Equal(new AsyncOperationsWindow(1, 1), client.Accept.AsyncOperationsWindow);
            Assert.Equal(1, client.OperationsWindow);
            var template = DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, "CT_small.dcm"));
            var results = await client.StoreManyAsync(Enumerable.Range(1, 5).Select(i => WithInstanceUid(template, $"2.25.3001.{i}")), CancellationToken.None);
            Assert.All(results, r => Assert.True(r.Status.IsSuccess));
            await client.ReleaseAsync(CancellationToken.None);
        }
        await stop.CancelAsync();
        await running;
    }

    [Fact]
    public async Task Peer_exceeding_its_window_is_aborted_while_the_server_keeps_serving_others()
    {
        // Completions wait at the gate, so nothing is answered and the third request finds two outstanding.
        _store.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (tcp, accept) = await AssociateRawAsync(new AsyncOperationsWindow(2, 1), []);
        using (tcp)
        {
            Assert.Equal(new AsyncOperationsWindow(1, 2), accept.AsyncOperationsWindow);
            var stream = tcp.GetStream();
            for (ushort id = 1; id <= 3; id++)
            {
                try
                {
                    await stream.WriteAsync(Pdv(1, DimseCommand.Encode(StoreCommand(id, $"2.25.4001.{id}")), command: true));
                    await stream.WriteAsync(Pdv(1, new byte[64], command: false));
                }
                catch (IOException)
                {
                    // The server may already have aborted and reset the connection.
                }
            }
            var reply = await ReadUntilClosedAsync(tcp);
            Assert.True(reply.Length > 0 && reply[0] == (byte)PduType.Abort, $"expected an A-ABORT, got {reply.Length} bytes starting {reply.FirstOrDefault()}");
        }
        _store.Gate.TrySetResult();

        // Another peer on another association is served, with its own window.
        var template = DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, "CT_small.dcm"));
        await using var client = await DicomClient.ConnectAsync("127.0.0.1", _server.BoundPort, "ASYNCSCU", "ASYNCSCP",
            [new PresentationContextProposal(1, CtStorage, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid])], CancellationToken.None, maxOperationsInvoked: 4);
        var results = await client.StoreManyAsync(Enumerable.Range(1, 20).Select(i => WithInstanceUid(template, $"2.25.4002.{i}")), CancellationToken.None);
        Assert.All(results, r => Assert.True(r.Status.IsSuccess));
        await client.ReleaseAsync(CancellationToken.None);
        var echo = await ExternalTool.RunAsync("echoscu", ["-aec", "ASYNCSCP", "127.0.0.1", _server.BoundPort.ToString(CultureInfo.InvariantCulture)]);
        Assert.True(echo.ExitCode == 0, echo.Combined);
    }

    [Fact]
    public async Task Release_waits_for_outstanding_responses_which_come_before_the_release_response()
    {
        _store.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (tcp, _) = await AssociateRawAsync(new AsyncOperationsWindow(2, 1), []);
        using (tcp)
        {
            var stream = tcp.GetStream();
            for (ushort id = 1; id <= 2; id++)
            {
                await stream.WriteAsync(Pdv(1, DimseCommand.Encode(StoreCommand(id, $"2.25.5001.{id}")), command: true));
                await stream.WriteAsync(Pdv(1, new byte[64], command: false));
            }
            await stream.WriteAsync(PduCodec.EncodeReleaseRequest());
            // Both stores are still completing: nothing may come back yet, not even the release response.
            var firstByte = new byte[1];
            var early = stream.ReadAsync(firstByte).AsTask();
            Assert.NotSame(early, await Task.WhenAny(early, Task.Delay(300)));
            _store.Gate.TrySetResult();
            Assert.Equal(1, await early);

            var pdus = new List<(PduType Type, byte[] Body)>();
            var header = new byte[6];
            header[0] = firstByte[0];
            await stream.ReadExactlyAsync(header.AsMemory(1, 5));
            while (true)
            {
                var body = new byte[BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(2))];
                await stream.ReadExactlyAsync(body);
                pdus.Add(((PduType)header[0], body));
                if (pdus[^1].Type != PduType.DataTransfer)
                {
                    break;
                }
                await stream.ReadExactlyAsync(header);
            }
            Assert.Equal([PduType.DataTransfer, PduType.DataTransfer, PduType.ReleaseResponse], pdus.Select(p => p.Type));
            var answered = pdus.Take(2).Select(p => DimseCommand.Parse(p.Body.AsMemory(6)))
                .Select(c => (ushort)c.GetIntOrDefault(DicomTags.MessageIDBeingRespondedTo, 0)).Order().ToArray();
            Assert.Equal(new ushort[] { 1, 2 }, answered);
        }
    }

    [Fact]
    public async Task Extended_negotiation_is_answered_for_accepted_storage_classes_that_asked_and_only_those()
    {
        var (tcp, accept) = await AssociateRawAsync(window: null, extended:
        [
            // The requestor's storage application information (PS3.4 B.3.1): level of support 3 = not applicable to a requestor.
            new SopClassExtendedNegotiation(CtStorage, [3, 0, 0, 0, 0, 0]),
            // Not accepted (no presentation context proposed for it): no answer.
            new SopClassExtendedNegotiation("1.2.840.10008.5.1.4.1.1.4", [3, 0, 0, 0, 0, 0]),
            // Proposed and rejected (we are no C-FIND SCP): no answer either.
            new SopClassExtendedNegotiation(StudyRootFind, [1]),
        ]);
        tcp.Dispose();
        var answer = Assert.Single(accept.ExtendedNegotiations);
        Assert.Equal(CtStorage, answer.SopClassUid);
        // Level 2 SCP, no digital signature support claimed, no element coercion.
        Assert.Equal(new byte[] { 2, 0, 0, 0, 0, 0 }, answer.ApplicationInformation);
        Assert.Null(accept.AsyncOperationsWindow);
    }

    [Fact]
    public async Task Extended_negotiation_from_dcmtk_storescu_profile_is_answered()
    {
        using var config = new TempDirectory();
        var configPath = Path.Combine(config.Path, "extneg.cfg");
        await File.WriteAllTextAsync(configPath, """
            [[TransferSyntaxes]]
            [Uncompressed]
            TransferSyntax1 = LittleEndianExplicit
            TransferSyntax2 = LittleEndianImplicit

            [[PresentationContexts]]
            [CT]
            PresentationContext1 = CTImageStorage\Uncompressed

            [[ExtendedNegotiation]]
            [CTLevel]
            ExtendedNegotiation1 = CTImageStorage\030000000000

            [[Profiles]]
            [CTWithExtendedNegotiation]
            PresentationContexts = CT
            ExtendedNegotiation = CTLevel
            """.Replace("            ", string.Empty, StringComparison.Ordinal));
        var path = Path.Combine(RepoPaths.PydicomTestFiles, "CT_small.dcm");
        var result = await ExternalTool.RunAsync("storescu",
            ["-d", "-aec", "ASYNCSCP", "-xf", configPath, "CTWithExtendedNegotiation", "127.0.0.1", _server.BoundPort.ToString(CultureInfo.InvariantCulture), path]);
        var lines = result.Combined.Split('\n');
        var accepted = Array.FindLastIndex(lines, l => l.Contains("Accepted Extended Negotiation", StringComparison.Ordinal));
        output.WriteLine(string.Join('\n', lines.Skip(Math.Max(accepted - 3, 0)).Take(6)));
        Assert.True(result.ExitCode == 0, result.Combined);
        var ac = result.Combined[result.Combined.IndexOf("A-ASSOCIATE-AC", StringComparison.Ordinal)..];
        Assert.Matches(@"Accepted Extended Negotiation:\s*\n.*1\.2\.840\.10008\.5\.1\.4\.1\.1\.2.*\n.*\[0x02, 0x00, 0x00, 0x00, 0x00, 0x00\]", ac);
    }

    private async Task<(TcpClient Tcp, AssociateAccept Accept)> AssociateRawAsync(AsyncOperationsWindow? window, IReadOnlyList<SopClassExtendedNegotiation> extended)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", _server.BoundPort);
        var stream = tcp.GetStream();
        await stream.WriteAsync(PduCodec.EncodeAssociateRequest("ASYNCSCP", "RAWSCU",
            [new PresentationContextProposal(1, CtStorage, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid]),
             new PresentationContextProposal(3, StudyRootFind, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid])], 16384, [], window, extended));
        var header = new byte[6];
        await stream.ReadExactlyAsync(header);
        Assert.Equal((byte)PduType.AssociateAccept, header[0]);
        var body = new byte[BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(2))];
        await stream.ReadExactlyAsync(body);
        return (tcp, PduCodec.ParseAssociateAcceptFull(body));
    }

    private static DicomDataset StoreCommand(ushort messageId, string sopInstanceUid) => new DicomDataset()
        .AddOrUpdate(DicomTags.AffectedSOPClassUID, DicomVR.UI, CtStorage)
        .AddOrUpdate(DicomTags.CommandField, DicomVR.US, DimseCommand.CStoreRequest)
        .AddOrUpdate(DicomTags.MessageID, DicomVR.US, messageId)
        .AddOrUpdate(DicomTags.Priority, DicomVR.US, (ushort)0)
        .AddOrUpdate(DicomTags.CommandDataSetType, DicomVR.US, (ushort)0)
        .AddOrUpdate(DicomTags.AffectedSOPInstanceUID, DicomVR.UI, sopInstanceUid);

    private static DicomFile WithInstanceUid(DicomFile template, string uid)
    {
        var dataset = DicomReader.ReadDataset(new MemoryStream(Encode(template)), DicomTransferSyntax.ExplicitVRLittleEndian);
        dataset.AddOrUpdate(DicomTags.SOPInstanceUID, DicomVR.UI, uid);
        return DicomFile.Create(dataset, DicomTransferSyntax.ExplicitVRLittleEndian);
    }

    private static byte[] Encode(DicomFile file)
    {
        var bytes = new MemoryStream();
        DicomWriter.WriteDataset(bytes, file.Dataset, DicomTransferSyntax.ExplicitVRLittleEndian);
        return bytes.ToArray();
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        return ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static byte[] Pdv(byte context, byte[] data, bool command)
    {
        var body = new byte[6 + data.Length];
        BinaryPrimitives.WriteUInt32BigEndian(body, (uint)(data.Length + 2));
        body[4] = context;
        body[5] = (byte)((command ? 1 : 0) | 2);
        data.CopyTo(body, 6);
        return PduCodec.Frame(PduType.DataTransfer, body);
    }

    private static async Task<byte[]> ReadUntilClosedAsync(TcpClient tcp)
    {
        var received = new MemoryStream();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
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

    /// <summary>What a completion costs besides writing the instance to a file: nothing more, an fsync, or a 5 ms wait.</summary>
    private enum CompletionCost { Memory, Fsync, Wait5Ms }

    /// <summary>
    /// Keeps each data set in memory for comparison and writes it to a file on completion, fsync'd (as the appliance's spool does)
    /// or followed by a fixed wait (a slow or remote durable store), counting how many completions run at once.
    /// </summary>
    private sealed class DurableStoreHandler(string folder) : ICStoreHandler
    {
        private int _concurrent;
        private int _maxConcurrent;

        public string Folder { get; } = folder;

        public ConcurrentDictionary<string, byte[]> Received { get; } = new();

        public ConcurrentQueue<string> CompletionOrder { get; private set; } = new();

        public TaskCompletionSource Gate { get; set; } = CompletedGate();

        public int MaxConcurrentCompletions => Volatile.Read(ref _maxConcurrent);

        public CompletionCost Cost { get; set; } = CompletionCost.Fsync;

        public void Reset()
        {
            Volatile.Write(ref _maxConcurrent, 0);
            CompletionOrder = new ConcurrentQueue<string>();
        }

        public ValueTask<ICStoreTarget> BeginStoreAsync(CStoreRequest request, CancellationToken cancellationToken) =>
            ValueTask.FromResult<ICStoreTarget>(new Target(this, request.SopInstanceUid));

        private static TaskCompletionSource CompletedGate()
        {
            var gate = new TaskCompletionSource();
            gate.SetResult();
            return gate;
        }

        private sealed class Target(DurableStoreHandler owner, string uid) : ICStoreTarget
        {
            private readonly MemoryStream _bytes = new();

            public ValueTask WriteAsync(ReadOnlyMemory<byte> fragment, CancellationToken cancellationToken)
            {
                _bytes.Write(fragment.Span);
                return ValueTask.CompletedTask;
            }

            public async ValueTask<DicomStatus> CompleteAsync(CancellationToken cancellationToken)
            {
                var now = Interlocked.Increment(ref owner._concurrent);
                int seen;
                while (now > (seen = Volatile.Read(ref owner._maxConcurrent)) && Interlocked.CompareExchange(ref owner._maxConcurrent, now, seen) != seen)
                {
                }
                try
                {
                    await owner.Gate.Task.WaitAsync(cancellationToken);
                    var bytes = _bytes.ToArray();
                    await using (var file = new FileStream(Path.Combine(owner.Folder, uid), FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous))
                    {
                        await file.WriteAsync(bytes, cancellationToken);
                        file.Flush(flushToDisk: owner.Cost == CompletionCost.Fsync);
                    }
                    if (owner.Cost == CompletionCost.Wait5Ms)
                    {
                        await Task.Delay(5, cancellationToken);
                    }
                    owner.Received[uid] = bytes;
                    owner.CompletionOrder.Enqueue(uid);
                    return DicomStatus.Success;
                }
                finally
                {
                    Interlocked.Decrement(ref owner._concurrent);
                }
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
