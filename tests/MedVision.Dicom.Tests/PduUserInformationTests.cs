using System.Buffers.Binary;
using MedVision.Dicom.Network;

namespace MedVision.Dicom.Tests;

/// <summary>
/// Byte layouts of the user information sub-items 0x53 (Asynchronous Operations Window, PS3.7 D.3.3.3.1: two big-endian
/// 16-bit counts) and 0x56 (SOP Class Extended Negotiation, PS3.7 D.3.3.5.1: UID length, UID, application information).
/// </summary>
public sealed class PduUserInformationTests
{
    private const string CtStorage = "1.2.840.10008.5.1.4.1.1.2";

    [Fact]
    public void Pdu_request_carries_window_and_extended_negotiation_in_the_standard_layout()
    {
        var pdu = PduCodec.EncodeAssociateRequest("CALLED", "CALLING",
            [new PresentationContextProposal(1, CtStorage, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid])], 16384, [],
            new AsyncOperationsWindow(8, 1), [new SopClassExtendedNegotiation(CtStorage, [3, 0, 0, 0, 0, 0])]);

        var user = SubItems(pdu);
        Assert.Equal(new byte[] { 0x51, 0x52, 0x53, 0x55, 0x56 }, user.Select(i => i.Type));
        Assert.Equal(new byte[] { 0x00, 0x08, 0x00, 0x01 }, user.Single(i => i.Type == 0x53).Value);
        var extended = user.Single(i => i.Type == 0x56).Value;
        Assert.Equal(CtStorage.Length, BinaryPrimitives.ReadUInt16BigEndian(extended));
        Assert.Equal(CtStorage, System.Text.Encoding.ASCII.GetString(extended, 2, CtStorage.Length));
        Assert.Equal(new byte[] { 3, 0, 0, 0, 0, 0 }, extended[(2 + CtStorage.Length)..]);

        var parsed = PduCodec.ParseAssociateRequest(pdu[6..]);
        Assert.Equal(new AsyncOperationsWindow(8, 1), parsed.AsyncOperationsWindow);
        var item = Assert.Single(parsed.ExtendedNegotiations);
        Assert.Equal(CtStorage, item.SopClassUid);
        Assert.Equal(new byte[] { 3, 0, 0, 0, 0, 0 }, item.ApplicationInformation);
    }

    [Fact]
    public void Pdu_request_without_them_has_neither_sub_item()
    {
        var pdu = PduCodec.EncodeAssociateRequest("CALLED", "CALLING",
            [new PresentationContextProposal(1, CtStorage, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid])], 16384);
        Assert.Equal(new byte[] { 0x51, 0x52, 0x55 }, SubItems(pdu).Select(i => i.Type));
        var parsed = PduCodec.ParseAssociateRequest(pdu[6..]);
        Assert.Null(parsed.AsyncOperationsWindow);
        Assert.Empty(parsed.ExtendedNegotiations);
    }

    [Fact]
    public void Pdu_accept_round_trips_window_and_extended_negotiation()
    {
        var request = PduCodec.ParseAssociateRequest(PduCodec.EncodeAssociateRequest("CALLED", "CALLING",
            [new PresentationContextProposal(1, CtStorage, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid])], 16384)[6..]);
        var pdu = PduCodec.EncodeAssociateAccept(request,
            [new PresentationContextAnswer(1, PresentationContextResult.Acceptance, DicomTransferSyntax.ExplicitVRLittleEndian.Uid)], 16384, [],
            new AsyncOperationsWindow(1, 8), [new SopClassExtendedNegotiation(CtStorage, [2, 0, 0, 0, 0, 0])]);
        Assert.Equal(new byte[] { 0x00, 0x01, 0x00, 0x08 }, SubItems(pdu).Single(i => i.Type == 0x53).Value);

        var accept = PduCodec.ParseAssociateAcceptFull(pdu[6..]);
        Assert.Equal(new AsyncOperationsWindow(1, 8), accept.AsyncOperationsWindow);
        Assert.Equal(16384u, accept.MaxPduLength);
        Assert.Equal(PresentationContextResult.Acceptance, Assert.Single(accept.Answers).Result);
        var item = Assert.Single(accept.ExtendedNegotiations);
        Assert.Equal(CtStorage, item.SopClassUid);
        Assert.Equal(new byte[] { 2, 0, 0, 0, 0, 0 }, item.ApplicationInformation);
    }

    [Theory]
    [InlineData(new byte[] { 0x53, 0, 0, 2, 0, 8 })]
    [InlineData(new byte[] { 0x56, 0, 0, 4, 0, 40, 0x31, 0x2E })]
    public void Pdu_with_malformed_sub_item_is_refused(byte[] subItem)
    {
        var pdu = PduCodec.EncodeAssociateRequest("CALLED", "CALLING",
            [new PresentationContextProposal(1, CtStorage, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid])], 16384);
        // Append the sub-item to the user information item (the last item of the PDU) and fix both lengths.
        var userStart = pdu.Length - 4 - SubItems(pdu).Sum(i => 4 + i.Value.Length);
        var body = pdu[6..].Concat(subItem).ToArray();
        var userOffset = userStart - 6;
        BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(userOffset + 2), (ushort)(BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(userOffset + 2)) + subItem.Length));
        Assert.Throws<DicomFormatException>(() => PduCodec.ParseAssociateRequest(body));
    }

    /// <summary>The sub-items of the user information item (0x50), which the codec writes last.</summary>
    private static List<(byte Type, byte[] Value)> SubItems(byte[] pdu)
    {
        var pos = 6 + 68;
        while (pdu[pos] != 0x50)
        {
            pos += 4 + BinaryPrimitives.ReadUInt16BigEndian(pdu.AsSpan(pos + 2));
        }
        var end = pos + 4 + BinaryPrimitives.ReadUInt16BigEndian(pdu.AsSpan(pos + 2));
        Assert.Equal(pdu.Length, end);
        var items = new List<(byte, byte[])>();
        for (pos += 4; pos < end;)
        {
            var length = BinaryPrimitives.ReadUInt16BigEndian(pdu.AsSpan(pos + 2));
            items.Add((pdu[pos], pdu[(pos + 4)..(pos + 4 + length)]));
            pos += 4 + length;
        }
        return items;
    }
}
