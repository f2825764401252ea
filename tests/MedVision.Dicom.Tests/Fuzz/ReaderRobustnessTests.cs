using System.Buffers.Binary;
using MedVision.Dicom.IO;
using MedVision.Testing;

namespace MedVision.Dicom.Tests.Fuzz;

/// <summary>The reader bugs the fuzzer found, each pinned by the smallest input that showed it.</summary>
public sealed class ReaderRobustnessTests
{
    private static byte[] ExplicitElement(ushort group, ushort element, string vr, ReadOnlySpan<byte> value)
    {
        var longLength = DicomVR.Parse(vr).HasLongExplicitLength;
        var header = new byte[longLength ? 12 : 8];
        BinaryPrimitives.WriteUInt16LittleEndian(header, group);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(2), element);
        header[4] = (byte)vr[0];
        header[5] = (byte)vr[1];
        if (longLength)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), (uint)value.Length);
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(6), (ushort)value.Length);
        }
        return [.. header, .. value];
    }

    [Fact]
    public void Deeply_nested_sequences_are_refused_instead_of_overflowing_the_stack()
    {
        // 100,000 levels of undefined-length SQ + item: 2 MB that used to abort the whole process (stack overflow).
        using var stream = new MemoryStream();
        stream.Write(ExplicitElement(0x0008, 0x0016, "UI", "1\0"u8));
        Span<byte> level = stackalloc byte[20];
        BinaryPrimitives.WriteUInt16LittleEndian(level, 0x0008);
        BinaryPrimitives.WriteUInt16LittleEndian(level[2..], 0x1140);
        level[4] = (byte)'S';
        level[5] = (byte)'Q';
        BinaryPrimitives.WriteUInt32LittleEndian(level[8..], 0xFFFF_FFFF);
        BinaryPrimitives.WriteUInt16LittleEndian(level[12..], 0xFFFE);
        BinaryPrimitives.WriteUInt16LittleEndian(level[14..], 0xE000);
        BinaryPrimitives.WriteUInt32LittleEndian(level[16..], 0xFFFF_FFFF);
        for (var i = 0; i < 100_000; i++)
        {
            stream.Write(level);
        }
        stream.Position = 0;
        var ex = Assert.Throws<DicomFormatException>(() => DicomReader.ReadDataset(stream, DicomTransferSyntax.ExplicitVRLittleEndian));
        Assert.Contains("nested deeper", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_huge_declared_length_on_a_forward_only_stream_is_not_allocated()
    {
        // An OB that claims 2 GiB - 2 with 4 bytes behind it, arriving over a stream that cannot tell its length.
        var header = ExplicitElement(0x0009, 0x1010, "OB", [1, 2, 3, 4]);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), 0x7FFF_FFF0);
        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<DicomFormatException>(() => DicomReader.ReadDataset(new NonSeekableStream(header), DicomTransferSyntax.ExplicitVRLittleEndian));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 8 * 1024 * 1024, $"{allocated} bytes allocated for a 16-byte input");
    }

    [Fact]
    public void A_corrupt_deflate_stream_is_a_format_error()
    {
        var bytes = File.ReadAllBytes(Path.Combine(RepoPaths.PydicomTestFiles, "image_dfl.dcm"));
        var original = DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, "image_dfl.dcm"));
        Assert.True(original.TransferSyntax.IsDeflated);
        // The deflate stream starts right after the meta group (132 + 12 + its group length); a first block header
        // of 0b111 (final block, type 3) is invalid in RFC 1951, so inflating fails at once.
        var bodyStart = 132 + 12 + (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(132 + 8));
        bytes[bodyStart] = 0x07;
        var ex = Assert.Throws<DicomFormatException>(() => DicomReader.Read(new MemoryStream(bytes)));
        Assert.IsType<InvalidDataException>(ex.InnerException);
    }

    [Fact]
    public void A_sequence_cut_short_on_a_forward_only_stream_is_a_format_error()
    {
        var bytes = File.ReadAllBytes(Path.Combine(RepoPaths.PydicomTestFiles, "dicomdirtests", "DICOMDIR-reordered"))[..480];
        Assert.Throws<DicomFormatException>(() => DicomReader.Read(new NonSeekableStream(bytes)));
        Assert.Throws<DicomFormatException>(() => DicomReader.Read(new MemoryStream(bytes)));
    }
}
