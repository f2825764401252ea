using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;
using MedVision.Dicom;
using MedVision.Dicom.IO;
using MedVision.Testing;

namespace MedVision.Benchmarks;

/// <summary>Header parse cost with pixel data left on disk vs loaded, on a real CT file (allocations included).</summary>
[MemoryDiagnoser]
[ShortRunJob]
public class ParseBenchmark
{
    private readonly string _path = Path.Combine(RepoPaths.PydicomTestFiles, "CT_small.dcm");

    [Benchmark(Baseline = true)]
    public int ReadWithPixelDataInMemory() =>
        DicomFile.Open(_path, new DicomReadOptions { LargeValueThreshold = long.MaxValue }).Dataset.Count;

    [Benchmark]
    public int ReadWithPixelDataOnDisk() =>
        DicomFile.Open(_path, new DicomReadOptions { LargeValueThreshold = 4096 }).Dataset.Count;

    public static void Run(string[] args) =>
        BenchmarkSwitcher.FromTypes([typeof(ParseBenchmark)]).RunAll(DefaultConfig.Instance, args);
}
