using System.Globalization;
using MedVision.Dicom.Codecs;
using MedVision.Dicom.Imaging;
using MedVision.Testing;
using Xunit.Abstractions;

namespace MedVision.Dicom.Tests.Imaging;

/// <summary>
/// Decodes every frame of every image in the pydicom collection and compares it with an independent decoder's output
/// (dcmtk, else gdcm), read back through our native path. Lossless syntaxes must match exactly; lossy JPEG and
/// irreversible JPEG 2000 within <see cref="LossyMaxAbs"/> / <see cref="LossyMeanAbs"/>. What no reference decodes
/// we must refuse with a DicomCodecException or DicomFormatException, never another exception.
/// </summary>
public sealed class CodecConformanceTests(ITestOutputHelper output)
{
    // Two correct IDCT implementations may round differently by one level per stage (ITU T.83 allows an error of
    // 1 on most samples); YCbCr→RGB rounding adds at most one more. Anything beyond that is a decoding error.
    private const int LossyMaxAbs = 2;
    private const double LossyMeanAbs = 0.5;

    private static readonly HashSet<string> LossySyntaxes =
        [DicomCodecUids.JpegBaseline8Bit, DicomCodecUids.JpegExtended12Bit, DicomCodecUids.Jpeg2000, DicomCodecUids.HtJpeg2000];

    public static TheoryData<string> ImageFiles()
    {
        var data = new TheoryData<string>();
        foreach (var path in Directory.EnumerateFiles(RepoPaths.PydicomTestFiles, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            if (IsImage(path))
            {
                data.Add(Path.GetRelativePath(RepoPaths.PydicomTestFiles, path));
            }
        }
        return data;
    }

    private static bool IsImage(string path)
    {
        try
        {
            var dataset = DicomFile.Open(path).Dataset;
            return dataset.Contains(DicomTags.PixelData) && dataset.GetIntOrDefault(DicomTags.Rows, 0) > 0;
        }
        catch (DicomFormatException)
        {
            return false;
        }
    }

    [Theory]
    [MemberData(nameof(ImageFiles))]
    public async Task Every_frame_matches_an_independent_decoder(string name)
    {
        var path = Path.Combine(RepoPaths.PydicomTestFiles, name);
        var file = DicomFile.Open(path);
        var syntax = file.TransferSyntax;
        using var temp = new TempDirectory("medvision-codec");
        var reference = await ReferenceDecoder.DecodeAsync(path, syntax.Uid, temp.Path, file.Dataset.GetIntOrDefault(DicomTags.BitsAllocated, 0));
        var image = DicomImage.Open(file);

        if (reference.Path is null)
        {
            var ex = Record.Exception(() =>
            {
                for (var f = 0; f < image.NumberOfFrames; f++)
                {
                    image.GetStoredFrame(f);
                }
            });
            output.WriteLine($"{name} | {syntax.Uid} | reference refuses ({reference.Log}) | we: {ex?.GetType().Name}: {ex?.Message}");
            Assert.True(ex is DicomCodecException or DicomFormatException, $"{name}: no reference decodes it, and we {(ex is null ? "decoded it without complaint" : $"threw {ex.GetType().Name}: {ex.Message}")}");
            return;
        }

        var expected = DicomImage.Open(DicomFile.Open(reference.Path));
        Assert.Equal(expected.NumberOfFrames, image.NumberOfFrames);
        var lossy = LossySyntaxes.Contains(syntax.Uid);
        int worstMax = 0, exactFrames = 0;
        double worstMean = 0;
        for (var f = 0; f < image.NumberOfFrames; f++)
        {
            var ours = image.GetStoredFrame(f);
            var theirs = expected.GetStoredFrame(f);
            var diff = FrameDifference.Between(ours, theirs);
            worstMax = Math.Max(worstMax, diff.MaxAbs);
            worstMean = Math.Max(worstMean, diff.Mean);
            exactFrames += diff.Exact ? 1 : 0;
            if (lossy)
            {
                Assert.True(diff.MaxAbs <= LossyMaxAbs && diff.Mean <= LossyMeanAbs,
                    $"{name} frame {f}: max |diff| {diff.MaxAbs}, mean {diff.Mean:F4} against {reference.Tool} (allowed {LossyMaxAbs}, {LossyMeanAbs})");
            }
            else
            {
                Assert.True(diff.Exact, $"{name} frame {f}: {diff.Differing} of {diff.Samples} samples differ from {reference.Tool} (max {diff.MaxAbs}); ours {ours.PhotometricInterpretation}, theirs {theirs.PhotometricInterpretation}");
            }
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name} | {syntax.Uid} | {reference.Tool} | frames {image.NumberOfFrames} | exact {exactFrames} | max {worstMax} | mean {worstMean:F4}"));
    }

    [Fact]
    public void Modality_frames_of_compressed_files_equal_those_of_the_uncompressed_original()
    {
        // The edge pipeline's contract: GetModalityFrame now works for compressed syntaxes too.
        var native = DicomPixelData.From(DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, "MR_small.dcm"))).GetModalityFrame(0);
        foreach (var compressed in new[] { "MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm" })
        {
            var frame = DicomPixelData.From(DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, compressed))).GetModalityFrame(0);
            Assert.Equal(native.Values, frame.Values);
        }
    }
}
