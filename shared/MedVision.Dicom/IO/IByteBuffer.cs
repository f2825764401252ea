using System.Buffers.Binary;

namespace MedVision.Dicom.IO;

/// <summary>
/// The bytes of one value, always little endian in memory. Large values read from a file stay there until
/// <see cref="GetBytes"/> is called, so headers can be read without touching pixel data.
/// </summary>
public interface IByteBuffer
{
    long Length { get; }

    /// <summary>True when the bytes are already in memory.</summary>
    bool IsLoaded { get; }

    ReadOnlyMemory<byte> GetBytes();

    /// <summary>Copies the value to <paramref name="destination"/> without keeping it in memory.</summary>
    Task CopyToAsync(Stream destination, CancellationToken cancellationToken);

    void CopyTo(Stream destination);
}

public sealed class MemoryByteBuffer(ReadOnlyMemory<byte> bytes) : IByteBuffer
{
    public static readonly MemoryByteBuffer Empty = new(ReadOnlyMemory<byte>.Empty);

    public long Length => bytes.Length;

    public bool IsLoaded => true;

    public ReadOnlyMemory<byte> GetBytes() => bytes;

    public Task CopyToAsync(Stream destination, CancellationToken cancellationToken) =>
        destination.WriteAsync(bytes, cancellationToken).AsTask();

    public void CopyTo(Stream destination) => destination.Write(bytes.Span);
}

/// <summary>
/// A value that lives in a file at a known offset. Bytes are read on demand (and swapped from big endian when the
/// file was big endian); nothing is cached, so a dataset holding many frames keeps only headers in memory.
/// </summary>
public sealed class FileByteBuffer : IByteBuffer
{
    private readonly string _path;
    private readonly long _offset;
    private readonly int _swapUnit;

    public FileByteBuffer(string path, long offset, long length, int swapUnit = 1)
    {
        _path = path;
        _offset = offset;
        Length = length;
        _swapUnit = swapUnit;
    }

    public long Length { get; }

    public bool IsLoaded => false;

    public ReadOnlyMemory<byte> GetBytes()
    {
        if (Length > Array.MaxLength)
        {
            throw new DicomFormatException($"Value of {Length} bytes is too large to load at once; stream it instead.");
        }
        var bytes = new byte[Length];
        using var stream = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.RandomAccess);
        stream.Position = _offset;
        stream.ReadExactly(bytes);
        ByteSwap.InPlace(bytes, _swapUnit);
        return bytes;
    }

    public async Task CopyToAsync(Stream destination, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
        stream.Position = _offset;
        var buffer = new byte[Math.Min(Length, 1 << 16)];
        var remaining = Length;
        while (remaining > 0)
        {
            var chunk = (int)Math.Min(remaining, buffer.Length);
            await stream.ReadExactlyAsync(buffer.AsMemory(0, chunk), cancellationToken).ConfigureAwait(false);
            ByteSwap.InPlace(buffer.AsSpan(0, chunk), _swapUnit);
            await destination.WriteAsync(buffer.AsMemory(0, chunk), cancellationToken).ConfigureAwait(false);
            remaining -= chunk;
        }
    }

    public void CopyTo(Stream destination)
    {
        using var stream = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.SequentialScan);
        stream.Position = _offset;
        var buffer = new byte[Math.Min(Length, 1 << 16)];
        var remaining = Length;
        while (remaining > 0)
        {
            var chunk = (int)Math.Min(remaining, buffer.Length);
            stream.ReadExactly(buffer.AsSpan(0, chunk));
            ByteSwap.InPlace(buffer.AsSpan(0, chunk), _swapUnit);
            destination.Write(buffer.AsSpan(0, chunk));
            remaining -= chunk;
        }
    }
}

internal static class ByteSwap
{
    public static void InPlace(Span<byte> bytes, int unit)
    {
        switch (unit)
        {
            case 2:
                for (var i = 0; i + 1 < bytes.Length; i += 2)
                {
                    (bytes[i], bytes[i + 1]) = (bytes[i + 1], bytes[i]);
                }
                break;
            case 4:
                for (var i = 0; i + 3 < bytes.Length; i += 4)
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(bytes[i..], BinaryPrimitives.ReadUInt32BigEndian(bytes[i..]));
                }
                break;
            case 8:
                for (var i = 0; i + 7 < bytes.Length; i += 8)
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(bytes[i..], BinaryPrimitives.ReadUInt64BigEndian(bytes[i..]));
                }
                break;
        }
    }
}
