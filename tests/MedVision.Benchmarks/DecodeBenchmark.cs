using System.Diagnostics;
using MedVision.Dicom;
using MedVision.Dicom.Codecs;
using MedVision.Dicom.Imaging;
using MedVision.Testing;

namespace MedVision.Benchmarks;

/// <summary>
/// Full decode (open the file, decode every frame to native pixels), ours in-process next to dcmtk's dcmdrle /
/// dcmdjpeg / dcmdjpls run as processes on the same files, each side's best of several rounds. dcmtk's time is net of
/// process start-up, measured by the same tool on a 3x3 uncompressed file. dcmtk also writes its output file, which we
/// do not. Two workloads: the compressed files of the pydicom collection that both sides decode (small: start-up
/// dominates dcmtk's time, so its net figure is noisy), and a 30-frame 320x240 RGB cine that dcmtk's own encoders
/// compress (RLE, JPEG lossless SV1, JPEG baseline, JPEG-LS), where decoding dominates.
/// </summary>
public static class DecodeBenchmark
{
    private const int Rounds = 5;

    // One pass over a workload takes milliseconds; repeating it keeps timer and scheduler noise out.
    private const int PassesPerRound = 10;

    private static readonly (string Tool, string[] Syntaxes, string[] Encodings)[] Families =
    [
        ("dcmdrle", [DicomCodecUids.RleLossless], ["dcmcrle"]),
        ("dcmdjpeg", [DicomCodecUids.JpegBaseline8Bit, DicomCodecUids.JpegExtended12Bit, DicomCodecUids.JpegLosslessProcess14, DicomCodecUids.JpegLosslessSV1], ["dcmcjpeg +e1", "dcmcjpeg +eb"]),
        ("dcmdjpls", [DicomCodecUids.JpegLsLossless, DicomCodecUids.JpegLsNearLossless], ["dcmcjpls +el"]),
    ];

    public static async Task RunAsync()
    {
        Console.WriteLine($"Decode benchmark: full decode, best of {Rounds} rounds, {Environment.ProcessorCount} cores");
        using var temp = new TempDirectory("medvision-decode-bench");
        var cine = temp.Combine("cine-native.dcm");
        await RunToolAsync("dcmdjpeg", Path.Combine(RepoPaths.PydicomTestFiles, "examples_ybr_color.dcm"), cine);
        foreach (var (tool, syntaxes, encodings) in Families)
        {
            var corpus = new List<string>();
            foreach (var file in Directory.EnumerateFiles(RepoPaths.PydicomTestFiles, "*.dcm").Order(StringComparer.Ordinal))
            {
                if (syntaxes.Contains(TrySyntax(file)) && DecodesHere(file) && await DecodesInDcmtkAsync(tool, file, temp.Combine("check.dcm")))
                {
                    corpus.Add(file);
                }
            }
            await CompareAsync(tool, "pydicom files", corpus, temp);
            for (var i = 0; i < encodings.Length; i++)
            {
                var parts = encodings[i].Split(' ');
                var output = temp.Combine($"cine-{parts[0]}-{i}.dcm");
                var run = await ExternalTool.RunAsync(parts[0], [.. parts[1..], cine, output], TimeSpan.FromSeconds(120));
                if (run.ExitCode != 0)
                {
                    throw new InvalidOperationException($"{encodings[i]}: {run.Combined}");
                }
                await CompareAsync(tool, $"cine made by {encodings[i]}", [output], temp);
            }
        }
    }

    private static async Task CompareAsync(string tool, string label, List<string> files, TempDirectory temp)
    {
        if (files.Count == 0)
        {
            return;
        }
        var frames = 0;
        long pixelBytes = 0;
        var ours = double.MaxValue;
        for (var round = 0; round <= Rounds; round++)
        {
            var watch = Stopwatch.StartNew();
            for (var pass = 0; pass < PassesPerRound; pass++)
            {
                (frames, pixelBytes) = DecodeAll(files);
            }
            if (round > 0)
            {
                ours = Math.Min(ours, watch.Elapsed.TotalSeconds / PassesPerRound);
            }
        }
        var probe = Path.Combine(RepoPaths.PydicomTestFiles, "SC_rgb_small_odd.dcm");
        var theirs = 0.0;
        var startup = double.MaxValue;
        for (var round = 0; round < Rounds; round++)
        {
            startup = Math.Min(startup, await RunToolAsync(tool, probe, temp.Combine("probe.dcm")));
        }
        foreach (var file in files)
        {
            var best = double.MaxValue;
            for (var round = 0; round < Rounds; round++)
            {
                best = Math.Min(best, await RunToolAsync(tool, file, temp.Combine("out.dcm")));
            }
            theirs += Math.Max(0, best - startup);
        }
        theirs = Math.Max(theirs, 1e-6);
        Console.WriteLine($"{tool} on {label}: {files.Count} files, {frames} frames, {pixelBytes / 1e6:F1} MB of pixels");
        Console.WriteLine($"  MedVision : {ours * 1e3,8:F1} ms  ({pixelBytes / ours / 1e6,7:F1} MB/s)");
        Console.WriteLine($"  {tool,-9} : {theirs * 1e3,8:F1} ms  ({pixelBytes / theirs / 1e6,7:F1} MB/s), net of {startup * 1e3:F1} ms start-up per run");
        Console.WriteLine($"  ratio MedVision/{tool} throughput: {theirs / ours:F2}");
    }

    private static (int Frames, long Bytes) DecodeAll(List<string> files)
    {
        var frames = 0;
        long bytes = 0;
        foreach (var path in files)
        {
            var image = DicomImage.Open(DicomFile.Open(path));
            for (var f = 0; f < image.NumberOfFrames; f++)
            {
                bytes += image.DecodeFrame(f).Data.Length;
                frames++;
            }
        }
        return (frames, bytes);
    }

    private static async Task<double> RunToolAsync(string tool, string input, string output)
    {
        var watch = Stopwatch.StartNew();
        var run = await ExternalTool.RunAsync(tool, [input, output], TimeSpan.FromSeconds(120));
        var elapsed = watch.Elapsed.TotalSeconds;
        return run.ExitCode == 0 ? elapsed : throw new InvalidOperationException($"{tool} {input}: {run.Combined}");
    }

    private static async Task<bool> DecodesInDcmtkAsync(string tool, string input, string output) =>
        (await ExternalTool.RunAsync(tool, [input, output], TimeSpan.FromSeconds(120))).ExitCode == 0;

    private static string TrySyntax(string path)
    {
        try
        {
            return DicomFile.Open(path).TransferSyntax.Uid;
        }
        catch (DicomFormatException)
        {
            return string.Empty;
        }
    }

    private static bool DecodesHere(string path)
    {
        try
        {
            var image = DicomImage.Open(DicomFile.Open(path));
            image.DecodeFrame(0);
            return true;
        }
        catch (Exception ex) when (ex is DicomCodecException or DicomFormatException)
        {
            return false;
        }
    }
}
