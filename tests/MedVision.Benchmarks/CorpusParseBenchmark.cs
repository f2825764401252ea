using System.Diagnostics;
using MedVision.Dicom;
using MedVision.Dicom.IO;
using MedVision.Testing;

namespace MedVision.Benchmarks;

/// <summary>
/// Parse throughput over the whole pydicom corpus, ours against dcmtk's dcmdump on the same files in the same run.
/// dcmdump runs with <c>+P 0008,0016</c> (it still reads every value, it prints one line): once as one process per
/// file with its start-up (<c>dcmdump --version</c>) subtracted per file, and once as one process for all files with
/// one start-up and dictionary load subtracted. We parse in process with every value loaded (as dcmdump's default +M
/// does). Median of several rounds each.
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

        // `dcmdump --version` exits before dcmtk loads its data dictionary (dicom.dic, parsed at first use), so one
        // process per file mostly measures that load. dcmdump also takes many files in one process: that run minus
        // one run on a file of three attributes (start-up and dictionary) is dcmtk's parse time proper.
        using var temp = new TempDirectory("medvision-bench-parse");
        var tiny = Path.Combine(temp.Path, "tiny.dcm");
        DicomFile.Create(new DicomDataset()
            .AddOrUpdate(DicomTags.SOPClassUID, DicomVR.UI, "1.2.840.10008.5.1.4.1.1.7")
            .AddOrUpdate(DicomTags.SOPInstanceUID, DicomVR.UI, "2.25.1")
            .AddOrUpdate(DicomTags.PatientID, DicomVR.LO, "X"), DicomTransferSyntax.ExplicitVRLittleEndian).Save(tiny);
        string[] printOne = ["-q", "+P", "0008,0016"];
        var startups = new List<double>();
        var perFile = new List<double>();
        var tinies = new List<double>();
        var batches = new List<double>();
        for (var round = 0; round < Rounds; round++)
        {
            startups.Add(await TimeAsync(async () =>
            {
                foreach (var _ in comparable)
                {
                    await ExternalTool.RunAsync("dcmdump", ["--version"]);
                }
            }));
            perFile.Add(await TimeAsync(async () =>
            {
                foreach (var file in comparable)
                {
                    await ExternalTool.RunAsync("dcmdump", [.. printOne, file]);
                }
            }));
            tinies.Add(await TimeAsync(() => ExternalTool.RunAsync("dcmdump", [.. printOne, tiny])));
            batches.Add(await TimeAsync(() => ExternalTool.RunAsync("dcmdump", [.. printOne, .. comparable])));
        }
        var oursMedian = Median(ours);
        var processes = Median(perFile);
        var startup = Median(startups);
        var perFileParse = Math.Max(processes - startup, 1e-9);
        var batchParse = Math.Max(Median(batches) - Median(tinies), 1e-9);
        Console.WriteLine($"Corpus parse benchmark: {comparable.Count} of {files.Count} pydicom files that both read, {bytes / 1e6:F2} MB, {Environment.ProcessorCount} cores, median of {Rounds} rounds");
        Console.WriteLine($"  MedVision (in process, all values loaded)  : {oursMedian * 1e3,8:F1} ms  {comparable.Count / oursMedian,8:F0} files/s  {bytes / oursMedian / 1e6,7:F1} MB/s");
        Console.WriteLine($"  dcmdump, one process per file               : {processes * 1e3,8:F1} ms, minus {startup * 1e3:F1} ms start-up ({startup / comparable.Count * 1e3:F2} ms each, dcmdump --version)");
        Console.WriteLine($"    = {perFileParse * 1e3,8:F1} ms  {comparable.Count / perFileParse,8:F0} files/s  {bytes / perFileParse / 1e6,7:F1} MB/s; ratio MedVision/dcmdump {perFileParse / oursMedian:F2} (includes dcmtk's dictionary load per process)");
        Console.WriteLine($"  dcmdump, all files in one process           : {Median(batches) * 1e3,8:F1} ms, minus {Median(tinies) * 1e3:F1} ms for a 3-attribute file (start-up + dictionary)");
        Console.WriteLine($"    = {batchParse * 1e3,8:F1} ms  {comparable.Count / batchParse,8:F0} files/s  {bytes / batchParse / 1e6,7:F1} MB/s; ratio MedVision/dcmdump {batchParse / oursMedian:F2}");
    }

    private static async Task<double> TimeAsync(Func<Task> action)
    {
        var stopwatch = Stopwatch.StartNew();
        await action();
        return stopwatch.Elapsed.TotalSeconds;
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
