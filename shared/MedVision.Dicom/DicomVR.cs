namespace MedVision.Dicom;

/// <summary>Value representations of PS3.5 6.2 and how each is encoded.</summary>
public sealed class DicomVR
{
    private DicomVR(string code, bool longLength, bool isString, byte padding, int unitSize, int maxLength = 0)
    {
        Code = code;
        HasLongExplicitLength = longLength;
        IsString = isString;
        PaddingByte = padding;
        UnitSize = unitSize;
        MaxLength = maxLength;
    }

    /// <summary>Two-letter code as written in explicit VR encodings.</summary>
    public string Code { get; }

    /// <summary>True when explicit VR encoding uses 2 reserved bytes and a 32-bit length (PS3.5 7.1.2).</summary>
    public bool HasLongExplicitLength { get; }

    public bool IsString { get; }

    /// <summary>Byte used to pad odd-length values to even length.</summary>
    public byte PaddingByte { get; }

    /// <summary>Size of one binary value (for byte swapping and counting); 1 for strings and bytes.</summary>
    public int UnitSize { get; }

    /// <summary>Maximum characters per value for string VRs, 0 when unbounded.</summary>
    public int MaxLength { get; }

    public bool IsSequence => ReferenceEquals(this, SQ);

    public override string ToString() => Code;

    public static readonly DicomVR AE = new("AE", false, true, (byte)' ', 1, 16);
    public static readonly DicomVR AS = new("AS", false, true, (byte)' ', 1, 4);
    public static readonly DicomVR AT = new("AT", false, false, 0, 2);
    public static readonly DicomVR CS = new("CS", false, true, (byte)' ', 1, 16);
    public static readonly DicomVR DA = new("DA", false, true, (byte)' ', 1, 8);
    public static readonly DicomVR DS = new("DS", false, true, (byte)' ', 1, 16);
    public static readonly DicomVR DT = new("DT", false, true, (byte)' ', 1, 26);
    public static readonly DicomVR FD = new("FD", false, false, 0, 8);
    public static readonly DicomVR FL = new("FL", false, false, 0, 4);
    public static readonly DicomVR IS = new("IS", false, true, (byte)' ', 1, 12);
    public static readonly DicomVR LO = new("LO", false, true, (byte)' ', 1, 64);
    public static readonly DicomVR LT = new("LT", false, true, (byte)' ', 1, 10240);
    public static readonly DicomVR OB = new("OB", true, false, 0, 1);
    public static readonly DicomVR OD = new("OD", true, false, 0, 8);
    public static readonly DicomVR OF = new("OF", true, false, 0, 4);
    public static readonly DicomVR OL = new("OL", true, false, 0, 4);
    public static readonly DicomVR OV = new("OV", true, false, 0, 8);
    public static readonly DicomVR OW = new("OW", true, false, 0, 2);
    public static readonly DicomVR PN = new("PN", false, true, (byte)' ', 1, 64);
    public static readonly DicomVR SH = new("SH", false, true, (byte)' ', 1, 16);
    public static readonly DicomVR SL = new("SL", false, false, 0, 4);
    public static readonly DicomVR SQ = new("SQ", true, false, 0, 1);
    public static readonly DicomVR SS = new("SS", false, false, 0, 2);
    public static readonly DicomVR ST = new("ST", false, true, (byte)' ', 1, 1024);
    public static readonly DicomVR SV = new("SV", true, false, 0, 8);
    public static readonly DicomVR TM = new("TM", false, true, (byte)' ', 1, 14);
    public static readonly DicomVR UC = new("UC", true, true, (byte)' ', 1);
    public static readonly DicomVR UI = new("UI", false, true, 0, 1, 64);
    public static readonly DicomVR UL = new("UL", false, false, 0, 4);
    public static readonly DicomVR UN = new("UN", true, false, 0, 1);
    public static readonly DicomVR UR = new("UR", true, true, (byte)' ', 1);
    public static readonly DicomVR US = new("US", false, false, 0, 2);
    public static readonly DicomVR UT = new("UT", true, true, (byte)' ', 1);
    public static readonly DicomVR UV = new("UV", true, false, 0, 8);

    private static readonly DicomVR[] All =
    [
        AE, AS, AT, CS, DA, DS, DT, FD, FL, IS, LO, LT, OB, OD, OF, OL, OV, OW, PN, SH, SL, SQ, SS, ST, SV, TM, UC, UI, UL, UN, UR, US, UT, UV,
    ];

    public static IReadOnlyList<DicomVR> Values => All;

    public static bool TryParse(ReadOnlySpan<byte> code, out DicomVR vr)
    {
        if (code.Length == 2)
        {
            foreach (var candidate in All)
            {
                if (candidate.Code[0] == code[0] && candidate.Code[1] == code[1])
                {
                    vr = candidate;
                    return true;
                }
            }
        }
        vr = UN;
        return false;
    }

    public static DicomVR Parse(string code)
    {
        Span<byte> b = stackalloc byte[2];
        if (code.Length == 2)
        {
            b[0] = (byte)code[0];
            b[1] = (byte)code[1];
            if (TryParse(b, out var vr))
            {
                return vr;
            }
        }
        throw new FormatException($"'{code}' is not a DICOM VR.");
    }
}
