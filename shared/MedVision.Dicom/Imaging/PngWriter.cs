using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;

namespace MedVision.Dicom.Imaging;

/// <summary>
/// Writes 8-bit greyscale or RGB images as PNG (ISO/IEC 15948): IHDR, one zlib IDAT with a per-row filter chosen by
/// the minimum-sum-of-absolute-differences heuristic the PNG specification suggests, IEND.
/// </summary>
public static class PngWriter
{
    private static ReadOnlySpan<byte> Signature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <param name="channels">1 (grey) or 3 (RGB), colour-by-pixel.</param>
    public static void Write(Stream destination, int width, int height, int channels, ReadOnlySpan<byte> pixels)
    {
        if (width <= 0 || height <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(width), $"PNG size {width}x{height} is empty.");
        }
        if (channels is not (1 or 3))
        {
            throw new ArgumentOutOfRangeException(nameof(channels), "PNG output takes 1 (grey) or 3 (RGB) channels.");
        }
        var stride = width * channels;
        if (pixels.Length < (long)stride * height)
        {
            throw new ArgumentException($"{pixels.Length} bytes for a {width}x{height}x{channels} image.", nameof(pixels));
        }

        destination.Write(Signature);
        Span<byte> header = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header[4..], height);
        header[8] = 8;
        header[9] = (byte)(channels == 1 ? 0 : 2);
        WriteChunk(destination, "IHDR"u8, header);

        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            var previous = new byte[stride];
            var candidates = new byte[5][];
            for (var f = 0; f < 5; f++)
            {
                candidates[f] = new byte[stride + 1];
                candidates[f][0] = (byte)f;
            }
            for (var y = 0; y < height; y++)
            {
                var row = pixels.Slice(y * stride, stride);
                var best = Filter(row, previous, channels, candidates);
                zlib.Write(candidates[best]);
                row.CopyTo(previous);
            }
        }
        WriteChunk(destination, "IDAT"u8, compressed.GetBuffer().AsSpan(0, (int)compressed.Length));
        WriteChunk(destination, "IEND"u8, []);
    }

    /// <summary>Fills every filtered form of the row and returns the filter type with the smallest signed sum.</summary>
    private static int Filter(ReadOnlySpan<byte> row, ReadOnlySpan<byte> up, int bpp, byte[][] candidates)
    {
        var best = 0;
        var bestSum = long.MaxValue;
        for (var f = 0; f < 5; f++)
        {
            var output = candidates[f].AsSpan(1);
            long sum = 0;
            for (var i = 0; i < row.Length; i++)
            {
                int a = i >= bpp ? row[i - bpp] : 0, b = up[i], c = i >= bpp ? up[i - bpp] : 0;
                var predicted = f switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) >> 1,
                    _ => Paeth(a, b, c),
                };
                var v = (byte)(row[i] - predicted);
                output[i] = v;
                sum += v < 128 ? v : 256 - v;
            }
            if (sum < bestSum)
            {
                bestSum = sum;
                best = f;
            }
        }
        return best;
    }

    private static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    private static void WriteChunk(Stream destination, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        destination.Write(length);
        destination.Write(type);
        destination.Write(data);
        var crc = new Crc32();
        crc.Append(type);
        crc.Append(data);
        Span<byte> checksum = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(checksum, crc.GetCurrentHashAsUInt32());
        destination.Write(checksum);
    }
}
