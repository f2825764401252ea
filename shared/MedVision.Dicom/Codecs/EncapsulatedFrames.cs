using System.Buffers.Binary;
using MedVision.Dicom.IO;

namespace MedVision.Dicom.Codecs;

/// <summary>
/// Finds the fragments of one frame in encapsulated pixel data (PS3.5 A.4): from the Extended Offset Table when
/// present, else the Basic Offset Table, else one fragment per frame, else by the end-of-image marker that ends every
/// JPEG, JPEG-LS and JPEG 2000 codestream.
/// </summary>
public static class EncapsulatedFrames
{
    private static readonly DicomTag ExtendedOffsetTable = new(0x7FE0, 0x0001);
    private static readonly DicomTag ExtendedOffsetTableLengths = new(0x7FE0, 0x0002);

    /// <summary>The fragment values of frame <paramref name="frame"/>, concatenated.</summary>
    public static byte[] GetFrame(DicomDataset dataset, DicomFragmentSequence pixelData, int frame, int numberOfFrames)
    {
        var (first, count, length) = Locate(dataset, pixelData, frame, numberOfFrames);
        if (count == 1 && length < 0)
        {
            return pixelData.Fragments[first].GetBytes().ToArray();
        }
        using var buffer = new MemoryStream();
        for (var i = first; i < first + count; i++)
        {
            pixelData.Fragments[i].CopyTo(buffer);
        }
        if (length >= 0 && length < buffer.Length)
        {
            buffer.SetLength(length);
        }
        return buffer.ToArray();
    }

    /// <summary>First fragment, fragment count and (from the Extended Offset Table only, else -1) the byte length.</summary>
    internal static (int First, int Count, long Length) Locate(DicomDataset dataset, DicomFragmentSequence pixelData, int frame, int numberOfFrames)
    {
        var fragments = pixelData.Fragments;
        if (fragments.Count == 0)
        {
            throw new DicomCodecException("Encapsulated pixel data holds no fragments.");
        }
        if (frame < 0 || frame >= numberOfFrames)
        {
            throw new ArgumentOutOfRangeException(nameof(frame), $"Frame {frame} of {numberOfFrames}.");
        }

        if (dataset.TryGetElement(ExtendedOffsetTable, out var eot) && eot.Length >= 8L * numberOfFrames)
        {
            var offsets = ReadOffsets(eot.Buffer.GetBytes().Span, 8, numberOfFrames);
            long length = -1;
            if (dataset.TryGetElement(ExtendedOffsetTableLengths, out var lengths) && lengths.Length >= 8L * numberOfFrames)
            {
                length = BinaryPrimitives.ReadInt64LittleEndian(lengths.Buffer.GetBytes().Span[(frame * 8)..]);
            }
            var (first, count) = ByOffsets(fragments, offsets, frame, "Extended Offset Table");
            return (first, count, length);
        }

        var bot = pixelData.OffsetTable;
        if (bot.Length >= 4L * numberOfFrames && numberOfFrames > 0 && bot.Length > 0)
        {
            var offsets = ReadOffsets(bot.GetBytes().Span, 4, numberOfFrames);
            var (first, count) = ByOffsets(fragments, offsets, frame, "Basic Offset Table");
            return (first, count, -1);
        }

        if (numberOfFrames == 1)
        {
            return (0, fragments.Count, -1);
        }
        if (fragments.Count == numberOfFrames)
        {
            return (frame, 1, -1);
        }
        if (fragments.Count < numberOfFrames)
        {
            throw new DicomCodecException($"Encapsulated pixel data has {fragments.Count} fragments for {numberOfFrames} frames and no offset table.");
        }
        return ByEndOfImageMarker(fragments, frame);
    }

    private static long[] ReadOffsets(ReadOnlySpan<byte> table, int size, int count)
    {
        var offsets = new long[count];
        for (var i = 0; i < count; i++)
        {
            offsets[i] = size == 8
                ? BinaryPrimitives.ReadInt64LittleEndian(table[(i * 8)..])
                : BinaryPrimitives.ReadUInt32LittleEndian(table[(i * 4)..]);
        }
        return offsets;
    }

    /// <summary>Offsets count from the first byte of the first fragment's item tag; each item has an 8-byte header.</summary>
    private static (int First, int Count) ByOffsets(List<IByteBuffer> fragments, long[] offsets, int frame, string table)
    {
        var start = offsets[frame];
        var end = frame + 1 < offsets.Length ? offsets[frame + 1] : long.MaxValue;
        if (end <= start)
        {
            throw new DicomCodecException($"The {table} is not increasing at frame {frame} ({start} then {end}).");
        }
        long position = 0;
        int first = -1, count = 0;
        for (var i = 0; i < fragments.Count; i++)
        {
            if (position == start)
            {
                first = i;
            }
            if (first >= 0 && position >= start && position < end)
            {
                count++;
            }
            position += 8 + fragments[i].Length;
        }
        if (first < 0 || count == 0)
        {
            throw new DicomCodecException($"The {table} points frame {frame} at byte {start}, which is not the start of a fragment.");
        }
        return (first, count);
    }

    private static (int First, int Count, long Length) ByEndOfImageMarker(List<IByteBuffer> fragments, int frame)
    {
        var current = 0;
        var first = 0;
        for (var i = 0; i < fragments.Count; i++)
        {
            if (!EndsWithEndOfImage(fragments[i]))
            {
                continue;
            }
            if (current == frame)
            {
                return (first, i - first + 1, -1);
            }
            current++;
            first = i + 1;
        }
        throw new DicomCodecException($"Frame {frame} not found: the fragments hold {current} complete codestreams (no offset table to locate frames).");
    }

    // Fragments have even length, so a codestream of odd length ends in FFD9 plus one padding byte.
    private static bool EndsWithEndOfImage(IByteBuffer fragment)
    {
        var bytes = fragment.GetBytes().Span;
        var n = bytes.Length;
        while (n > 2 && bytes[n - 1] == 0 && n > bytes.Length - 2)
        {
            n--;
        }
        return n >= 2 && bytes[n - 2] == 0xFF && bytes[n - 1] == 0xD9;
    }
}
