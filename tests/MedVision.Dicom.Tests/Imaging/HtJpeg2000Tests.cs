using MedVision.Dicom.Codecs;
using MedVision.Dicom.Imaging;
using MedVision.Dicom.IO;
using MedVision.Testing;
using Xunit.Abstractions;

namespace MedVision.Dicom.Tests.Imaging;

/// <summary>
/// High-Throughput JPEG 2000 (PS3.5 A.4.11): no file of the collection uses it, so OpenJPH (Debian openjph-tools, a
/// separate implementation from the OpenJPEG we decode with) encodes real images, and its own ojph_expand is the
/// reference. Reversible coding must give back the source exactly.
/// </summary>
public sealed class HtJpeg2000Tests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("examples_overlay.dcm", true)]
    [InlineData("examples_overlay.dcm", false)]
    [InlineData("examples_rgb_color.dcm", true)]
    [InlineData("examples_rgb_color.dcm", false)]
    public async Task Openjph_codestreams_decode_like_ojph_expand(string name, bool reversible)
    {
        using var temp = new TempDirectory("medvision-htj2k");
        var source = DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, name), new DicomReadOptions { LargeValueThreshold = long.MaxValue });
        var image = DicomImage.Open(source);
        var original = image.GetStoredFrame(0);
        var max = (1 << image.BitsStored) - 1;
        var extension = original.SamplesPerPixel == 1 ? "pgm" : "ppm";
        var input = temp.Combine($"source.{extension}");
        Pnm.Write(input, original.Width, original.Height, original.SamplesPerPixel, max, original.Values);

        var codestream = temp.Combine("frame.j2c");
        string[] options = reversible ? ["-reversible", "true"] : ["-qstep", "0.01"];
        var encode = await ExternalTool.RunAsync("ojph_compress", ["-i", input, "-o", codestream, .. options], TimeSpan.FromSeconds(60));
        Assert.True(encode.ExitCode == 0, encode.Combined);
        var expanded = temp.Combine($"reference.{extension}");
        var expand = await ExternalTool.RunAsync("ojph_expand", ["-i", codestream, "-o", expanded], TimeSpan.FromSeconds(60));
        Assert.True(expand.ExitCode == 0, expand.Combined);
        var reference = Pnm.ReadSamples(expanded);

        var syntax = DicomTransferSyntax.Parse(reversible ? DicomCodecUids.HtJpeg2000Lossless : DicomCodecUids.HtJpeg2000);
        var dataset = new DicomDataset(source.Dataset);
        var bytes = await File.ReadAllBytesAsync(codestream);
        var pixelData = new DicomFragmentSequence(DicomTags.PixelData, DicomVR.OB);
        pixelData.Fragments.Add(new MemoryByteBuffer(bytes.Length % 2 == 0 ? bytes : [.. bytes, 0]));
        dataset.AddOrUpdate(pixelData);
        if (original.SamplesPerPixel == 3)
        {
            // OpenJPH applies its colour transform by default: RCT when reversible, ICT otherwise.
            dataset.AddOrUpdate(DicomTags.PhotometricInterpretation, DicomVR.CS, reversible ? "YBR_RCT" : "YBR_ICT");
        }
        var path = temp.Combine("htj2k.dcm");
        new DicomFile(DicomFile.CreateFileMetaInfo(dataset.GetStringOrDefault(DicomTags.SOPClassUID)!, dataset.GetStringOrDefault(DicomTags.SOPInstanceUID)!, syntax), dataset, syntax).Save(path);

        var decoded = DicomImage.Open(DicomFile.Open(path)).GetStoredFrame(0);
        Assert.Equal(original.SamplesPerPixel == 3 ? "RGB" : "MONOCHROME2", decoded.PhotometricInterpretation);
        var worst = 0;
        double sum = 0;
        for (var i = 0; i < decoded.Values.Length; i++)
        {
            var d = Math.Abs(decoded.Values[i] - reference.Samples[i]);
            worst = Math.Max(worst, d);
            sum += d;
        }
        output.WriteLine($"{name} {(reversible ? "reversible" : "irreversible")}: {bytes.Length} bytes, max |diff| vs ojph_expand {worst}, mean {sum / decoded.Values.Length:F4}");
        if (reversible)
        {
            Assert.Equal(original.Values, decoded.Values);
            Assert.Equal(0, worst);
        }
        else
        {
            // Two 9/7 implementations round the inverse wavelet and ICT differently by a level or so.
            Assert.True(worst <= 2 && sum / decoded.Values.Length <= 0.5, $"max {worst}, mean {sum / decoded.Values.Length}");
        }
    }
}
