using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using MedVision.Edge.Tests.EndToEnd;
using MedVision.Testing;

namespace MedVision.Edge.Tests.Export;

/// <summary>Outputs sent to a PACS over DICOM TLS, with dcmtk's storescp as the TLS PACS that demands our client certificate.</summary>
public sealed class TlsExportTests
{
    [Fact]
    public async Task Dicom_outputs_reach_a_tls_pacs_that_requires_our_client_certificate()
    {
        using var pki = new TempDirectory("medvision-pki");
        await MakeCertificateAsync(pki, "pacs");
        await MakeCertificateAsync(pki, "appliance");
        using var received = new TempDirectory("medvision-tls-pacs");
        var port = FreePort();
        using var pacs = Process.Start(new ProcessStartInfo(ExternalTool.Require("storescp"))
        {
            ArgumentList = { "+tls", pki.Combine("pacs.key"), pki.Combine("pacs.crt"), "+cf", pki.Combine("appliance.crt"), "-rc", "-aet", "TLSPACS", "-od", received.Path, port.ToString(CultureInfo.InvariantCulture) },
            // Not redirected: an unread pipe would stall storescp once it fills.
            RedirectStandardOutput = false,
            RedirectStandardError = false,
        })!;
        try
        {
            await Task.Delay(300);
            Assert.False(pacs.HasExited, "storescp did not start (see its output above)");
            await using var appliance = await RunningAppliance.StartAsync(
                "--MedVision:Pipeline:StudyQuietSeconds=0.5",
                "--MedVision:Export:InitialBackoffSeconds=0.2", "--MedVision:Export:MaxBackoffSeconds=0.5",
                "--MedVision:Export:Destinations:0:Type=dicom", "--MedVision:Export:Destinations:0:Host=localhost", "--MedVision:Export:AttemptTimeoutSeconds=10",
                $"--MedVision:Export:Destinations:0:Port={port}", "--MedVision:Export:Destinations:0:CalledAe=TLSPACS",
                "--MedVision:Export:Destinations:0:Tls=true",
                $"--MedVision:Export:Destinations:0:TlsCaPath={pki.Combine("pacs.crt")}",
                $"--MedVision:Export:Destinations:0:TlsCertificatePath={pki.Combine("appliance.crt")}",
                $"--MedVision:Export:Destinations:0:TlsKeyPath={pki.Combine("appliance.key")}");
            var study = await ExportTestKit.SendStudyAsync(appliance);

            var outputs = await ExportTestKit.WaitForDeliveriesAsync(appliance, study, d => ExportTestKit.State(d) == "delivered", seconds: 60);
            var sent = outputs.EnumerateArray().Where(o => o.GetProperty("deliveries").GetArrayLength() > 0).Select(o => o.GetProperty("sopInstanceUid").GetString()!).ToList();
            Assert.NotEmpty(sent);
            // storescp names each file after the SOP Instance UID it received.
            var files = Directory.GetFiles(received.Path).Select(Path.GetFileName).ToList();
            Assert.All(sent, sop => Assert.Contains(files, f => f!.EndsWith(sop, StringComparison.Ordinal)));
        }
        finally
        {
            pacs.Kill(entireProcessTree: true);
            await pacs.WaitForExitAsync();
        }
    }

    private static async Task MakeCertificateAsync(TempDirectory folder, string name)
    {
        var result = await ExternalTool.RunAsync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", folder.Combine(name + ".key"), "-out", folder.Combine(name + ".crt"), "-subj", "/CN=" + name,
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
