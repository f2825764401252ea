using System.Globalization;
using System.Net;
using System.Net.Sockets;
using MedVision.Testing;

namespace MedVision.Edge.Tests.EndToEnd;

/// <summary>DICOM TLS (PS3.15 B.1) on the second port, driven by dcmtk's echoscu/storescu with +tls.</summary>
public sealed class DicomTlsTests
{
    [Fact]
    public async Task Storescu_over_tls_with_a_trusted_client_certificate_becomes_a_finding()
    {
        using var pki = new TempDirectory("medvision-pki");
        var tlsPort = FreePort();
        await using var appliance = await StartRequiringClientCertificatesAsync(pki, tlsPort);
        var port = tlsPort.ToString(CultureInfo.InvariantCulture);

        var echo = await ExternalTool.RunAsync("echoscu", ["+tls", pki.Combine("client.key"), pki.Combine("client.crt"), "+cf", pki.Combine("server.crt"), "-aec", "MEDVISION", "127.0.0.1", port]);
        Assert.True(echo.ExitCode == 0, echo.Combined);

        using var files = new TempDirectory();
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        var (path, studyUid, _) = ChestXrayDicom.Create(files.Path, images.Image(3));
        var store = await ExternalTool.RunAsync("storescu", ["+tls", pki.Combine("client.key"), pki.Combine("client.crt"), "+cf", pki.Combine("server.crt"), "-aec", "MEDVISION", "127.0.0.1", port, path]);
        Assert.True(store.ExitCode == 0, store.Combined);
        await appliance.WaitForAsync($"/api/findings?study={studyUid}", f => f.GetArrayLength() == 1, TimeSpan.FromSeconds(30));

        // A certificate the appliance does not trust, or no TLS at all, gets no association.
        var stranger = await ExternalTool.RunAsync("echoscu", ["+tls", pki.Combine("stranger.key"), pki.Combine("stranger.crt"), "+cf", pki.Combine("server.crt"), "-aec", "MEDVISION", "127.0.0.1", port]);
        Assert.NotEqual(0, stranger.ExitCode);
        var plain = await ExternalTool.RunAsync("echoscu", ["-to", "5", "-aec", "MEDVISION", "127.0.0.1", port]);
        Assert.NotEqual(0, plain.ExitCode);
        // The plain port is unaffected.
        var plainPort = await ExternalTool.RunAsync("echoscu", ["-aec", "MEDVISION", "127.0.0.1", appliance.DicomPortText]);
        Assert.True(plainPort.ExitCode == 0, plainPort.Combined);
    }

    [Fact]
    public async Task Our_scu_stores_over_tls_with_a_client_certificate_and_refuses_a_server_it_does_not_trust()
    {
        using var pki = new TempDirectory("medvision-pki");
        var tlsPort = FreePort();
        await using var appliance = await StartRequiringClientCertificatesAsync(pki, tlsPort);
        using var files = new TempDirectory();
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        var (path, studyUid, _) = ChestXrayDicom.Create(files.Path, images.Image(4));
        var file = MedVision.Dicom.DicomFile.Open(path);
        MedVision.Dicom.Network.PresentationContextProposal[] contexts =
            [new(1, "1.2.840.10008.5.1.4.1.1.1", [MedVision.Dicom.DicomTransferSyntax.ExplicitVRLittleEndian.Uid])];
        using var clientCertificate = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(pki.Combine("client.crt"), pki.Combine("client.key"));
        var trusted = new MedVision.Dicom.Network.DicomClientTlsOptions
        {
            TargetHost = "localhost",
            ClientCertificate = clientCertificate,
            TrustedServerAuthorities = [System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(pki.Combine("server.crt"))],
        };

        await using (var client = await MedVision.Dicom.Network.DicomClient.ConnectAsync("127.0.0.1", tlsPort, "MODALITY", "MEDVISION", contexts, [], trusted, CancellationToken.None))
        {
            var status = await client.StoreAsync(file, CancellationToken.None);
            Assert.True(status.IsSuccess, status.ToString());
            await client.ReleaseAsync(CancellationToken.None);
        }
        await appliance.WaitForAsync($"/api/findings?study={studyUid}", f => f.GetArrayLength() == 1, TimeSpan.FromSeconds(30));

        // Trusting only some other certificate, the SCU refuses the appliance before any DICOM is sent.
        var wrongAnchor = new MedVision.Dicom.Network.DicomClientTlsOptions
        {
            TargetHost = "localhost",
            ClientCertificate = clientCertificate,
            TrustedServerAuthorities = [System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(pki.Combine("stranger.crt"))],
        };
        await Assert.ThrowsAsync<System.Security.Authentication.AuthenticationException>(() =>
            MedVision.Dicom.Network.DicomClient.ConnectAsync("127.0.0.1", tlsPort, "MODALITY", "MEDVISION", contexts, [], wrongAnchor, CancellationToken.None));
    }

    /// <summary>Server, trusted client and untrusted "stranger" certificates in <paramref name="pki"/>, and an appliance whose TLS port requires a client certificate signed as the trusted one.</summary>
    private static async Task<RunningAppliance> StartRequiringClientCertificatesAsync(TempDirectory pki, int tlsPort)
    {
        await MakeCertificateAsync(pki, "server", "localhost");
        await MakeCertificateAsync(pki, "client", "modality");
        await MakeCertificateAsync(pki, "stranger", "stranger");
        return await RunningAppliance.StartAsync(
            $"--MedVision:Dicom:TlsPort={tlsPort}",
            $"--MedVision:Dicom:TlsCertificatePath={pki.Combine("server.crt")}",
            $"--MedVision:Dicom:TlsKeyPath={pki.Combine("server.key")}",
            "--MedVision:Dicom:TlsRequireClientCertificate=true",
            $"--MedVision:Dicom:TlsClientCaPath={pki.Combine("client.crt")}");
    }

    private static async Task MakeCertificateAsync(TempDirectory folder, string name, string commonName)
    {
        var result = await ExternalTool.RunAsync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", folder.Combine(name + ".key"), "-out", folder.Combine(name + ".crt"), "-subj", "/CN=" + commonName,
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]);
        Assert.True(result.ExitCode == 0, result.Combined);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
