using System.Text;

namespace MedVision.Dicom.Tests.Imaging;

/// <summary>Reads the binary 8-bit PGM (P5) and PPM (P6) files that dcmtk's dcm2pnm writes.</summary>
internal static class Pnm
{
    public static (int Width, int Height, int Channels, byte[] Pixels) Read(string path)
    {
        var (width, height, channels, max, samples) = ReadSamples(path);
        if (max != 255)
        {
            throw new InvalidDataException($"{path}: maximum {max}, expected 8-bit output.");
        }
        return (width, height, channels, samples.Select(v => (byte)v).ToArray());
    }

    /// <summary>Any binary PGM/PPM; samples above 255 are two bytes, most significant first (Netpbm).</summary>
    public static (int Width, int Height, int Channels, int Max, int[] Samples) ReadSamples(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var pos = 0;
        string Token()
        {
            while (true)
            {
                while (pos < bytes.Length && char.IsWhiteSpace((char)bytes[pos]))
                {
                    pos++;
                }
                if (pos < bytes.Length && bytes[pos] == '#')
                {
                    while (pos < bytes.Length && bytes[pos] != '\n')
                    {
                        pos++;
                    }
                    continue;
                }
                break;
            }
            var start = pos;
            while (pos < bytes.Length && !char.IsWhiteSpace((char)bytes[pos]))
            {
                pos++;
            }
            return Encoding.ASCII.GetString(bytes, start, pos - start);
        }
        var magic = Token();
        var channels = magic switch
        {
            "P5" => 1,
            "P6" => 3,
            _ => throw new InvalidDataException($"{path}: {magic} is not a binary PGM/PPM."),
        };
        var width = int.Parse(Token(), System.Globalization.CultureInfo.InvariantCulture);
        var height = int.Parse(Token(), System.Globalization.CultureInfo.InvariantCulture);
        var max = int.Parse(Token(), System.Globalization.CultureInfo.InvariantCulture);
        pos++;
        var count = width * height * channels;
        var samples = new int[count];
        for (var i = 0; i < count; i++)
        {
            samples[i] = max > 255 ? (bytes[pos + 2 * i] << 8) | bytes[pos + 2 * i + 1] : bytes[pos + i];
        }
        return (width, height, channels, max, samples);
    }

    public static void Write(string path, int width, int height, int channels, int max, int[] samples)
    {
        using var stream = File.Create(path);
        stream.Write(Encoding.ASCII.GetBytes($"{(channels == 1 ? "P5" : "P6")}\n{width} {height}\n{max}\n"));
        foreach (var v in samples)
        {
            if (max > 255)
            {
                stream.WriteByte((byte)(v >> 8));
            }
            stream.WriteByte((byte)v);
        }
    }
}
