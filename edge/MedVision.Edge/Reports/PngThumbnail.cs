using System.Buffers.Binary;
using System.IO.Compression;
using MedVision.Dicom.Imaging;

namespace MedVision.Edge.Reports;

/// <summary>
/// Reads a PNG (ISO/IEC 15948: non-interlaced, 8 or 16 bits, grey, RGB, palette, with or without alpha) and writes a box-filtered,
/// smaller copy through the DICOM library's <see cref="PngWriter"/>. Overlays arrive in source geometry (a chest X-ray is 2-3k pixels
/// wide), so embedding them as they are would make a report of megabytes.
/// </summary>
internal static class PngThumbnail
{
    private const long MaxPixels = 64L * 1024 * 1024;
    private static ReadOnlySpan<byte> Signature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>A PNG at most <paramref name="maxWidth"/> pixels wide, and its size.</summary>
    /// <exception cref="InvalidDataException">Not a PNG this reader takes (the message says why).</exception>
    public static (byte[] Png, int Width, int Height) Create(byte[] png, int maxWidth)
    {
        var (width, height, channels, pixels) = Decode(png);
        if (width <= maxWidth)
        {
            return (png, width, height);
        }
        var targetHeight = Math.Max(1, (int)Math.Round((double)height * maxWidth / width));
        var scaled = BoxResize(pixels, width, height, channels, maxWidth, targetHeight);
        using var output = new MemoryStream();
        PngWriter.Write(output, maxWidth, targetHeight, channels, scaled);
        return (output.ToArray(), maxWidth, targetHeight);
    }

    /// <summary>Decodes to 8-bit grey (1 channel) or RGB (3 channels); alpha is composited over white, as the report page is white.</summary>
    public static (int Width, int Height, int Channels, byte[] Pixels) Decode(byte[] png)
    {
        if (png.Length < 8 || !png.AsSpan(0, 8).SequenceEqual(Signature))
        {
            throw new InvalidDataException("not a PNG file (signature missing)");
        }
        int width = 0, height = 0, bitDepth = 0, colourType = -1;
        byte[]? palette = null;
        byte[]? paletteAlpha = null;
        using var idat = new MemoryStream();
        var offset = 8;
        var ended = false;
        while (!ended)
        {
            if (offset + 12 > png.Length)
            {
                throw new InvalidDataException("truncated PNG (no IEND chunk)");
            }
            var length = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(offset));
            if (length > (uint)(png.Length - offset - 12))
            {
                throw new InvalidDataException($"PNG chunk length {length} runs past the end of the file");
            }
            var type = png.AsSpan(offset + 4, 4);
            var data = png.AsSpan(offset + 8, (int)length);
            if (type.SequenceEqual("IHDR"u8))
            {
                if (length != 13)
                {
                    throw new InvalidDataException("bad IHDR chunk");
                }
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                bitDepth = data[8];
                colourType = data[9];
                if (data[12] != 0)
                {
                    throw new InvalidDataException("interlaced PNG is not supported");
                }
            }
            else if (type.SequenceEqual("PLTE"u8))
            {
                palette = data.ToArray();
            }
            else if (type.SequenceEqual("tRNS"u8))
            {
                paletteAlpha = data.ToArray();
            }
            else if (type.SequenceEqual("IDAT"u8))
            {
                idat.Write(data);
            }
            else if (type.SequenceEqual("IEND"u8))
            {
                ended = true;
            }
            offset += 12 + (int)length;
        }

        if (width <= 0 || height <= 0 || (long)width * height > MaxPixels)
        {
            throw new InvalidDataException($"PNG size {width}x{height} is empty or too large");
        }
        var samples = colourType switch
        {
            0 => 1,
            2 => 3,
            3 => 1,
            4 => 2,
            6 => 4,
            _ => throw new InvalidDataException($"PNG colour type {colourType} is not valid"),
        };
        if (bitDepth != 8 && !(bitDepth == 16 && colourType != 3))
        {
            throw new InvalidDataException($"PNG bit depth {bitDepth} with colour type {colourType} is not supported (8 or 16 bits)");
        }
        if (colourType == 3 && (palette is null || palette.Length % 3 != 0))
        {
            throw new InvalidDataException("palette PNG without a valid PLTE chunk");
        }

        var bytesPerPixel = samples * bitDepth / 8;
        var stride = (long)width * bytesPerPixel;
        var raw = new byte[(stride + 1) * height];
        idat.Position = 0;
        using (var zlib = new ZLibStream(idat, CompressionMode.Decompress))
        {
            var read = 0;
            while (read < raw.Length)
            {
                var n = zlib.Read(raw, read, raw.Length - read);
                if (n == 0)
                {
                    throw new InvalidDataException($"PNG image data ends after {read} of {raw.Length} bytes");
                }
                read += n;
            }
        }
        Unfilter(raw, (int)stride, height, bytesPerPixel);

        var outChannels = colourType is 2 or 3 or 6 ? 3 : 1;
        var pixels = new byte[(long)width * height * outChannels];
        var step = bitDepth / 8;
        for (var y = 0; y < height; y++)
        {
            var row = raw.AsSpan((int)(y * (stride + 1) + 1), (int)stride);
            for (var x = 0; x < width; x++)
            {
                var p = row.Slice(x * bytesPerPixel, bytesPerPixel);
                var o = ((long)y * width + x) * outChannels;
                switch (colourType)
                {
                    case 0:
                        pixels[o] = p[0];
                        break;
                    case 4:
                        pixels[o] = OverWhite(p[0], p[step]);
                        break;
                    case 2:
                        pixels[o] = p[0];
                        pixels[o + 1] = p[step];
                        pixels[o + 2] = p[2 * step];
                        break;
                    case 6:
                        pixels[o] = OverWhite(p[0], p[3 * step]);
                        pixels[o + 1] = OverWhite(p[step], p[3 * step]);
                        pixels[o + 2] = OverWhite(p[2 * step], p[3 * step]);
                        break;
                    default:
                        var index = p[0] * 3;
                        if (index + 2 >= palette!.Length)
                        {
                            throw new InvalidDataException($"PNG palette index {p[0]} beyond the palette");
                        }
                        var alpha = paletteAlpha is not null && p[0] < paletteAlpha.Length ? paletteAlpha[p[0]] : (byte)255;
                        pixels[o] = OverWhite(palette[index], alpha);
                        pixels[o + 1] = OverWhite(palette[index + 1], alpha);
                        pixels[o + 2] = OverWhite(palette[index + 2], alpha);
                        break;
                }
            }
        }
        return (width, height, outChannels, pixels);
    }

    private static byte OverWhite(byte value, byte alpha) => (byte)((value * alpha + 255 * (255 - alpha) + 127) / 255);

    private static void Unfilter(byte[] raw, int stride, int height, int bpp)
    {
        for (var y = 0; y < height; y++)
        {
            var start = y * (stride + 1);
            var filter = raw[start];
            var row = raw.AsSpan(start + 1, stride);
            var up = y > 0 ? raw.AsSpan(start - stride, stride) : Span<byte>.Empty;
            for (var i = 0; i < stride; i++)
            {
                int a = i >= bpp ? row[i - bpp] : 0, b = y > 0 ? up[i] : 0, c = i >= bpp && y > 0 ? up[i - bpp] : 0;
                row[i] = filter switch
                {
                    0 => row[i],
                    1 => (byte)(row[i] + a),
                    2 => (byte)(row[i] + b),
                    3 => (byte)(row[i] + ((a + b) >> 1)),
                    4 => (byte)(row[i] + Paeth(a, b, c)),
                    _ => throw new InvalidDataException($"PNG filter type {filter} in row {y} is not valid"),
                };
            }
        }
    }

    private static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    /// <summary>Area average over the source pixels each target pixel covers (no aliasing on the fine CAM edges).</summary>
    private static byte[] BoxResize(byte[] source, int width, int height, int channels, int targetWidth, int targetHeight)
    {
        var result = new byte[targetWidth * targetHeight * channels];
        for (var ty = 0; ty < targetHeight; ty++)
        {
            var y0 = (int)((long)ty * height / targetHeight);
            var y1 = Math.Max(y0 + 1, (int)((long)(ty + 1) * height / targetHeight));
            for (var tx = 0; tx < targetWidth; tx++)
            {
                var x0 = (int)((long)tx * width / targetWidth);
                var x1 = Math.Max(x0 + 1, (int)((long)(tx + 1) * width / targetWidth));
                for (var c = 0; c < channels; c++)
                {
                    long sum = 0;
                    for (var y = y0; y < y1; y++)
                    {
                        var rowBase = ((long)y * width) * channels + c;
                        for (var x = x0; x < x1; x++)
                        {
                            sum += source[rowBase + (long)x * channels];
                        }
                    }
                    var count = (long)(y1 - y0) * (x1 - x0);
                    result[(ty * targetWidth + tx) * channels + c] = (byte)((sum + count / 2) / count);
                }
            }
        }
        return result;
    }
}
