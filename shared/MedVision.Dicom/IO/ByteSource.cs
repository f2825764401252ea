using System.Buffers.Binary;

namespace MedVision.Dicom.IO;

/// <summary>Buffered forward reader over a stream that knows its absolute position, for lazy value references.</summary>
internal sealed class ByteSource
{
    private readonly Stream _stream;
    private readonly byte[] _buffer;
    private long _bufferStart;
    private int _pos;
    private int _len;

    public ByteSource(Stream stream, long startPosition = 0, int bufferSize = 1 << 16)
    {
        _stream = stream;
        Length = stream.CanSeek ? stream.Length : -1;
        // Small files (most headers, most instances' non-pixel part) need no 64 KiB buffer to be zeroed.
        _buffer = new byte[Length >= 0 ? (int)Math.Clamp(Length - stream.Position, 4096, bufferSize) : bufferSize];
        _bufferStart = startPosition;
    }

    public bool BigEndian { get; set; }

    public long Position => _bufferStart + _pos;

    /// <summary>Total length when the stream can tell, else -1.</summary>
    /// <summary>Read once: asking a FileStream for its length is a system call, and the reader asks per element.</summary>
    public long Length { get; }

    public bool CanSeek => _stream.CanSeek;

    public bool IsEof => !Ensure(1);

    /// <summary>Makes <paramref name="count"/> bytes available in the buffer; false at end of stream.</summary>
    public bool Ensure(int count)
    {
        if (_len - _pos >= count)
        {
            return true;
        }
        if (_pos > 0)
        {
            Buffer.BlockCopy(_buffer, _pos, _buffer, 0, _len - _pos);
            _bufferStart += _pos;
            _len -= _pos;
            _pos = 0;
        }
        while (_len < count)
        {
            var n = _stream.Read(_buffer, _len, _buffer.Length - _len);
            if (n == 0)
            {
                return false;
            }
            _len += n;
        }
        return true;
    }

    public ReadOnlySpan<byte> Peek(int count)
    {
        Require(count);
        return _buffer.AsSpan(_pos, count);
    }

    public ushort ReadUInt16()
    {
        Require(2);
        var span = _buffer.AsSpan(_pos, 2);
        _pos += 2;
        return BigEndian ? BinaryPrimitives.ReadUInt16BigEndian(span) : BinaryPrimitives.ReadUInt16LittleEndian(span);
    }

    public uint ReadUInt32()
    {
        Require(4);
        var span = _buffer.AsSpan(_pos, 4);
        _pos += 4;
        return BigEndian ? BinaryPrimitives.ReadUInt32BigEndian(span) : BinaryPrimitives.ReadUInt32LittleEndian(span);
    }

    public void ReadExactly(Span<byte> destination)
    {
        var available = Math.Min(_len - _pos, destination.Length);
        _buffer.AsSpan(_pos, available).CopyTo(destination);
        _pos += available;
        if (available == destination.Length)
        {
            return;
        }
        // Large values bypass the buffer.
        var rest = destination[available..];
        _bufferStart += _len;
        _pos = _len = 0;
        var read = _stream.ReadAtLeast(rest, rest.Length, throwOnEndOfStream: false);
        _bufferStart += read;
        if (read < rest.Length)
        {
            throw new DicomFormatException($"Unexpected end of data at byte {Position}: {rest.Length - read} more bytes were declared.");
        }
    }

    public void Skip(long count)
    {
        var inBuffer = Math.Min(_len - _pos, count);
        _pos += (int)inBuffer;
        count -= inBuffer;
        if (count == 0)
        {
            return;
        }
        _bufferStart += _len;
        _pos = _len = 0;
        if (_stream.CanSeek)
        {
            if (_bufferStart + count > Length)
            {
                throw new DicomFormatException($"Unexpected end of data: a value runs {(_bufferStart + count) - Length} bytes past the end.");
            }
            _stream.Seek(count, SeekOrigin.Current);
            _bufferStart += count;
            return;
        }
        var scratch = new byte[Math.Min(count, 1 << 16)];
        while (count > 0)
        {
            var n = _stream.Read(scratch, 0, (int)Math.Min(count, scratch.Length));
            if (n == 0)
            {
                throw new DicomFormatException("Unexpected end of data while skipping a value.");
            }
            _bufferStart += n;
            count -= n;
        }
    }

    private void Require(int count)
    {
        if (!Ensure(count))
        {
            throw new DicomFormatException($"Unexpected end of data at byte {Position}: needed {count} more bytes.");
        }
    }
}
