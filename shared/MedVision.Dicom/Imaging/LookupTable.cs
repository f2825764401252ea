using System.Buffers.Binary;
using MedVision.Dicom.Codecs;

namespace MedVision.Dicom.Imaging;

/// <summary>
/// A LUT of PS3.3 C.11.1.1 (modality, VOI) or C.7.6.3.1.5 (palette): descriptor (entries, first mapped value, bits
/// per entry) and 8- or 16-bit data. Inputs below the first mapped value take the first entry, above the range the last.
/// </summary>
public sealed class LookupTable
{
    private readonly int[] _entries;

    public LookupTable(int firstMapped, int bitsPerEntry, int[] entries)
    {
        if (entries.Length == 0)
        {
            throw new DicomCodecException("A lookup table has no entries.");
        }
        FirstMapped = firstMapped;
        BitsPerEntry = bitsPerEntry;
        _entries = entries;
    }

    public int FirstMapped { get; }

    public int BitsPerEntry { get; }

    public int Count => _entries.Length;

    public int this[int input] => _entries[Math.Clamp(input - FirstMapped, 0, _entries.Length - 1)];

    /// <summary>
    /// Reads a LUT from its descriptor and data attributes. <paramref name="signedInput"/> decides whether the first
    /// mapped value is read as SS (signed pixel data), whatever VR the reader gave it.
    /// </summary>
    public static LookupTable Read(DicomDataset dataset, DicomTag descriptorTag, DicomTag dataTag, bool signedInput, string what)
    {
        if (!dataset.TryGetNumber(descriptorTag, 0, out var count) ||
            !dataset.TryGetNumber(descriptorTag, 1, out var first) ||
            !dataset.TryGetNumber(descriptorTag, 2, out var bits))
        {
            throw new DicomCodecException($"The {what} LUT descriptor {descriptorTag} is missing or has fewer than 3 values.");
        }
        var entries = (int)count == 0 ? 65536 : (int)count & 0xFFFF;
        var firstMapped = (int)first & 0xFFFF;
        if (signedInput && firstMapped >= 32768)
        {
            firstMapped -= 65536;
        }
        if (!dataset.TryGetElement(dataTag, out var data))
        {
            throw new DicomCodecException($"The {what} LUT data {dataTag} is missing.");
        }
        var bytes = data.Buffer.GetBytes().Span;
        var values = new int[entries];
        if (bytes.Length >= entries * 2)
        {
            for (var i = 0; i < entries; i++)
            {
                values[i] = BinaryPrimitives.ReadUInt16LittleEndian(bytes[(i * 2)..]);
            }
        }
        else if ((int)bits <= 8 && bytes.Length >= entries)
        {
            // 8-bit entries packed two to a 16-bit word, low byte first once the value is little endian.
            for (var i = 0; i < entries; i++)
            {
                values[i] = bytes[i];
            }
        }
        else
        {
            throw new DicomCodecException($"The {what} LUT data holds {bytes.Length} bytes for {entries} entries.");
        }
        return new LookupTable(firstMapped, (int)bits, values);
    }
}
