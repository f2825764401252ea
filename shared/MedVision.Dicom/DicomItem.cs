using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using MedVision.Dicom.IO;

namespace MedVision.Dicom;

/// <summary>One attribute of a dataset: an element with a value, a sequence of items, or encapsulated fragments.</summary>
public abstract class DicomItem(DicomTag tag, DicomVR vr)
{
    public DicomTag Tag { get; } = tag;

    public DicomVR VR { get; } = vr;

    public override string ToString() => $"{Tag} {VR}";
}

/// <summary>An attribute holding a value (everything but SQ and encapsulated pixel data).</summary>
public sealed class DicomElement(DicomTag tag, DicomVR vr, IByteBuffer buffer) : DicomItem(tag, vr)
{
    /// <summary>The raw value, little endian, as read (padding included).</summary>
    public IByteBuffer Buffer { get; } = buffer;

    public long Length => Buffer.Length;

    /// <summary>The value as text, decoded with <paramref name="encoding"/> for the VRs that the character set applies to.</summary>
    public string GetText(Encoding encoding)
    {
        var bytes = Buffer.GetBytes().Span;
        if (!VR.IsString)
        {
            return FormatBinary(bytes);
        }
        var text = UsesCharacterSet(VR) ? encoding.GetString(bytes) : Encoding.Latin1.GetString(bytes);
        // Leading spaces are significant for LT/ST/UT/UR; all string values shed trailing padding.
        return text.TrimEnd(' ', '\0');
    }

    internal static bool UsesCharacterSet(DicomVR vr) =>
        vr == DicomVR.PN || vr == DicomVR.LO || vr == DicomVR.SH || vr == DicomVR.LT || vr == DicomVR.ST ||
        vr == DicomVR.UT || vr == DicomVR.UC;

    private string FormatBinary(ReadOnlySpan<byte> b)
    {
        var parts = new List<string>();
        if (VR == DicomVR.US) { for (var i = 0; i + 1 < b.Length; i += 2) parts.Add(BinaryPrimitives.ReadUInt16LittleEndian(b[i..]).ToString(CultureInfo.InvariantCulture)); }
        else if (VR == DicomVR.SS) { for (var i = 0; i + 1 < b.Length; i += 2) parts.Add(BinaryPrimitives.ReadInt16LittleEndian(b[i..]).ToString(CultureInfo.InvariantCulture)); }
        else if (VR == DicomVR.UL) { for (var i = 0; i + 3 < b.Length; i += 4) parts.Add(BinaryPrimitives.ReadUInt32LittleEndian(b[i..]).ToString(CultureInfo.InvariantCulture)); }
        else if (VR == DicomVR.SL) { for (var i = 0; i + 3 < b.Length; i += 4) parts.Add(BinaryPrimitives.ReadInt32LittleEndian(b[i..]).ToString(CultureInfo.InvariantCulture)); }
        else if (VR == DicomVR.FL) { for (var i = 0; i + 3 < b.Length; i += 4) parts.Add(BinaryPrimitives.ReadSingleLittleEndian(b[i..]).ToString("R", CultureInfo.InvariantCulture)); }
        else if (VR == DicomVR.FD) { for (var i = 0; i + 7 < b.Length; i += 8) parts.Add(BinaryPrimitives.ReadDoubleLittleEndian(b[i..]).ToString("R", CultureInfo.InvariantCulture)); }
        else if (VR == DicomVR.SV) { for (var i = 0; i + 7 < b.Length; i += 8) parts.Add(BinaryPrimitives.ReadInt64LittleEndian(b[i..]).ToString(CultureInfo.InvariantCulture)); }
        else if (VR == DicomVR.UV) { for (var i = 0; i + 7 < b.Length; i += 8) parts.Add(BinaryPrimitives.ReadUInt64LittleEndian(b[i..]).ToString(CultureInfo.InvariantCulture)); }
        else if (VR == DicomVR.AT)
        {
            for (var i = 0; i + 3 < b.Length; i += 4)
            {
                parts.Add(new DicomTag(BinaryPrimitives.ReadUInt16LittleEndian(b[i..]), BinaryPrimitives.ReadUInt16LittleEndian(b[(i + 2)..])).ToString());
            }
        }
        else
        {
            return $"<{b.Length} bytes>";
        }
        return string.Join('\\', parts);
    }
}

/// <summary>A sequence (SQ): an ordered list of nested datasets.</summary>
public sealed class DicomSequence(DicomTag tag, IEnumerable<DicomDataset>? items = null) : DicomItem(tag, DicomVR.SQ)
{
    public List<DicomDataset> Items { get; } = items?.ToList() ?? [];
}

/// <summary>Encapsulated pixel data (PS3.5 A.4): an offset table followed by compressed fragments.</summary>
public sealed class DicomFragmentSequence(DicomTag tag, DicomVR vr) : DicomItem(tag, vr)
{
    /// <summary>The Basic Offset Table item (often empty).</summary>
    public IByteBuffer OffsetTable { get; set; } = MemoryByteBuffer.Empty;

    public List<IByteBuffer> Fragments { get; } = [];
}
