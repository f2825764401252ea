using System.Buffers.Binary;

namespace MedVision.Dicom.Codecs;

/// <summary>
/// RLE Lossless (PS3.5 Annex G): a 64-byte header of up to 15 segment offsets, then one PackBits segment per byte
/// plane, most significant byte of the first sample first. The decoded frame is colour-by-plane, as the segments are.
/// </summary>
public sealed class RleCodec : IDicomCodec
{
    public string Name => "RLE Lossless (managed)";

    public IReadOnlyCollection<string> TransferSyntaxUids { get; } = [DicomCodecUids.RleLossless];

    public DecodedFrame Decode(ReadOnlySpan<byte> encodedFrame, FrameInfo info)
    {
        if (encodedFrame.Length < 64)
        {
            throw new DicomCodecException($"RLE frame of {encodedFrame.Length} bytes is shorter than its 64-byte header.", info.TransferSyntaxUid);
        }
        if (info.BitsAllocated is not (8 or 16 or 32))
        {
            throw new DicomCodecException($"RLE with {info.BitsAllocated} bits allocated is not defined (8, 16 or 32).", info.TransferSyntaxUid);
        }
        var bytesPerSample = info.BytesPerSample;
        var expected = info.SamplesPerPixel * bytesPerSample;
        var segments = (int)BinaryPrimitives.ReadUInt32LittleEndian(encodedFrame);
        if (segments != expected)
        {
            throw new DicomCodecException($"RLE header lists {segments} segments; {info.SamplesPerPixel} samples of {info.BitsAllocated} bits need {expected}.", info.TransferSyntaxUid);
        }
        var offsets = new int[segments + 1];
        for (var i = 0; i < segments; i++)
        {
            offsets[i] = (int)BinaryPrimitives.ReadUInt32LittleEndian(encodedFrame[(4 + i * 4)..]);
            if (offsets[i] < 64 || offsets[i] > encodedFrame.Length || (i > 0 && offsets[i] < offsets[i - 1]))
            {
                throw new DicomCodecException($"RLE segment {i} offset {offsets[i]} lies outside the {encodedFrame.Length}-byte frame.", info.TransferSyntaxUid);
            }
        }
        offsets[segments] = encodedFrame.Length;

        var output = info.AllocateFrame();
        var pixels = (int)info.Pixels;
        var plane = new byte[pixels];
        for (var s = 0; s < segments; s++)
        {
            var sample = s / bytesPerSample;
            var byteInSample = bytesPerSample - 1 - s % bytesPerSample;
            var written = DecodeSegment(encodedFrame[offsets[s]..offsets[s + 1]], plane);
            if (written < pixels)
            {
                throw new DicomCodecException($"RLE segment {s} decodes to {written} bytes; the frame has {pixels} pixels.", info.TransferSyntaxUid);
            }
            var baseIndex = sample * pixels * bytesPerSample + byteInSample;
            if (bytesPerSample == 1)
            {
                plane.CopyTo(output.AsSpan(sample * pixels));
                continue;
            }
            for (var p = 0; p < pixels; p++)
            {
                output[baseIndex + p * bytesPerSample] = plane[p];
            }
        }
        return new DecodedFrame(output, info.PhotometricInterpretation, info.SamplesPerPixel > 1 ? 1 : 0);
    }

    /// <summary>PackBits (G.3.1); stops when the plane is full, so encoder padding at a segment's end is ignored.</summary>
    private static int DecodeSegment(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        int i = 0, o = 0;
        while (i < source.Length && o < destination.Length)
        {
            var n = (sbyte)source[i++];
            if (n >= 0)
            {
                var count = Math.Min(n + 1, Math.Min(source.Length - i, destination.Length - o));
                source.Slice(i, count).CopyTo(destination[o..]);
                i += n + 1;
                o += count;
            }
            else if (n != -128)
            {
                if (i >= source.Length)
                {
                    break;
                }
                var count = Math.Min(1 - n, destination.Length - o);
                destination.Slice(o, count).Fill(source[i++]);
                o += count;
            }
        }
        return o;
    }
}
