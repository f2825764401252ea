using System.Runtime.CompilerServices;

namespace MedVision.Dicom.Codecs;

// Huffman decoding shared by the lossless (Annex H) and DCT (Annex F) JPEG decoders.

internal sealed class JpegHuffmanTable
{
    private const int LookupBits = 9;

    // Fast path: code length << 8 | symbol for codes of up to 9 bits, 0 for longer ones.
    private readonly ushort[] _lookup = new ushort[1 << LookupBits];
    private readonly int[] _maxCode = new int[18];
    private readonly int[] _valueOffset = new int[18];
    private readonly byte[] _values;

    public JpegHuffmanTable(ReadOnlySpan<byte> counts, ReadOnlySpan<byte> values)
    {
        _values = values.ToArray();
        int code = 0, k = 0;
        for (var length = 1; length <= 16; length++)
        {
            _valueOffset[length] = k - code;
            var n = counts[length - 1];
            if (n == 0)
            {
                _maxCode[length] = -1;
            }
            for (var i = 0; i < n; i++, k++, code++)
            {
                if (length <= LookupBits)
                {
                    var shift = LookupBits - length;
                    for (var fill = 0; fill < 1 << shift; fill++)
                    {
                        _lookup[(code << shift) | fill] = (ushort)((length << 8) | _values[k]);
                    }
                }
                _maxCode[length] = code;
            }
            code <<= 1;
        }
        _maxCode[17] = int.MaxValue;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Decode(ref JpegBitReader reader)
    {
        reader.Fill();
        var entry = _lookup[reader.Peek(LookupBits)];
        if (entry != 0)
        {
            reader.Skip(entry >> 8);
            return entry & 0xFF;
        }
        var code = reader.Peek(LookupBits);
        var length = LookupBits;
        reader.Skip(LookupBits);
        while (length < 16 && (_maxCode[length] < 0 || code > _maxCode[length]))
        {
            code = (code << 1) | reader.GetBits(1);
            length++;
        }
        if (_maxCode[length] < 0 || code > _maxCode[length])
        {
            throw new DicomCodecException("The JPEG stream holds a Huffman code that its tables do not define.");
        }
        return _values[code + _valueOffset[length]];
    }
}

internal ref struct JpegBitReader(ReadOnlySpan<byte> data, int position)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private ulong _bits;
    private int _count;

    public int Position { get; private set; } = position;

    public bool AtMarker { get; private set; }

    /// <summary>Keeps at least 57 bits buffered; past a marker the stream reads as zeros (T.81 F.2.2.5).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Fill()
    {
        while (_count <= 56)
        {
            uint b = 0;
            if (!AtMarker && Position < _data.Length)
            {
                b = _data[Position];
                if (b == 0xFF)
                {
                    var next = Position + 1 < _data.Length ? _data[Position + 1] : 0xD9;
                    if (next == 0x00)
                    {
                        Position += 2;
                    }
                    else if (next == 0xFF)
                    {
                        Position++;
                        continue;
                    }
                    else
                    {
                        AtMarker = true;
                        b = 0;
                    }
                }
                else
                {
                    Position++;
                }
            }
            _bits |= (ulong)b << (56 - _count);
            _count += 8;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly int Peek(int n) => (int)(_bits >> (64 - n));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Skip(int n)
    {
        _bits <<= n;
        _count -= n;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int GetBits(int n)
    {
        if (n == 0)
        {
            return 0;
        }
        Fill();
        var v = Peek(n);
        Skip(n);
        return v;
    }

    /// <summary>Drops the fill bits before an RSTn marker and steps over it (T.81 F.2.2.5 / H.2.1).</summary>
    public void Restart()
    {
        _bits = 0;
        _count = 0;
        AtMarker = false;
        while (Position + 1 < _data.Length && !(_data[Position] == 0xFF && _data[Position + 1] is >= 0xD0 and <= 0xD7))
        {
            Position++;
        }
        Position = Math.Min(Position + 2, _data.Length);
    }
}
