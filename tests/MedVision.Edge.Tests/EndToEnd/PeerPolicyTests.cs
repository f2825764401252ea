using MedVision.Dicom;
using MedVision.Dicom.Network;
using MedVision.Testing;

namespace MedVision.Edge.Tests.EndToEnd;

/// <summary>Ingest policy per calling AE and source address, checked with dcmtk's echoscu.</summary>
public sealed class PeerPolicyTests
{
    [Fact]
    public async Task Calling_ae_allow_list_and_address_binding_are_enforced()
    {
        await using var appliance = await RunningAppliance.StartAsync(
            "--MedVision:Dicom:AllowedCallingAeTitles:0=CT1",
            "--MedVision:Dicom:AllowedCallingAeTitles:1=CR2",
            "--MedVision:Dicom:AllowedAddresses:0=127.0.0.0/8",
            "--MedVision:Dicom:CallingAeAddresses:CR2:0=10.20.30.40");

        async Task<ToolResult> Echo(string callingAe) =>
            await ExternalTool.RunAsync("echoscu", ["-aet", callingAe, "-aec", "MEDVISION", "127.0.0.1", appliance.DicomPortText]);

        var allowed = await Echo("CT1");
        Assert.True(allowed.ExitCode == 0, allowed.Combined);

        var unknown = await Echo("INTRUDER");
        Assert.NotEqual(0, unknown.ExitCode);
        Assert.Contains("Calling AE Title Not Recognized", unknown.Combined, StringComparison.OrdinalIgnoreCase);

        // CR2 is allowed, but only from its own address.
        var wrongHost = await Echo("CR2");
        Assert.NotEqual(0, wrongHost.ExitCode);
        Assert.Contains("Calling AE Title Not Recognized", wrongHost.Combined, StringComparison.OrdinalIgnoreCase);

        var health = await appliance.GetJsonAsync("/healthz");
        Assert.True(health.GetProperty("dicom").GetProperty("rejectedAssociations").GetInt64() >= 2);
    }

    [Fact]
    public async Task A_calling_ae_over_its_own_association_limit_is_refused_while_others_get_in()
    {
        await using var appliance = await RunningAppliance.StartAsync("--MedVision:Dicom:MaxAssociationsPerCallingAe:HOG=1");
        PresentationContextProposal[] echo = [new(1, "1.2.840.10008.1.1", [DicomTransferSyntax.ImplicitVRLittleEndian.Uid])];

        await using (var held = await DicomClient.ConnectAsync("127.0.0.1", appliance.DicomPort, "HOG", "MEDVISION", echo, CancellationToken.None))
        {
            var refused = await Assert.ThrowsAsync<DicomAssociationRejectedException>(
                () => DicomClient.ConnectAsync("127.0.0.1", appliance.DicomPort, "HOG", "MEDVISION", echo, CancellationToken.None));
            // Transient, by the service provider (presentation), local limit exceeded: PS3.8 Table 9-21.
            Assert.Equal((2, 3, 2), ((int)refused.Result, (int)refused.RejectSource, (int)refused.Reason));

            var other = await ExternalTool.RunAsync("echoscu", ["-aet", "CT1", "-aec", "MEDVISION", "127.0.0.1", appliance.DicomPortText]);
            Assert.True(other.ExitCode == 0, other.Combined);
            Assert.True((await held.EchoAsync(CancellationToken.None)).IsSuccess);
            await held.ReleaseAsync(CancellationToken.None);
        }

        // The slot is the AE's again once released.
        var again = await ExternalTool.RunAsync("echoscu", ["-aet", "HOG", "-aec", "MEDVISION", "127.0.0.1", appliance.DicomPortText]);
        Assert.True(again.ExitCode == 0, again.Combined);
    }

    [Fact]
    public async Task Invalid_address_configuration_stops_start_up_with_a_clear_error()
    {
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => RunningAppliance.StartAsync("--MedVision:Dicom:AllowedAddresses:0=not-an-address"));
        Assert.Contains("not-an-address", ex.Message, StringComparison.Ordinal);
    }
}
