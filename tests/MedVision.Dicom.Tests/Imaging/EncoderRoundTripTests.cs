using MedVision.Dicom.Codecs;
using MedVision.Dicom.Imaging;
using MedVision.Testing;
using Xunit.Abstractions;

namespace MedVision.Dicom.Tests.Imaging;

/// <summary>
/// The collection has one JPEG lossless file and no fragmented frames, so dcmtk and gdcm encode more: every lossless
/// predictor, point transforms, signed 16-bit, 32-bit RLE, each JPEG-LS interleave mode, JPEG 2000, several fragments
/// per frame with an empty offset table. Lossless output must decode to the original exactly; lossy output as the
/// encoder's own project decodes it (dcmtk, gdcm), within the lossy JPEG tolerance.
/// </summary>
public sealed class EncoderRoundTripTests(ITestOutputHelper output)
{
    private const string MultiFrameRgb = "multiframe-rgb";

    public static TheoryData<string, string, string, bool> Cases()
    {
        var data = new TheoryData<string, string, string, bool>();
        for (var sv = 1; sv <= 7; sv++)
        {
            data.Add("CT_small.dcm", "dcmcjpeg", $"+el +sv {sv}", true);
        }
        data.Add("CT_small.dcm", "dcmcjpeg", "+el +sv 6 +pt 3", false);
        data.Add("MR_small.dcm", "dcmcjpeg", "+e1", true);
        data.Add("examples_rgb_color.dcm", "dcmcjpeg", "+el +sv 7", true);
        data.Add("examples_rgb_color.dcm", "dcmcjpeg", "+eb", false);
        data.Add("examples_rgb_color.dcm", "dcmcjpeg", "+eb +cr", false);
        data.Add("examples_overlay.dcm", "dcmcjpeg", "+ee", false);
        data.Add("examples_overlay.dcm", "dcmcjpeg", "+ee +q 40", false);
        data.Add("dicomdirtests/77654033/CR1/6154", "dcmcjpeg", "+ee", false);
        data.Add("CT_small.dcm", "dcmcrle", "", true);
        data.Add("rtdose.dcm", "dcmcrle", "", true);
        data.Add("examples_rgb_color.dcm", "dcmcrle", "", true);
        data.Add("CT_small.dcm", "dcmcjpls", "+el", true);
        data.Add("examples_rgb_color.dcm", "dcmcjpls", "+en +md 3", false);
        data.Add("examples_rgb_color.dcm", "dcmcjpls", "+el +in", true);
        data.Add("examples_rgb_color.dcm", "dcmcjpls", "+el +is", true);
        data.Add("examples_rgb_color.dcm", "dcmcjpls", "+el +il", true);
        data.Add("CT_small.dcm", "gdcmconv", "--j2k", true);
        data.Add("examples_rgb_color.dcm", "gdcmconv", "--j2k", true);
        data.Add("CT_small.dcm", "gdcmconv", "--j2k --lossy --irreversible -q 30", false);
        data.Add("examples_rgb_color.dcm", "gdcmconv", "--j2k --lossy --irreversible -r 10", false);
        data.Add(MultiFrameRgb, "dcmcjpeg", "+el +fs 8 -ot", true);
        data.Add(MultiFrameRgb, "dcmcjpeg", "+el +ot", true);
        data.Add(MultiFrameRgb, "dcmcjpls", "+el +fs 8 -ot", true);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Encoded_by_a_peer_decodes_to_the_source(string source, string encoder, string options, bool exactToSource)
    {
        using var temp = new TempDirectory("medvision-roundtrip");
        string original;
        if (source == MultiFrameRgb)
        {
            // 30 frames of 320x240 RGB: dcmtk's uncompressed copy of examples_ybr_color.dcm.
            original = temp.Combine("multiframe.dcm");
            var made = await ExternalTool.RunAsync("dcmdjpeg", [Path.Combine(RepoPaths.PydicomTestFiles, "examples_ybr_color.dcm"), original], TimeSpan.FromSeconds(60));
            Assert.True(made.ExitCode == 0, made.Combined);
        }
        else
        {
            original = Path.Combine(RepoPaths.PydicomTestFiles, source);
        }
        var encoded = temp.Combine("encoded.dcm");
        var arguments = encoder == "gdcmconv"
            ? [.. options.Split(' ', StringSplitOptions.RemoveEmptyEntries), original, encoded]
            : options.Split(' ', StringSplitOptions.RemoveEmptyEntries).Append(original).Append(encoded).ToArray();
        var run = await ExternalTool.RunAsync(encoder, arguments, TimeSpan.FromSeconds(120));
        Assert.True(run.ExitCode == 0, $"{encoder} {options}: {run.Combined}");

        var file = DicomFile.Open(encoded);
        Assert.True(file.TransferSyntax.IsEncapsulated, $"{encoder} {options} wrote {file.TransferSyntax}");
        var fragments = (DicomFragmentSequence)file.Dataset[DicomTags.PixelData]!;
        var ours = DicomImage.Open(file);

        DicomImage expected;
        if (exactToSource)
        {
            expected = DicomImage.Open(DicomFile.Open(original));
        }
        else
        {
            var reference = await ReferenceDecoder.DecodeAsync(encoded, file.TransferSyntax.Uid, temp.Path);
            Assert.True(reference.Path is not null, reference.Log);
            expected = DicomImage.Open(DicomFile.Open(reference.Path));
        }
        Assert.Equal(expected.NumberOfFrames, ours.NumberOfFrames);
        var lossyDct = file.TransferSyntax.Uid is DicomCodecUids.JpegBaseline8Bit or DicomCodecUids.JpegExtended12Bit or DicomCodecUids.Jpeg2000;
        int worst = 0;
        double worstMean = 0;
        for (var f = 0; f < ours.NumberOfFrames; f++)
        {
            var diff = FrameDifference.Between(ours.GetStoredFrame(f), expected.GetStoredFrame(f));
            worst = Math.Max(worst, diff.MaxAbs);
            worstMean = Math.Max(worstMean, diff.Mean);
        }
        output.WriteLine($"{source} {encoder} {options}: {file.TransferSyntax.Uid}, {ours.NumberOfFrames} frames in {fragments.Fragments.Count} fragments, BOT {fragments.OffsetTable.Length} bytes; max |diff| {worst}, mean {worstMean:F4} vs {(exactToSource ? "source" : "reference decoder")}");
        if (lossyDct && !exactToSource)
        {
            Assert.True(worst <= 2 && worstMean <= 0.5, $"max {worst}, mean {worstMean}");
        }
        else
        {
            Assert.Equal(0, worst);
        }
    }
}
