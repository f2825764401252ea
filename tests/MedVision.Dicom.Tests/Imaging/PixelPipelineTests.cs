using MedVision.Dicom.Imaging;
using MedVision.Dicom.IO;
using MedVision.Testing;

namespace MedVision.Dicom.Tests.Imaging;

/// <summary>The pipeline's arithmetic against the values PS3.3 defines.</summary>
public sealed class PixelPipelineTests
{
    [Theory]
    // C.11.2.1.2.1: x <= c - 0.5 - (w-1)/2 → ymin; x > c - 0.5 + (w-1)/2 → ymax; linear between.
    [InlineData(40, 400, -160, 0)]
    [InlineData(40, 400, -159.5, 0)]
    [InlineData(40, 400, 239.5, 255)]
    [InlineData(40, 400, 240, 255)]
    [InlineData(40, 400, 39.5, 127)]
    [InlineData(0, 1, -0.5, 0)]
    [InlineData(0, 1, -0.49, 255)]
    public void Linear_window_follows_the_standard(double center, double width, double x, byte expected) =>
        Assert.Equal(expected, VoiLut.Window(center, width).Apply(x));

    [Fact]
    public void Linear_exact_and_sigmoid_windows_follow_the_standard()
    {
        Assert.Equal(127, VoiLut.Window(100, 50, "LINEAR_EXACT").Apply(100));
        Assert.Equal(0, VoiLut.Window(100, 50, "LINEAR_EXACT").Apply(75));
        Assert.Equal(255, VoiLut.Window(100, 50, "LINEAR_EXACT").Apply(125.01));
        // C.11.2.1.3.1: y = ymax / (1 + exp(-4 (x - c) / w)); at x = c that is ymax / 2.
        Assert.Equal(127, VoiLut.Window(100, 50, "SIGMOID").Apply(100));
        Assert.Equal((byte)Math.Floor(255 / (1 + Math.Exp(-4 * 10 / 50.0))), VoiLut.Window(100, 50, "SIGMOID").Apply(110));
        Assert.Throws<ArgumentOutOfRangeException>(() => VoiLut.Window(100, 0));
    }

    [Fact]
    public void Ybr_full_inverts_the_forward_equations_of_the_standard()
    {
        // C.7.6.3.1.2 gives RGB → YBR_FULL; converting back must land within rounding of the original.
        var rgb = new[] { (255, 0, 0), (0, 255, 0), (0, 0, 255), (128, 128, 128), (12, 200, 77), (255, 255, 255), (0, 0, 0) };
        foreach (var (r, g, b) in rgb)
        {
            var y = 0.299 * r + 0.587 * g + 0.114 * b;
            var cb = -0.168736 * r - 0.331264 * g + 0.5 * b + 128;
            var cr = 0.5 * r - 0.418688 * g - 0.081312 * b + 128;
            var values = new[] { (int)Math.Round(y), (int)Math.Round(cb), (int)Math.Round(cr) };
            ColorConversion.YbrFullToRgb(values, 8);
            Assert.InRange(values[0], r - 2, r + 2);
            Assert.InRange(values[1], g - 2, g + 2);
            Assert.InRange(values[2], b - 2, b + 2);
        }
    }

    [Fact]
    public void Modality_lut_applies_rescale_and_monochrome1_stays_flagged()
    {
        // CR1/6154: MONOCHROME1, 12 bits stored, rescale slope 0.684 and intercept 200.
        var path = Path.Combine(RepoPaths.PydicomTestFiles, "dicomdirtests", "77654033", "CR1", "6154");
        var image = DicomImage.Open(DicomFile.Open(path));
        var stored = image.GetStoredFrame(0).Values;
        var modality = image.GetModalityFrame(0);
        Assert.True(modality.IsMonochrome1);
        for (var i = 0; i < stored.Length; i++)
        {
            Assert.Equal((float)(stored[i] * 0.684 + 200), modality.Values[i], 3);
        }
    }

    [Fact]
    public void Stored_values_are_masked_to_bits_stored_and_sign_extended()
    {
        // A 16-bit cell with 12 stored bits at high bit 13: garbage in bits 0-1 and 14-15 must go, bit 13 is the sign.
        var dataset = new DicomDataset()
            .AddOrUpdate(DicomTags.SamplesPerPixel, DicomVR.US, (ushort)1)
            .AddOrUpdate(DicomTags.PhotometricInterpretation, DicomVR.CS, "MONOCHROME2")
            .AddOrUpdate(DicomTags.Rows, DicomVR.US, (ushort)1)
            .AddOrUpdate(DicomTags.Columns, DicomVR.US, (ushort)3)
            .AddOrUpdate(DicomTags.BitsAllocated, DicomVR.US, (ushort)16)
            .AddOrUpdate(DicomTags.BitsStored, DicomVR.US, (ushort)12)
            .AddOrUpdate(DicomTags.HighBit, DicomVR.US, (ushort)13)
            .AddOrUpdate(DicomTags.PixelRepresentation, DicomVR.US, (ushort)1)
            .AddOrUpdate(DicomTags.PixelData, DicomVR.OW, ToBytes(0b11_0000_0000_0101_11, 0b00_1111_1111_1111_00, 0b01_1000_0000_0001_10));
        var values = new DicomImage(dataset, DicomTransferSyntax.ExplicitVRLittleEndian).GetStoredFrame(0).Values;
        Assert.Equal([5, -1, -2047], values);
    }

    [Fact]
    public void One_bit_frames_unpack_least_significant_bit_first()
    {
        var image = DicomImage.Open(DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, "liver_1frame.dcm"), new DicomReadOptions { LargeValueThreshold = long.MaxValue }));
        var raw = ((DicomElement)DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, "liver_1frame.dcm")).Dataset[DicomTags.PixelData]!).Buffer.GetBytes().Span;
        var values = image.GetStoredFrame(0).Values;
        for (var i = 0; i < values.Length; i++)
        {
            Assert.Equal((raw[i / 8] >> (i % 8)) & 1, values[i]);
        }
        Assert.Contains(1, values);
    }

    [Fact]
    public void A_registered_codec_takes_over_its_syntax_and_leaves_the_others()
    {
        var counting = new CountingCodec(new Codecs.RleCodec());
        var registry = Codecs.DicomCodecRegistry.Default.With(counting).With(new Codecs.JpegLsCodec());
        var rle = DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, "MR_small_RLE.dcm"));
        var expected = DicomImage.Open(DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, "MR_small.dcm"))).GetStoredFrame(0).Values;
        Assert.Equal(expected, DicomImage.Open(rle, registry).GetStoredFrame(0).Values);
        Assert.Equal(1, counting.Calls);
        Assert.IsType<Codecs.JpegTurboCodec>(registry.GetCodec(DicomTransferSyntax.Parse(Codecs.DicomCodecUids.JpegBaseline8Bit)));
        var unknown = Assert.Throws<Codecs.DicomCodecException>(() => registry.GetCodec(DicomTransferSyntax.Parse("1.2.840.10008.1.2.4.100")));
        Assert.Contains("No decoder", unknown.Message, StringComparison.Ordinal);
    }

    /// <summary>Stands in for an accelerated decoder: delegates to a real codec and counts the frames it was given.</summary>
    private sealed class CountingCodec(Codecs.IDicomCodec inner) : Codecs.IDicomCodec
    {
        public int Calls { get; private set; }

        public string Name => "counting " + inner.Name;

        public IReadOnlyCollection<string> TransferSyntaxUids => inner.TransferSyntaxUids;

        public Codecs.DecodedFrame Decode(ReadOnlySpan<byte> encodedFrame, Codecs.FrameInfo info)
        {
            Calls++;
            return inner.Decode(encodedFrame, info);
        }
    }

    private static byte[] ToBytes(params ushort[] words) => words.SelectMany(w => new[] { (byte)w, (byte)(w >> 8) }).ToArray();
}
