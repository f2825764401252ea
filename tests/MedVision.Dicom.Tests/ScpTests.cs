using System.Collections.Concurrent;
using System.Net.Sockets;
using MedVision.Dicom.IO;
using MedVision.Dicom.Network;
using MedVision.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace MedVision.Dicom.Tests;

/// <summary>The SCP driven by dcmtk's echoscu/storescu, and by raw bytes for what dcmtk will not send.</summary>
public sealed class ScpTests : IAsyncLifetime
{
    private readonly MemoryStoreHandler _store = new();
    private readonly CancellationTokenSource _stop = new();
    private DicomServer _server = null!;
    private Task _running = Task.CompletedTask;

    public Task InitializeAsync()
    {
        var options = new DicomServerOptions { AeTitle = "TESTSCP", Port = 0, BindAddress = "127.0.0.1", MaxAssociations = 3, ArtimTimeout = TimeSpan.FromSeconds(2) };
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

    private string Port => _server.BoundPort.ToString(System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task Echoscu_succeeds()
    {
        var result = await ExternalTool.RunAsync("echoscu", ["-aec", "TESTSCP", "127.0.0.1", Port]);
        Assert.True(result.ExitCode == 0, result.Combined);
    }

    [Fact]
    public async Task Wrong_called_ae_is_rejected()
    {
        var result = await ExternalTool.RunAsync("echoscu", ["-aec", "SOMEONE", "127.0.0.1", Port]);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Called AE Title Not Recognized", result.Combined, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("CT_small.dcm", "")]
    [InlineData("MR_small_bigendian.dcm", "-xb")]
    [InlineData("MR_small_implicit.dcm", "-xi")]
    [InlineData("rtplan.dcm", "-xe")]
    [InlineData("CT_small.dcm", "-xd")]
    [InlineData("JPEG2000.dcm", "-xw")]
    [InlineData("SC_rgb_rle.dcm", "-xr")]
    [InlineData("JPEGLSNearLossless_08.dcm", "-xu")]
    [InlineData("JPEG-lossy.dcm", "-xx")]
    [InlineData("SC_rgb_jpeg_dcmtk.dcm", "-xy")]
    public async Task Storescu_delivers_the_dataset_intact(string name, string proposal)
    {
        var path = Path.Combine(RepoPaths.PydicomTestFiles, name);
        string[] args = proposal.Length > 0
            ? ["-aec", "TESTSCP", "--max-pdu", "4096", proposal, "127.0.0.1", Port, path]
            : ["-aec", "TESTSCP", "--max-pdu", "4096", "127.0.0.1", Port, path];
        var result = await ExternalTool.RunAsync("storescu", args);
        Assert.True(result.ExitCode == 0, result.Combined);

        var original = DicomFile.Open(path);
        var uid = original.Dataset.GetStringOrDefault(DicomTags.SOPInstanceUID)!;
        Assert.True(_store.Received.TryGetValue(uid, out var received), "instance not received");
        // Compressed data is kept as sent; uncompressed may arrive in another uncompressed syntax.
        Assert.Equal(original.TransferSyntax.IsEncapsulated, received.Syntax.IsEncapsulated);
        if (original.TransferSyntax.IsEncapsulated)
        {
            Assert.Equal(original.TransferSyntax, received.Syntax);
        }
        // The received bytes decode to the same attributes as the original (storescu may transcode to the accepted syntax).
        var dataset = DicomReader.ReadDataset(new MemoryStream(received.Bytes), received.Syntax);
        // storescu drops Data Set Trailing Padding (FFFC,FFFC), as PS3.10 7.2 allows.
        var trailingPadding = new DicomTag(0xFFFC, 0xFFFC);
        Assert.Equal(original.Dataset.Where(i => !i.Tag.IsGroupLength && i.Tag != trailingPadding).Select(i => i.Tag), dataset.Select(i => i.Tag));
        Assert.Equal(original.Dataset.GetStringOrDefault(DicomTags.PatientName), dataset.GetStringOrDefault(DicomTags.PatientName));
        Assert.Equal(original.Dataset[DicomTags.PixelData] is null, dataset[DicomTags.PixelData] is null);
        Assert.Equal(PixelBytes(original.Dataset), PixelBytes(dataset));
    }

    /// <summary>Native pixel bytes, or the concatenated fragments of encapsulated pixel data.</summary>
    private static byte[] PixelBytes(DicomDataset dataset) => dataset[DicomTags.PixelData] switch
    {
        DicomElement e => e.Buffer.GetBytes().ToArray(),
        DicomFragmentSequence f => f.Fragments.SelectMany(x => x.GetBytes().ToArray()).ToArray(),
        _ => [],
    };

    [Fact]
    public async Task Our_scu_stores_into_dcmtk_storescp()
    {
        using var output = new TempDirectory();
        var port = 0;
        using (var probe = new TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }
        using var storescp = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(ExternalTool.Require("storescp"))
        {
            ArgumentList = { "-aet", "STORESCP", "+xa", "-od", output.Path, port.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        try
        {
            var files = new[] { "CT_small.dcm", "MR_small_bigendian.dcm", "JPEG2000.dcm", "SC_rgb_rle.dcm" }
                .Select(f => DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, f))).ToList();
            DicomClient? client = null;
            for (var attempt = 0; client is null; attempt++)
            {
                try
                {
                    client = await DicomClient.ConnectAsync("127.0.0.1", port, "MEDVISION", "STORESCP",
                        files.Select((f, i) => new PresentationContextProposal((byte)(2 * i + 1), f.Dataset.GetStringOrDefault(DicomTags.SOPClassUID)!, [f.TransferSyntax.Uid])).ToList(),
                        CancellationToken.None);
                }
                catch (SocketException) when (attempt < 50)
                {
                    await Task.Delay(100);
                }
            }
            await using (client)
            {
                foreach (var file in files)
                {
                    Assert.True((await client.StoreAsync(file, CancellationToken.None)).IsSuccess);
                }
                await client.ReleaseAsync(CancellationToken.None);
            }
            var stored = Directory.GetFiles(output.Path);
            Assert.Equal(files.Count, stored.Length);
            foreach (var file in files)
            {
                var uid = file.Dataset.GetStringOrDefault(DicomTags.SOPInstanceUID)!;
                var copy = DicomFile.Open(stored.Single(p => p.EndsWith(uid, StringComparison.Ordinal)));
                Assert.Equal(file.TransferSyntax, copy.TransferSyntax);
                Assert.Equal(PixelBytes(file.Dataset), PixelBytes(copy.Dataset));
            }
        }
        finally
        {
            storescp.Kill();
        }
    }

    [Fact]
    public async Task Junk_on_the_port_is_dropped_and_the_server_keeps_serving()
    {
        using (var client = new TcpClient())
        {
            await client.ConnectAsync("127.0.0.1", _server.BoundPort);
            var stream = client.GetStream();
            await stream.WriteAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
            var buffer = new byte[64];
            var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
            // Either an A-ABORT (type 7) or a closed connection.
            Assert.True(read == 0 || buffer[0] == 0x07);
        }
        var echo = await ExternalTool.RunAsync("echoscu", ["-aec", "TESTSCP", "127.0.0.1", Port]);
        Assert.True(echo.ExitCode == 0, echo.Combined);
    }

    [Fact]
    public async Task Silent_connection_is_closed_by_artim()
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", _server.BoundPort);
        var read = await client.GetStream().ReadAsync(new byte[16]).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, read);
    }

    [Fact]
    public async Task Our_scu_round_trips_echo_and_store()
    {
        var file = DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, "CT_small.dcm"));
        var sopClass = file.Dataset.GetStringOrDefault(DicomTags.SOPClassUID)!;
        await using var client = await DicomClient.ConnectAsync("127.0.0.1", _server.BoundPort, "TESTSCU", "TESTSCP",
            [new PresentationContextProposal(1, "1.2.840.10008.1.1", [DicomTransferSyntax.ImplicitVRLittleEndian.Uid]),
             new PresentationContextProposal(3, sopClass, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid])], CancellationToken.None);
        Assert.True((await client.EchoAsync(CancellationToken.None)).IsSuccess);
        Assert.True((await client.StoreAsync(file, CancellationToken.None)).IsSuccess);
        await client.ReleaseAsync(CancellationToken.None);
    }
}
