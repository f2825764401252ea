using System.Buffers.Binary;

namespace MedVision.Dicom.Codecs;

/// <summary>What the markers before the first scan of a JPEG stream say (ITU T.81 B.2), enough to route and check it.</summary>
internal sealed record JpegHeader(int FrameMarker, int Precision, int Width, int Height, int Components, bool HasJfif, int AdobeTransform, bool ComponentIdsAreRgb)
{
    public bool IsLossless => FrameMarker is 0xC3 or 0xC7 or 0xCB or 0xCF;

    public static JpegHeader Read(ReadOnlySpan<byte> data, string transferSyntaxUid)
    {
        if (data.Length < 4 || data[0] != 0xFF || data[1] != 0xD8)
        {
            throw new DicomCodecException("The frame is not a JPEG stream (no SOI marker).", transferSyntaxUid);
        }
        var hasJfif = false;
        var adobe = -1;
        var pos = 2;
        while (pos + 4 <= data.Length)
        {
            if (data[pos] != 0xFF)
            {
                pos++;
                continue;
            }
            var marker = data[pos + 1];
            if (marker is 0xFF or 0x01 or (>= 0xD0 and <= 0xD7))
            {
                pos++;
                continue;
            }
            var length = BinaryPrimitives.ReadUInt16BigEndian(data[(pos + 2)..]);
            var segment = data.Slice(pos + 4, Math.Max(0, Math.Min(length - 2, data.Length - pos - 4)));
            if (marker == 0xE0 && segment.Length >= 5 && segment[..5].SequenceEqual("JFIF\0"u8))
            {
                hasJfif = true;
            }
            else if (marker == 0xEE && segment.Length >= 12 && segment[..5].SequenceEqual("Adobe"u8))
            {
                adobe = segment[11];
            }
            else if (marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC)
            {
                if (segment.Length < 6)
                {
                    break;
                }
                var components = segment[5];
                var rgbIds = components == 3 && segment.Length >= 6 + 9 && segment[6] == 'R' && segment[9] == 'G' && segment[12] == 'B';
                return new JpegHeader(marker, segment[0], BinaryPrimitives.ReadUInt16BigEndian(segment[3..]), BinaryPrimitives.ReadUInt16BigEndian(segment[1..]), components, hasJfif, adobe, rgbIds);
            }
            else if (marker == 0xDA || marker == 0xD9)
            {
                break;
            }
            pos += 2 + length;
        }
        throw new DicomCodecException("The JPEG stream has no frame header (SOF marker).", transferSyntaxUid);
    }
}
