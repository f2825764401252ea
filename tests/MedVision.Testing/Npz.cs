using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace MedVision.Testing;

/// <summary>A uint8 array from a NumPy .npz archive (a zip of .npy files), read in place from ../shared.</summary>
public sealed record NpyArray(int[] Shape, byte[] Data)
{
    /// <summary>Image <paramref name="index"/> of an [N, H, W] array.</summary>
    public byte[] Image(int index)
    {
        var size = Shape[1] * Shape[2];
        return Data.AsSpan(index * size, size).ToArray();
    }
}

public static partial class Npz
{
    public static NpyArray ReadUInt8(string npzPath, string arrayName)
    {
        using var zip = ZipFile.OpenRead(RepoPaths.RequireFile(npzPath));
        var entry = zip.GetEntry(arrayName + ".npy") ?? throw new InvalidDataException($"{npzPath} has no array '{arrayName}'.");
        using var stream = entry.Open();
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        var bytes = buffer.ToArray();
        if (bytes.Length < 10 || bytes[0] != 0x93 || !bytes.AsSpan(1, 5).SequenceEqual("NUMPY"u8))
        {
            throw new InvalidDataException($"{arrayName} is not a .npy array.");
        }
        var major = bytes[6];
        var headerLength = major == 1 ? BitConverter.ToUInt16(bytes, 8) : (int)BitConverter.ToUInt32(bytes, 8);
        var headerStart = major == 1 ? 10 : 12;
        var header = Encoding.ASCII.GetString(bytes, headerStart, headerLength);
        if (!header.Contains("'|u1'", StringComparison.Ordinal) || header.Contains("'fortran_order': True", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{arrayName}: only C-ordered uint8 arrays are supported ({header.Trim()}).");
        }
        var shape = ShapePattern().Match(header).Groups[1].Value
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(int.Parse).ToArray();
        var dataStart = headerStart + headerLength;
        return new NpyArray(shape, bytes.AsSpan(dataStart).ToArray());
    }

    [GeneratedRegex(@"'shape':\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
