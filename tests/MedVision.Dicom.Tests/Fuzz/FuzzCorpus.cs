using System.Buffers.Binary;
using MedVision.Dicom.IO;
using MedVision.Testing;

namespace MedVision.Dicom.Tests.Fuzz;

/// <summary>
/// Seed inputs for mutation: every file of the pydicom collection (and its DICOMDIRs) as it is on disk when small,
/// else rewritten by our writer with its pixel data cut to 64 bytes, so mutations land in headers, not in pixels.
/// For each seed, the offsets of its element length fields, found from the VR codes of explicit VR headers and the
/// known tags of implicit VR ones, are where length-field corruption aims.
/// </summary>
internal sealed class FuzzCorpus
{
    private const int SmallFile = 16 * 1024;

    private FuzzCorpus(IReadOnlyList<Seed> seeds) => Seeds = seeds;

    public IReadOnlyList<Seed> Seeds { get; }

    public sealed record Seed(string Name, byte[] Bytes, int[] LengthFields);

    public static FuzzCorpus Load()
    {
        var seeds = new List<Seed>();
        var paths = Directory.EnumerateFiles(RepoPaths.PydicomTestFiles, "*.dcm")
            .Concat(Directory.EnumerateFiles(Path.Combine(RepoPaths.PydicomTestFiles, "dicomdirtests"), "DICOMDIR*"))
            .Order(StringComparer.Ordinal);
        foreach (var path in paths)
        {
            var bytes = File.ReadAllBytes(path);
            if (bytes.Length > SmallFile)
            {
                bytes = Shrink(path) ?? bytes[..SmallFile];
            }
            seeds.Add(new Seed(Path.GetFileName(path), bytes, LengthFieldOffsets(bytes)));
        }
        return new FuzzCorpus(seeds);
    }

    /// <summary>The file rewritten in its own syntax with pixel data cut short; null when we cannot read or write it.</summary>
    private static byte[]? Shrink(string path)
    {
        try
        {
            var file = DicomFile.Open(path);
            var dataset = file.Dataset;
            if (dataset[DicomTags.PixelData] is DicomElement pixels)
            {
                dataset.AddOrUpdate(new DicomElement(pixels.Tag, pixels.VR, new MemoryByteBuffer(pixels.Buffer.GetBytes()[..(int)Math.Min(64, pixels.Length)])));
            }
            else if (dataset[DicomTags.PixelData] is DicomFragmentSequence fragments)
            {
                var cut = new DicomFragmentSequence(fragments.Tag, fragments.VR) { OffsetTable = fragments.OffsetTable };
                cut.Fragments.AddRange(fragments.Fragments.Select(f => (IByteBuffer)new MemoryByteBuffer(f.GetBytes()[..(int)Math.Min(64, f.Length)])));
                dataset.AddOrUpdate(cut);
            }
            using var stream = new MemoryStream();
            DicomWriter.WriteFile(stream, new DicomFile(file.FileMetaInfo, dataset, file.TransferSyntax));
            return stream.ToArray();
        }
        catch (DicomFormatException)
        {
            return null;
        }
    }

    private static int[] LengthFieldOffsets(byte[] bytes)
    {
        var offsets = new List<int>();
        for (var i = 4; i + 8 <= bytes.Length; i++)
        {
            if (DicomVR.TryParse(bytes.AsSpan(i, 2), out var vr))
            {
                offsets.Add(vr.HasLongExplicitLength ? i + 4 : i + 2);
            }
            else if (i % 2 == 0 && DicomDictionary.Default.TryGetEntry(
                         new DicomTag(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(i - 4)), BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(i - 2))), out var entry) &&
                     !entry.IsRepeating && entry.Tag.Group is > 0x0002 and < 0x7FE1)
            {
                offsets.Add(i);
            }
        }
        return offsets.Count > 0 ? [.. offsets] : [0];
    }
}
