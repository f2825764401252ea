using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace MedVision.Edge.Tests.Inference;

/// <summary>A C-order array read from a <c>.npy</c> file.</summary>
public sealed record NpyArray(string Dtype, int[] Shape, byte[] Data)
{
    public long Count => Shape.Aggregate(1L, (a, d) => a * d);
}

/// <summary>
/// Minimal reader for NumPy <c>.npz</c> archives (a zip of <c>.npy</c> files, stored or deflated) holding
/// C-order uint8 arrays, which is what MedMNIST ships. Enough for tests; not a general NumPy reader.
/// </summary>
public static partial class Npz
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads array <paramref name="name"/> (without <c>.npy</c>) from the archive at <paramref name="path"/>.</summary>
    public static NpyArray Read(string path, string name)
    {
        using var archive = ZipFile.OpenRead(path);
        var entry = archive.GetEntry(name + ".npy")
            ?? throw new KeyNotFoundException($"{path} has no array '{name}' (has {string.Join(", ", archive.Entries.Select(e => e.FullName))}).");
        using var stream = entry.Open();
        return ReadNpy(stream);
    }

    public static NpyArray ReadNpy(Stream stream)
    {
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        if (!prefix[..6].SequenceEqual(Magic))
        {
            throw new InvalidDataException("Not an .npy stream.");
        }
        var major = prefix[6];
        int headerLength;
        if (major == 1)
        {
            Span<byte> length = stackalloc byte[2];
            stream.ReadExactly(length);
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(length);
        }
        else if (major is 2 or 3)
        {
            Span<byte> length = stackalloc byte[4];
            stream.ReadExactly(length);
            headerLength = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(length));
        }
        else
        {
            throw new InvalidDataException($".npy version {major} is not supported.");
        }

        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        var header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(headerBytes);

        var descr = Descr().Match(header);
        var fortran = Fortran().Match(header);
        var shape = Shape().Match(header);
        if (!descr.Success || !fortran.Success || !shape.Success)
        {
            throw new InvalidDataException($"Unreadable .npy header: {header}");
        }
        if (fortran.Groups[1].Value != "False")
        {
            throw new InvalidDataException("Fortran-order arrays are not supported.");
        }
        var dtype = descr.Groups[1].Value;
        if (dtype != "|u1")
        {
            throw new InvalidDataException($"dtype '{dtype}' is not supported (only |u1).");
        }
        var dims = shape.Groups[1].Value
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => int.Parse(d, CultureInfo.InvariantCulture))
            .ToArray();

        var count = dims.Aggregate(1L, (a, d) => a * d);
        var data = new byte[checked((int)count)];
        stream.ReadExactly(data);
        return new NpyArray(dtype, dims, data);
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']+)'")]
    private static partial Regex Descr();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex Fortran();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex Shape();
}
