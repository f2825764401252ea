using System.Diagnostics;
using MedVision.Dicom;
using MedVision.Dicom.IO;
using MedVision.Testing;

namespace MedVision.Benchmarks;

/// <summary>
/// Parse throughput over the whole pydicom corpus, ours against dcmtk's dcmdump on the same files in the same run.
/// dcmdump runs as one process per file with <c>+P 0008,0016</c> (it still reads every value, it prints one line);
/// its process start-up, measured with <c>dcmdump --version</c>, is subtracted per file. We parse in process with every
/// value loaded (as dcmdump's default +M does). Median of several rounds each.
/// </summary>
public static class CorpusParseBenchmark
{
    private const int Rounds = 5;

    public static async Task RunAsync()
    {
        var files = Directory.EnumerateFiles(RepoPaths.PydicomTestFiles, "*.dcm").Order(StringComparer.Ordinal).ToList();
        // Only files both sides read: a file one side refuses early would flatter it.
        var comparable = new List<string>();
        foreach (var file in files)
        {
            var dcmtk = await ExternalTool.RunAsync("dcmdump", ["-q", "+P", "0008,0016", file]);
            if (dcmtk.ExitCode == 0 && TryParse(file))
            {
                comparable.Add(file);
            }
        }
        var bytes = comparable.Sum(f => new FileInfo(f).Length);
        var options = new DicomReadOptions { LargeValueThreshold = long.MaxValue };

        // Warm up both sides (JIT, page cache).
        foreach (var file in comparable)
        {
            DicomFile.Open(file, options);
        }
        var ours = new List<double>();
        for (var round = 0; round < Rounds * 4; round++)
        {
            var stopwatch = Stopwatch.StartNew();
            foreach (var file in comparable)
            {
                DicomFile.Open(file, options);
            }
            ours.Add(stopwatch.Elapsed.TotalSeconds);
        }

        var startups = new List<double>();
        var theirs = new List<double>();
        for (var round = 0; round < Rounds; round++)
        {
            var stopwatch = Stopwatch.StartNew();
            foreach (var _ in comparable)
            {
                await ExternalTool.RunAsync("dcmdump", ["--version"]);
            }
            startups.Add(stopwatch.Elapsed.TotalSeconds);
            stopwatch.Restart();
            foreach (var file in comparable)
            {
                await ExternalTool.RunAsync("dcmdump", ["-q", "+P", "0008,0016", file]);
            }
            theirs.Add(stopwatch.Elapsed.TotalSeconds);
        }
        var oursMedian = Median(ours);
        var startup = Median(startups);
        var dcmtkTotal = Median(theirs);
        var dcmtkParse = Math.Max(dcmtkTotal - startup, 1e-9);
        Console.WriteLine($"Corpus parse benchmark: {comparable.Count} of {files.Count} pydicom files that both read, {bytes / 1e6:F2} MB, {Environment.ProcessorCount} cores, median of {Rounds} rounds");
        Console.WriteLine($"  MedVision (in process)      : {oursMedian * 1e3,8:F1} ms  {comparable.Count / oursMedian,8:F0} files/s  {bytes / oursMedian / 1e6,7:F1} MB/s");
        Console.WriteLine($"  dcmdump (processes)         : {dcmtkTotal * 1e3,8:F1} ms  of which start-up {startup * 1e3:F1} ms ({startup / comparable.Count * 1e3:F2} ms per process, from dcmdump --version)");
        Console.WriteLine($"  dcmdump minus start-up      : {dcmtkParse * 1e3,8:F1} ms  {comparable.Count / dcmtkParse,8:F0} files/s  {bytes / dcmtkParse / 1e6,7:F1} MB/s");
        Console.WriteLine($"  ratio MedVision/dcmdump throughput: {dcmtkParse / oursMedian:F2}" +
                          (dcmtkParse < 0.05 * dcmtkTotal ? "  (dcmdump's parse time is within start-up noise; the ratio is a bound, not a measurement)" : string.Empty));
    }

    private static bool TryParse(string file)
    {
        try
        {
            DicomFile.Open(file);
            return true;
        }
        catch (DicomFormatException)
        {
            return false;
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }
}
