using System.Buffers.Binary;
using MedVision.Dicom.Codecs;
using MedVision.Dicom.Imaging;
using MedVision.Dicom.IO;
using MedVision.Testing;

namespace MedVision.Dicom.Tests.Imaging;

/// <summary>
/// Frame location in encapsulated pixel data. Each layout puts a stray fragment before the first frame, so only the
/// table under test (Extended or Basic Offset Table) can find the frames: a fallback would decode the wrong bytes.
/// </summary>
public sealed class EncapsulatedFramesTests
{
    private static readonly DicomTag ExtendedOffsetTable = new(0x7FE0, 0x0001);
    private static readonly DicomTag ExtendedOffsetTableLengths = new(0x7FE0, 0x0002);

    [Fact]
    public void Extended_offset_table_locates_every_frame()
    {
        var (file, frames) = LoadMultiFrameJpeg();
        var (dataset, sequence) = WithStrayFragment(file.Dataset, frames);
        var offsets = new byte[8 * frames.Count];
        var lengths = new byte[8 * frames.Count];
        long position = 8 + sequence.Fragments[0].Length;
        for (var i = 0; i < frames.Count; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(offsets.AsSpan(8 * i), position);
            BinaryPrimitives.WriteInt64LittleEndian(lengths.AsSpan(8 * i), frames[i].Length);
            position += 8 + frames[i].Length;
        }
        dataset.AddOrUpdate(new DicomElement(ExtendedOffsetTable, DicomVR.OV, new MemoryByteBuffer(offsets)));
        dataset.AddOrUpdate(new DicomElement(ExtendedOffsetTableLengths, DicomVR.OV, new MemoryByteBuffer(lengths)));
        AssertFramesMatch(file, dataset, sequence, frames);
    }

    [Fact]
    public void Basic_offset_table_locates_every_frame()
    {
        var (file, frames) = LoadMultiFrameJpeg();
        var (dataset, sequence) = WithStrayFragment(file.Dataset, frames);
        var table = new byte[4 * frames.Count];
        long position = 8 + sequence.Fragments[0].Length;
        for (var i = 0; i < frames.Count; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(4 * i), (uint)position);
            position += 8 + frames[i].Length;
        }
        sequence.OffsetTable = new MemoryByteBuffer(table);
        AssertFramesMatch(file, dataset, sequence, frames);
    }

    [Fact]
    public void Without_offset_table_frames_split_over_fragments_are_found_by_their_end_marker()
    {
        var (file, frames) = LoadMultiFrameJpeg();
        var dataset = new DicomDataset(file.Dataset);
        var sequence = new DicomFragmentSequence(DicomTags.PixelData, DicomVR.OB);
        foreach (var frame in frames)
        {
            // Three fragments per frame, each of even length as PS3.5 A.4 requires.
            var cut1 = frame.Length / 3 & ~1;
            var cut2 = 2 * frame.Length / 3 & ~1;
            sequence.Fragments.Add(new MemoryByteBuffer(frame[..cut1]));
            sequence.Fragments.Add(new MemoryByteBuffer(frame[cut1..cut2]));
            sequence.Fragments.Add(new MemoryByteBuffer(frame[cut2..]));
        }
        dataset.AddOrUpdate(sequence);
        AssertFramesMatch(file, dataset, sequence, frames);
    }

    [Fact]
    public void Too_few_fragments_without_a_table_is_a_codec_error()
    {
        var (file, frames) = LoadMultiFrameJpeg();
        var dataset = new DicomDataset(file.Dataset);
        var sequence = new DicomFragmentSequence(DicomTags.PixelData, DicomVR.OB);
        sequence.Fragments.Add(new MemoryByteBuffer(frames[0]));
        dataset.AddOrUpdate(sequence);
        var ex = Assert.Throws<DicomCodecException>(() => EncapsulatedFrames.GetFrame(dataset, sequence, 5, frames.Count));
        Assert.Contains("fragments", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Damaged_frames_fail_with_codec_errors_not_crashes()
    {
        // Each codec gets the first frame of a real file cut short, and with its body overwritten.
        foreach (var name in new[] { "MR_small_RLE.dcm", "SC_rgb_jpeg_gdcm.dcm", "SC_rgb_dcmtk_+eb+cy+np.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm", "SC_rgb_rle_32bit.dcm" })
        {
            var file = DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, name));
            var sequence = (DicomFragmentSequence)file.Dataset[DicomTags.PixelData]!;
            var frame = EncapsulatedFrames.GetFrame(file.Dataset, sequence, 0, 1);
            var image = DicomImage.Open(file);
            var info = new FrameInfo(image.Rows, image.Columns, image.SamplesPerPixel, image.BitsAllocated, image.BitsStored, image.PixelRepresentation, image.PlanarConfiguration, image.PhotometricInterpretation, file.TransferSyntax.Uid);
            var codec = DicomCodecRegistry.Default.GetCodec(file.TransferSyntax);
            var scrambled = (byte[])frame.Clone();
            for (var i = 80; i < scrambled.Length; i += 7)
            {
                scrambled[i] = (byte)(i * 31);
            }
            foreach (var damaged in new[] { frame[..(frame.Length / 2)], frame[..40], scrambled, Array.Empty<byte>() })
            {
                var ex = Record.Exception(() => codec.Decode(damaged, info));
                Assert.True(ex is null or DicomCodecException, $"{name} ({damaged.Length} bytes): {ex?.GetType().Name}: {ex?.Message}");
            }
        }
    }

    private static (DicomFile File, List<byte[]> Frames) LoadMultiFrameJpeg()
    {
        var file = DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, "examples_ybr_color.dcm"), new DicomReadOptions { LargeValueThreshold = long.MaxValue });
        var sequence = (DicomFragmentSequence)file.Dataset[DicomTags.PixelData]!;
        var image = DicomImage.Open(file);
        var frames = new List<byte[]>();
        for (var i = 0; i < image.NumberOfFrames; i++)
        {
            frames.Add(EncapsulatedFrames.GetFrame(file.Dataset, sequence, i, image.NumberOfFrames));
        }
        return (file, frames);
    }

    private static (DicomDataset Dataset, DicomFragmentSequence Sequence) WithStrayFragment(DicomDataset original, List<byte[]> frames)
    {
        var dataset = new DicomDataset(original);
        var sequence = new DicomFragmentSequence(DicomTags.PixelData, DicomVR.OB);
        sequence.Fragments.Add(new MemoryByteBuffer(new byte[] { 0x12, 0x34, 0x56, 0x78 }));
        foreach (var frame in frames)
        {
            sequence.Fragments.Add(new MemoryByteBuffer(frame));
        }
        dataset.AddOrUpdate(sequence);
        return (dataset, sequence);
    }

    private static void AssertFramesMatch(DicomFile file, DicomDataset dataset, DicomFragmentSequence sequence, List<byte[]> frames)
    {
        for (var i = 0; i < frames.Count; i++)
        {
            Assert.Equal(frames[i], EncapsulatedFrames.GetFrame(dataset, sequence, i, frames.Count));
        }
        var original = DicomImage.Open(file).GetStoredFrame(frames.Count - 1).Values;
        var rebuilt = new DicomImage(dataset, file.TransferSyntax).GetStoredFrame(frames.Count - 1).Values;
        Assert.Equal(original, rebuilt);
    }
}
