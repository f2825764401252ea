using MedVision.Dicom.Codecs;
using MedVision.Testing;

namespace MedVision.Dicom.Tests.Imaging;

/// <summary>
/// Makes an uncompressed copy of a file with an independent decoder (dcmtk's dcmdjpeg/dcmdrle/dcmdjpls, gdcm's
/// gdcmconv, dcmtk's dcmconv for native syntaxes), which our already verified native path then reads.
/// </summary>
internal static class ReferenceDecoder
{
    public sealed record Result(string? Path, string Tool, string Log);

    // Big-endian 32-bit samples in OW: dcmtk and gdcm both swap them as 16-bit words, so their output disagrees with
    // the little-endian twin of the same data (rtdose_expb vs rtdose). pydicom swaps whole samples; it is the reference.
    private const string PydicomToLittleEndian = """
        import sys, pydicom
        from pydicom.uid import ExplicitVRLittleEndian
        ds = pydicom.dcmread(sys.argv[1])
        arr = ds.pixel_array
        ds.PixelData = arr.astype(arr.dtype.newbyteorder('<')).tobytes()
        ds['PixelData'].VR = 'OB' if ds.BitsAllocated <= 8 else 'OW'
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.is_little_endian, ds.is_implicit_VR = True, False
        ds.save_as(sys.argv[2])
        """;

    public static IReadOnlyList<(string Command, string[] Arguments)> ToolsFor(string transferSyntaxUid, string input, string output, int bitsAllocated = 0)
    {
        var gdcm = ("gdcmconv", new[] { "--raw", input, output });
        if (transferSyntaxUid == "1.2.840.10008.1.2.2" && bitsAllocated == 32)
        {
            return [("/usr/bin/python3", ["-c", PydicomToLittleEndian, input, output])];
        }
        return transferSyntaxUid switch
        {
            DicomCodecUids.RleLossless => [("dcmdrle", [input, output]), gdcm],
            DicomCodecUids.JpegBaseline8Bit or DicomCodecUids.JpegExtended12Bit or DicomCodecUids.JpegLosslessProcess14 or DicomCodecUids.JpegLosslessSV1 =>
                [("dcmdjpeg", [input, output]), gdcm],
            DicomCodecUids.JpegLsLossless or DicomCodecUids.JpegLsNearLossless => [("dcmdjpls", [input, output]), gdcm],
            "1.2.840.10008.1.2" or "1.2.840.10008.1.2.1" or "1.2.840.10008.1.2.1.99" or "1.2.840.10008.1.2.2" => [("dcmconv", ["+te", input, output])],
            _ => [gdcm],
        };
    }

    /// <summary>The first tool that succeeds and leaves a readable file, or a null path with every tool's complaint.</summary>
    public static async Task<Result> DecodeAsync(string input, string transferSyntaxUid, string folder, int bitsAllocated = 0)
    {
        var log = new List<string>();
        var n = 0;
        foreach (var (command, arguments) in ToolsFor(transferSyntaxUid, input, Path.Combine(folder, $"ref{n}.dcm"), bitsAllocated))
        {
            var output = arguments[^1];
            var run = await ExternalTool.RunAsync(command, arguments, TimeSpan.FromSeconds(60));
            if (run.ExitCode == 0 && File.Exists(output))
            {
                return new Result(output, command, string.Join("; ", log));
            }
            log.Add($"{command} exit {run.ExitCode}: {run.Combined.Trim()}");
            n++;
        }
        return new Result(null, string.Empty, string.Join("; ", log));
    }
}
