using System.Buffers.Binary;

namespace MedVision.Dicom.Codecs;

/// <summary>
/// Sequential Huffman DCT JPEG (ITU T.81 Annex F, processes 2 and 4) for 12-bit greyscale, the DICOM 1.2.840.10008.1.2.4.51
/// case that Debian 12's libjpeg-turbo 2.1 cannot decode. The inverse DCT is the integer "islow" algorithm of the IJG
/// reference decoder (Loeffler–Ligtenberg–Moschytz, 13-bit constants, one extra bit in the column pass at 12 bits),
/// so output matches IJG-based decoders such as dcmtk's dcmdjpeg.
/// </summary>
internal sealed class JpegDct12Decoder(string transferSyntaxUid)
{
    private const int ConstBits = 13;
    private const int Pass1Bits = 1;
    private const int MaxSample = 4095;
    private const int Center = 2048;

    private static readonly byte[] ZigZag =
    [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
        35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
    ];

    private readonly int[][] _quantization = new int[4][];
    private readonly JpegHuffmanTable?[] _dc = new JpegHuffmanTable?[4];
    private readonly JpegHuffmanTable?[] _ac = new JpegHuffmanTable?[4];
    private int _restartInterval;
    private int _width;
    private int _height;
    private int _quantTable;
    private ushort[]? _samples;

    public int Width => _width;

    public int Height => _height;

    /// <summary>The frame's samples, row-major.</summary>
    public ushort[] Decode(ReadOnlySpan<byte> data)
    {
        var pos = 2;
        while (pos + 1 < data.Length)
        {
            if (data[pos] != 0xFF)
            {
                pos++;
                continue;
            }
            var marker = data[pos + 1];
            pos += 2;
            if (marker is 0xFF or 0x00 or 0x01 or (>= 0xD0 and <= 0xD7))
            {
                if (marker == 0xFF)
                {
                    pos--;
                }
                continue;
            }
            if (marker == 0xD9)
            {
                break;
            }
            if (pos + 2 > data.Length)
            {
                throw Error("The JPEG stream ends inside a marker segment.");
            }
            var length = BinaryPrimitives.ReadUInt16BigEndian(data[pos..]);
            if (length < 2 || pos + length > data.Length)
            {
                throw Error($"JPEG marker FF{marker:X2} claims {length} bytes; the stream ends first.");
            }
            var segment = data.Slice(pos + 2, length - 2);
            pos += length;
            switch (marker)
            {
                case 0xDB:
                    ReadQuantization(segment);
                    break;
                case 0xC4:
                    ReadHuffman(segment);
                    break;
                case 0xDD:
                    _restartInterval = segment.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(segment) : 0;
                    break;
                case 0xC0 or 0xC1:
                    ReadFrame(segment);
                    break;
                case 0xDA:
                    DecodeScan(data, segment, pos);
                    return _samples ?? throw Error("The JPEG scan comes before its frame header.");
                case >= 0xC2 and <= 0xCF when marker is not (0xC4 or 0xC8 or 0xCC):
                    throw Error($"12-bit JPEG process SOF{marker - 0xC0} (progressive, lossless-in-DCT, arithmetic or hierarchical) is not supported.");
            }
        }
        throw Error("The JPEG stream has no scan.");
    }

    private DicomCodecException Error(string message) => new(message, transferSyntaxUid);

    private void ReadQuantization(ReadOnlySpan<byte> segment)
    {
        var pos = 0;
        while (pos < segment.Length)
        {
            var precision = segment[pos] >> 4;
            var id = segment[pos] & 0x0F;
            var size = precision == 0 ? 64 : 128;
            if (id > 3 || pos + 1 + size > segment.Length)
            {
                throw Error("A JPEG quantisation table (DQT) is malformed.");
            }
            var table = new int[64];
            for (var k = 0; k < 64; k++)
            {
                table[ZigZag[k]] = precision == 0 ? segment[pos + 1 + k] : BinaryPrimitives.ReadUInt16BigEndian(segment[(pos + 1 + 2 * k)..]);
            }
            _quantization[id] = table;
            pos += 1 + size;
        }
    }

    private void ReadHuffman(ReadOnlySpan<byte> segment)
    {
        var pos = 0;
        while (pos + 17 <= segment.Length)
        {
            var tableClass = segment[pos] >> 4;
            var id = segment[pos] & 0x0F;
            var counts = segment.Slice(pos + 1, 16);
            var total = 0;
            foreach (var c in counts)
            {
                total += c;
            }
            if (id > 3 || tableClass > 1 || pos + 17 + total > segment.Length)
            {
                throw Error("A JPEG Huffman table (DHT) is malformed.");
            }
            var table = new JpegHuffmanTable(counts, segment.Slice(pos + 17, total));
            (tableClass == 0 ? _dc : _ac)[id] = table;
            pos += 17 + total;
        }
    }

    private void ReadFrame(ReadOnlySpan<byte> segment)
    {
        if (segment.Length < 9 || segment[0] != 12 || segment[5] != 1)
        {
            throw Error($"Only 12-bit single-component DCT JPEG is decoded here (got {(segment.Length > 5 ? $"{segment[0]} bits, {segment[5]} components" : "a truncated frame header")}).");
        }
        _height = BinaryPrimitives.ReadUInt16BigEndian(segment[1..]);
        _width = BinaryPrimitives.ReadUInt16BigEndian(segment[3..]);
        _quantTable = segment[8] & 3;
        if (_width == 0 || _height == 0 || (long)_width * _height > Array.MaxLength)
        {
            throw Error($"Unsupported JPEG frame size {_width}x{_height}.");
        }
        _samples = new ushort[_width * _height];
    }

    private void DecodeScan(ReadOnlySpan<byte> data, ReadOnlySpan<byte> header, int start)
    {
        if (_samples is null)
        {
            throw Error("The JPEG scan comes before its frame header.");
        }
        if (header.Length < 6 || header[0] != 1)
        {
            throw Error("The JPEG scan header (SOS) is malformed.");
        }
        var dc = _dc[header[2] >> 4] ?? throw Error("The JPEG scan uses an undefined DC Huffman table.");
        var ac = _ac[header[2] & 3] ?? throw Error("The JPEG scan uses an undefined AC Huffman table.");
        var quant = _quantization[_quantTable] ?? throw Error("The JPEG frame uses an undefined quantisation table.");

        var reader = new JpegBitReader(data, start);
        var blocksWide = (_width + 7) / 8;
        var blocksHigh = (_height + 7) / 8;
        Span<int> coefficients = stackalloc int[64];
        Span<long> workspace = stackalloc long[64];
        Span<int> block = stackalloc int[64];
        var predictor = 0;
        var restartLeft = _restartInterval;
        for (var by = 0; by < blocksHigh; by++)
        {
            for (var bx = 0; bx < blocksWide; bx++)
            {
                if (_restartInterval > 0)
                {
                    if (restartLeft == 0)
                    {
                        reader.Restart();
                        predictor = 0;
                        restartLeft = _restartInterval;
                    }
                    restartLeft--;
                }
                coefficients.Clear();
                var s = dc.Decode(ref reader);
                if (s > 15)
                {
                    throw Error("A JPEG DC difference category exceeds 15.");
                }
                predictor += Extend(reader.GetBits(s), s);
                coefficients[0] = predictor * quant[0];
                for (var k = 1; k < 64; k++)
                {
                    var rs = ac.Decode(ref reader);
                    var run = rs >> 4;
                    var size = rs & 15;
                    if (size == 0)
                    {
                        if (run != 15)
                        {
                            break;
                        }
                        k += 15;
                        continue;
                    }
                    k += run;
                    if (k > 63)
                    {
                        throw Error("A JPEG AC run passes the end of the block.");
                    }
                    var natural = ZigZag[k];
                    coefficients[natural] = Extend(reader.GetBits(size), size) * quant[natural];
                }
                InverseDct(coefficients, workspace, block);
                var y0 = by * 8;
                var x0 = bx * 8;
                for (var y = 0; y < 8 && y0 + y < _height; y++)
                {
                    var row = (y0 + y) * _width + x0;
                    for (var x = 0; x < 8 && x0 + x < _width; x++)
                    {
                        _samples[row + x] = (ushort)block[y * 8 + x];
                    }
                }
            }
        }
    }

    private static int Extend(int value, int bits) =>
        bits == 0 ? 0 : value < 1 << (bits - 1) ? value - (1 << bits) + 1 : value;

    private static long Descale(long x, int n) => (x + (1L << (n - 1))) >> n;

    /// <summary>IJG jidctint.c "islow" at 12 bits: columns into the workspace, then rows, range-limited to 0–4095.</summary>
    private static void InverseDct(ReadOnlySpan<int> input, Span<long> workspace, Span<int> output)
    {
        const long fix0298631336 = 2446, fix0390180644 = 3196, fix0541196100 = 4433, fix0765366865 = 6270;
        const long fix0899976223 = 7373, fix1175875602 = 9633, fix1501321110 = 12299, fix1847759065 = 15137;
        const long fix1961570560 = 16069, fix2053119869 = 16819, fix2562915447 = 20995, fix3072711026 = 25172;

        Span<long> line = stackalloc long[8];
        for (var pass = 0; pass < 2; pass++)
        {
            for (var i = 0; i < 8; i++)
            {
                // Pass 0 reads column i of the coefficients; pass 1 reads row i of the workspace.
                for (var k = 0; k < 8; k++)
                {
                    line[k] = pass == 0 ? input[k * 8 + i] : workspace[i * 8 + k];
                }

                var z2 = line[2];
                var z3 = line[6];
                var z1 = (z2 + z3) * fix0541196100;
                var tmp2 = z1 + z3 * -fix1847759065;
                var tmp3 = z1 + z2 * fix0765366865;
                var tmp0 = (line[0] + line[4]) << ConstBits;
                var tmp1 = (line[0] - line[4]) << ConstBits;
                long tmp10 = tmp0 + tmp3, tmp13 = tmp0 - tmp3, tmp11 = tmp1 + tmp2, tmp12 = tmp1 - tmp2;

                tmp0 = line[7];
                tmp1 = line[5];
                tmp2 = line[3];
                tmp3 = line[1];
                z1 = tmp0 + tmp3;
                z2 = tmp1 + tmp2;
                z3 = tmp0 + tmp2;
                var z4 = tmp1 + tmp3;
                var z5 = (z3 + z4) * fix1175875602;
                tmp0 *= fix0298631336;
                tmp1 *= fix2053119869;
                tmp2 *= fix3072711026;
                tmp3 *= fix1501321110;
                z1 *= -fix0899976223;
                z2 *= -fix2562915447;
                z3 = z3 * -fix1961570560 + z5;
                z4 = z4 * -fix0390180644 + z5;
                tmp0 += z1 + z3;
                tmp1 += z2 + z4;
                tmp2 += z2 + z3;
                tmp3 += z1 + z4;

                if (pass == 0)
                {
                    const int shift = ConstBits - Pass1Bits;
                    workspace[0 * 8 + i] = Descale(tmp10 + tmp3, shift);
                    workspace[7 * 8 + i] = Descale(tmp10 - tmp3, shift);
                    workspace[1 * 8 + i] = Descale(tmp11 + tmp2, shift);
                    workspace[6 * 8 + i] = Descale(tmp11 - tmp2, shift);
                    workspace[2 * 8 + i] = Descale(tmp12 + tmp1, shift);
                    workspace[5 * 8 + i] = Descale(tmp12 - tmp1, shift);
                    workspace[3 * 8 + i] = Descale(tmp13 + tmp0, shift);
                    workspace[4 * 8 + i] = Descale(tmp13 - tmp0, shift);
                }
                else
                {
                    const int shift = ConstBits + Pass1Bits + 3;
                    var row = output.Slice(i * 8, 8);
                    row[0] = Limit(Descale(tmp10 + tmp3, shift));
                    row[7] = Limit(Descale(tmp10 - tmp3, shift));
                    row[1] = Limit(Descale(tmp11 + tmp2, shift));
                    row[6] = Limit(Descale(tmp11 - tmp2, shift));
                    row[2] = Limit(Descale(tmp12 + tmp1, shift));
                    row[5] = Limit(Descale(tmp12 - tmp1, shift));
                    row[3] = Limit(Descale(tmp13 + tmp0, shift));
                    row[4] = Limit(Descale(tmp13 - tmp0, shift));
                }
            }
        }
    }

    private static int Limit(long centered) => (int)Math.Clamp(centered + Center, 0, MaxSample);
}
