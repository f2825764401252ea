using System.Buffers.Binary;
using System.Text;

namespace MedVision.Dicom.Network;

/// <summary>PDU types of the DICOM Upper Layer (PS3.8 9.3).</summary>
public enum PduType : byte
{
    AssociateRequest = 0x01,
    AssociateAccept = 0x02,
    AssociateReject = 0x03,
    DataTransfer = 0x04,
    ReleaseRequest = 0x05,
    ReleaseResponse = 0x06,
    Abort = 0x07,
}

/// <summary>One raw PDU: its type and body (without the 6-byte header).</summary>
public readonly record struct RawPdu(PduType Type, byte[] Body);

public sealed record PresentationContextProposal(byte Id, string AbstractSyntax, IReadOnlyList<string> TransferSyntaxes);

public sealed record RoleSelection(string SopClassUid, bool ScuRole, bool ScpRole);

/// <summary>
/// Asynchronous Operations Window sub-item 0x53 (PS3.7 D.3.3.3): how many operations a side may have outstanding as invoker and as
/// performer; 0 means unlimited. An absent item means (1, 1), i.e. one operation at a time.
/// </summary>
public readonly record struct AsyncOperationsWindow(ushort MaxOperationsInvoked, ushort MaxOperationsPerformed);

/// <summary>
/// SOP Class Extended Negotiation sub-item 0x56 (PS3.7 D.3.3.5): service-class-specific application information for one SOP class,
/// e.g. the six storage bytes of PS3.4 B.3.1.
/// </summary>
public sealed record SopClassExtendedNegotiation(string SopClassUid, byte[] ApplicationInformation);

/// <summary>What an A-ASSOCIATE-AC says (PS3.8 9.3.3): context answers, the acceptor's max PDU and its user information answers.</summary>
public sealed record AssociateAccept(
    IReadOnlyList<PresentationContextAnswer> Answers,
    uint MaxPduLength,
    IReadOnlyList<RoleSelection> RoleSelections,
    AsyncOperationsWindow? AsyncOperationsWindow,
    IReadOnlyList<SopClassExtendedNegotiation> ExtendedNegotiations);

/// <summary>A-ASSOCIATE-RQ content (PS3.8 9.3.2).</summary>
public sealed record AssociateRequest(
    string CalledAeTitle,
    string CallingAeTitle,
    string ApplicationContext,
    IReadOnlyList<PresentationContextProposal> PresentationContexts,
    uint MaxPduLength,
    string? ImplementationClassUid,
    string? ImplementationVersionName,
    IReadOnlyList<RoleSelection> RoleSelections,
    ushort ProtocolVersion)
{
    /// <summary>The requestor's window proposal; null when it sent none (one operation at a time).</summary>
    public AsyncOperationsWindow? AsyncOperationsWindow { get; init; }

    public IReadOnlyList<SopClassExtendedNegotiation> ExtendedNegotiations { get; init; } = [];
}

/// <summary>Presentation context results of A-ASSOCIATE-AC (PS3.8 9.3.3.2).</summary>
public enum PresentationContextResult : byte
{
    Acceptance = 0,
    UserRejection = 1,
    NoReason = 2,
    AbstractSyntaxNotSupported = 3,
    TransferSyntaxesNotSupported = 4,
}

public sealed record PresentationContextAnswer(byte Id, PresentationContextResult Result, string TransferSyntax);

/// <summary>Encodes and decodes the PDUs the SCP exchanges. Every length is checked against what remains.</summary>
public static class PduCodec
{
    public const string DicomApplicationContext = "1.2.840.10008.3.1.1.1";

    public static AssociateRequest ParseAssociateRequest(byte[] body)
    {
        if (body.Length < 68)
        {
            throw new DicomFormatException($"A-ASSOCIATE-RQ too short ({body.Length} bytes).");
        }
        var protocol = BinaryPrimitives.ReadUInt16BigEndian(body);
        var called = Ae(body.AsSpan(4, 16));
        var calling = Ae(body.AsSpan(20, 16));
        string appContext = string.Empty;
        var contexts = new List<PresentationContextProposal>();
        var roles = new List<RoleSelection>();
        var extended = new List<SopClassExtendedNegotiation>();
        AsyncOperationsWindow? window = null;
        uint maxPdu = 0;
        string? implClass = null, implVersion = null;
        var pos = 68;
        while (pos < body.Length)
        {
            var (type, item, next) = ReadItem(body, pos);
            pos = next;
            switch (type)
            {
                case 0x10:
                    appContext = Uid(item);
                    break;
                case 0x20:
                    contexts.Add(ParsePresentationContext(item));
                    break;
                case 0x50:
                    var sub = 0;
                    while (sub < item.Length)
                    {
                        var (subType, value, subNext) = ReadItem(item, sub);
                        sub = subNext;
                        switch (subType)
                        {
                            case 0x51 when value.Length >= 4:
                                maxPdu = BinaryPrimitives.ReadUInt32BigEndian(value);
                                break;
                            case 0x52:
                                implClass = Uid(value);
                                break;
                            case 0x55:
                                implVersion = Encoding.ASCII.GetString(value).Trim();
                                break;
                            case 0x54 when value.Length >= 4:
                                var uidLength = BinaryPrimitives.ReadUInt16BigEndian(value);
                                if (2 + uidLength + 2 <= value.Length)
                                {
                                    roles.Add(new RoleSelection(Uid(value.AsSpan(2, uidLength).ToArray()), value[2 + uidLength] == 1, value[3 + uidLength] == 1));
                                }
                                break;
                            case 0x53:
                                window = ParseWindow(value);
                                break;
                            case 0x56:
                                extended.Add(ParseExtendedNegotiation(value));
                                break;
                        }
                    }
                    break;
            }
        }
        return new AssociateRequest(called, calling, appContext, contexts, maxPdu, implClass, implVersion, roles, protocol)
        {
            AsyncOperationsWindow = window,
            ExtendedNegotiations = extended,
        };
    }

    private static AsyncOperationsWindow ParseWindow(byte[] value) => value.Length == 4
        ? new AsyncOperationsWindow(BinaryPrimitives.ReadUInt16BigEndian(value), BinaryPrimitives.ReadUInt16BigEndian(value.AsSpan(2)))
        : throw new DicomFormatException($"Asynchronous operations window sub-item of {value.Length} bytes (4 expected).");

    private static SopClassExtendedNegotiation ParseExtendedNegotiation(byte[] value)
    {
        var uidLength = value.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(value) : int.MaxValue;
        if (2 + uidLength > value.Length)
        {
            throw new DicomFormatException("SOP class extended negotiation sub-item shorter than its SOP class UID.");
        }
        return new SopClassExtendedNegotiation(Uid(value.AsSpan(2, uidLength)), value.AsSpan(2 + uidLength).ToArray());
    }

    private static byte[] EncodeWindow(AsyncOperationsWindow window)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt16BigEndian(bytes, window.MaxOperationsInvoked);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(2), window.MaxOperationsPerformed);
        return bytes;
    }

    private static byte[] EncodeExtendedNegotiation(SopClassExtendedNegotiation item)
    {
        var r = new MemoryStream();
        var uid = Encoding.ASCII.GetBytes(item.SopClassUid);
        WriteUInt16(r, (ushort)uid.Length);
        r.Write(uid);
        r.Write(item.ApplicationInformation);
        return r.ToArray();
    }

    /// <summary>
    /// User information sub-items in item-type order (PS3.7 D.3.3): max length, implementation class, window, role selections,
    /// implementation version, extended negotiation.
    /// </summary>
    private static byte[] EncodeUserInformation(uint maxPduLength, IReadOnlyList<RoleSelection> roles, AsyncOperationsWindow? window, IReadOnlyList<SopClassExtendedNegotiation>? extended)
    {
        var user = new MemoryStream();
        var max = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(max, maxPduLength);
        WriteItem(user, 0x51, max);
        WriteItem(user, 0x52, Encoding.ASCII.GetBytes(DicomFile.ImplementationClassUid));
        if (window is { } w)
        {
            WriteItem(user, 0x53, EncodeWindow(w));
        }
        foreach (var role in roles)
        {
            WriteItem(user, 0x54, EncodeRole(role));
        }
        WriteItem(user, 0x55, Encoding.ASCII.GetBytes(DicomFile.ImplementationVersionName));
        foreach (var item in extended ?? [])
        {
            WriteItem(user, 0x56, EncodeExtendedNegotiation(item));
        }
        return user.ToArray();
    }

    private static PresentationContextProposal ParsePresentationContext(byte[] item)
    {
        if (item.Length < 4)
        {
            throw new DicomFormatException("Presentation context item too short.");
        }
        var id = item[0];
        string abstractSyntax = string.Empty;
        var syntaxes = new List<string>();
        var pos = 4;
        while (pos < item.Length)
        {
            var (type, value, next) = ReadItem(item, pos);
            pos = next;
            if (type == 0x30)
            {
                abstractSyntax = Uid(value);
            }
            else if (type == 0x40)
            {
                syntaxes.Add(Uid(value));
            }
        }
        return new PresentationContextProposal(id, abstractSyntax, syntaxes);
    }

    private static (byte Type, byte[] Value, int Next) ReadItem(byte[] buffer, int pos)
    {
        if (pos + 4 > buffer.Length)
        {
            throw new DicomFormatException("Truncated PDU item header.");
        }
        var type = buffer[pos];
        var length = BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(pos + 2));
        if (pos + 4 + length > buffer.Length)
        {
            throw new DicomFormatException($"PDU item 0x{type:X2} declares {length} bytes beyond the PDU.");
        }
        return (type, buffer.AsSpan(pos + 4, length).ToArray(), pos + 4 + length);
    }

    public static byte[] EncodeAssociateAccept(
        AssociateRequest request, IReadOnlyList<PresentationContextAnswer> answers, uint maxPduLength, IReadOnlyList<RoleSelection> roles,
        AsyncOperationsWindow? window = null, IReadOnlyList<SopClassExtendedNegotiation>? extended = null)
    {
        var body = new MemoryStream();
        WriteUInt16(body, 1);
        WriteUInt16(body, 0);
        // Called/calling AE in the AC are the values received (PS3.8 9.3.3), not tested by the peer.
        body.Write(AeBytes(request.CalledAeTitle));
        body.Write(AeBytes(request.CallingAeTitle));
        body.Write(new byte[32]);
        WriteItem(body, 0x10, Encoding.ASCII.GetBytes(DicomApplicationContext));
        foreach (var answer in answers)
        {
            var pc = new MemoryStream();
            pc.WriteByte(answer.Id);
            pc.WriteByte(0);
            pc.WriteByte((byte)answer.Result);
            pc.WriteByte(0);
            WriteItem(pc, 0x40, Encoding.ASCII.GetBytes(answer.TransferSyntax));
            WriteItem(body, 0x21, pc.ToArray());
        }
        WriteItem(body, 0x50, EncodeUserInformation(maxPduLength, roles, window, extended));
        return Frame(PduType.AssociateAccept, body.ToArray());
    }

    public static byte[] EncodeAssociateRequest(string calledAe, string callingAe, IReadOnlyList<PresentationContextProposal> contexts, uint maxPduLength) =>
        EncodeAssociateRequest(calledAe, callingAe, contexts, maxPduLength, []);

    /// <summary>
    /// A-ASSOCIATE-RQ with SCP/SCU Role Selection sub-items (PS3.7 D.3.3.4): a C-GET SCU proposes the SCP role for the storage
    /// SOP classes it wants to receive on the same association.
    /// </summary>
    /// <remarks>
    /// <paramref name="window"/> proposes an asynchronous operations window (PS3.7 D.3.3.3) and <paramref name="extended"/> adds SOP Class
    /// Extended Negotiation sub-items (PS3.7 D.3.3.5); both are left out of the PDU when null.
    /// </remarks>
    public static byte[] EncodeAssociateRequest(
        string calledAe, string callingAe, IReadOnlyList<PresentationContextProposal> contexts, uint maxPduLength, IReadOnlyList<RoleSelection> roles,
        AsyncOperationsWindow? window = null, IReadOnlyList<SopClassExtendedNegotiation>? extended = null)
    {
        var body = new MemoryStream();
        WriteUInt16(body, 1);
        WriteUInt16(body, 0);
        body.Write(AeBytes(calledAe));
        body.Write(AeBytes(callingAe));
        body.Write(new byte[32]);
        WriteItem(body, 0x10, Encoding.ASCII.GetBytes(DicomApplicationContext));
        foreach (var pc in contexts)
        {
            var item = new MemoryStream();
            item.WriteByte(pc.Id);
            item.Write([0, 0, 0]);
            WriteItem(item, 0x30, Encoding.ASCII.GetBytes(pc.AbstractSyntax));
            foreach (var ts in pc.TransferSyntaxes)
            {
                WriteItem(item, 0x40, Encoding.ASCII.GetBytes(ts));
            }
            WriteItem(body, 0x20, item.ToArray());
        }
        WriteItem(body, 0x50, EncodeUserInformation(maxPduLength, roles, window, extended));
        return Frame(PduType.AssociateRequest, body.ToArray());
    }

    private static byte[] EncodeRole(RoleSelection role)
    {
        var r = new MemoryStream();
        var uid = Encoding.ASCII.GetBytes(role.SopClassUid);
        WriteUInt16(r, (ushort)uid.Length);
        r.Write(uid);
        r.WriteByte(role.ScuRole ? (byte)1 : (byte)0);
        r.WriteByte(role.ScpRole ? (byte)1 : (byte)0);
        return r.ToArray();
    }

    /// <summary>Reads the presentation context answers and the acceptor's max PDU from an A-ASSOCIATE-AC.</summary>
    public static (IReadOnlyList<PresentationContextAnswer> Answers, uint MaxPduLength) ParseAssociateAccept(byte[] body)
    {
        var (answers, maxPdu, _) = ParseAssociateAcceptWithRoles(body);
        return (answers, maxPdu);
    }

    /// <summary>As <see cref="ParseAssociateAccept"/>, plus the role selections the acceptor answered.</summary>
    public static (IReadOnlyList<PresentationContextAnswer> Answers, uint MaxPduLength, IReadOnlyList<RoleSelection> Roles) ParseAssociateAcceptWithRoles(byte[] body)
    {
        var accept = ParseAssociateAcceptFull(body);
        return (accept.Answers, accept.MaxPduLength, accept.RoleSelections);
    }

    /// <summary>Everything an A-ASSOCIATE-AC answers, including the asynchronous operations window and extended negotiation.</summary>
    public static AssociateAccept ParseAssociateAcceptFull(byte[] body)
    {
        if (body.Length < 68)
        {
            throw new DicomFormatException($"A-ASSOCIATE-AC too short ({body.Length} bytes).");
        }
        var answers = new List<PresentationContextAnswer>();
        var roles = new List<RoleSelection>();
        var extended = new List<SopClassExtendedNegotiation>();
        AsyncOperationsWindow? window = null;
        uint maxPdu = 0;
        var pos = 68;
        while (pos < body.Length)
        {
            var (type, item, next) = ReadItem(body, pos);
            pos = next;
            if (type == 0x21 && item.Length >= 4)
            {
                var ts = string.Empty;
                var sub = 4;
                while (sub < item.Length)
                {
                    var (subType, value, subNext) = ReadItem(item, sub);
                    sub = subNext;
                    if (subType == 0x40)
                    {
                        ts = Uid(value);
                    }
                }
                answers.Add(new PresentationContextAnswer(item[0], (PresentationContextResult)item[2], ts));
            }
            else if (type == 0x50)
            {
                var sub = 0;
                while (sub < item.Length)
                {
                    var (subType, value, subNext) = ReadItem(item, sub);
                    sub = subNext;
                    if (subType == 0x51 && value.Length >= 4)
                    {
                        maxPdu = BinaryPrimitives.ReadUInt32BigEndian(value);
                    }
                    else if (subType == 0x54 && value.Length >= 4)
                    {
                        var uidLength = BinaryPrimitives.ReadUInt16BigEndian(value);
                        if (2 + uidLength + 2 <= value.Length)
                        {
                            roles.Add(new RoleSelection(Uid(value.AsSpan(2, uidLength).ToArray()), value[2 + uidLength] == 1, value[3 + uidLength] == 1));
                        }
                    }
                    else if (subType == 0x53)
                    {
                        window = ParseWindow(value);
                    }
                    else if (subType == 0x56)
                    {
                        extended.Add(ParseExtendedNegotiation(value));
                    }
                }
            }
        }
        return new AssociateAccept(answers, maxPdu, roles, window, extended);
    }

    /// <summary>A-ASSOCIATE-RJ: result 1 permanent / 2 transient; source 1 user, 2 ACSE, 3 presentation (PS3.8 9.3.4).</summary>
    public static byte[] EncodeAssociateReject(byte result, byte source, byte reason) =>
        Frame(PduType.AssociateReject, [0, result, source, reason]);

    public static byte[] EncodeReleaseResponse() => Frame(PduType.ReleaseResponse, [0, 0, 0, 0]);

    public static byte[] EncodeReleaseRequest() => Frame(PduType.ReleaseRequest, [0, 0, 0, 0]);

    /// <summary>A-ABORT: source 0 service user, 2 service provider; reason per PS3.8 Table 9-26.</summary>
    public static byte[] EncodeAbort(byte source, byte reason) => Frame(PduType.Abort, [0, 0, source, reason]);

    public static byte[] Frame(PduType type, ReadOnlySpan<byte> body)
    {
        var pdu = new byte[6 + body.Length];
        pdu[0] = (byte)type;
        BinaryPrimitives.WriteUInt32BigEndian(pdu.AsSpan(2), (uint)body.Length);
        body.CopyTo(pdu.AsSpan(6));
        return pdu;
    }

    private static void WriteItem(Stream s, byte type, ReadOnlySpan<byte> value)
    {
        s.WriteByte(type);
        s.WriteByte(0);
        WriteUInt16(s, (ushort)value.Length);
        s.Write(value);
    }

    private static void WriteUInt16(Stream s, ushort v)
    {
        s.WriteByte((byte)(v >> 8));
        s.WriteByte((byte)v);
    }

    private static byte[] AeBytes(string ae)
    {
        var bytes = Enumerable.Repeat((byte)' ', 16).ToArray();
        Encoding.ASCII.GetBytes(ae.Length > 16 ? ae[..16] : ae).CopyTo(bytes, 0);
        return bytes;
    }

    private static string Ae(ReadOnlySpan<byte> bytes) => Encoding.ASCII.GetString(bytes).Trim(' ', '\0');

    private static string Uid(ReadOnlySpan<byte> bytes) => Encoding.ASCII.GetString(bytes).TrimEnd('\0', ' ');

    private static string Uid(byte[] bytes) => Uid(bytes.AsSpan());
}
