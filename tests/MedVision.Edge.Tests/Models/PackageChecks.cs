using System.Diagnostics;
using System.Text.Json.Nodes;
using MedVision.Edge.Inference;
using MedVision.Testing;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace MedVision.Edge.Tests.Models;

/// <summary>Checks every package of the model factory must pass, shipped or freshly built.</summary>
internal static class PackageChecks
{
    public const double GoldenTolerance = 1e-4;

    /// <summary>
    /// Runs each golden sample's source image (the manifest's <c>data</c> file under ../shared/data) through the
    /// appliance's preprocessing and ONNX Runtime; returns the largest |probability − golden|.
    /// </summary>
    public static double MaxGoldenDelta(LoadedModel model, string packageDirectory)
    {
        var golden = JsonNode.Parse(File.ReadAllText(Path.Combine(packageDirectory, ModelManifest.FileName)))!["golden"]!.AsArray();
        Assert.NotEmpty(golden);
        var images = new Dictionary<string, NpyArray>(StringComparer.Ordinal);
        var maxDelta = 0.0;
        foreach (var sample in golden)
        {
            var data = (string)sample!["data"]!;
            var split = (string)sample["split"]!;
            if (!images.TryGetValue(data + split, out var array))
            {
                array = Npz.ReadUInt8(Path.Combine(RepoPaths.SharedData, data), split + "_images");
                images[data + split] = array;
            }
            int height = array.Shape[1], width = array.Shape[2];
            var pixels = array.Image((int)sample["index"]!).Select(b => (float)b).ToArray();
            var probability = Assert.Single(model.Predict(new GrayscaleImage(width, height, pixels, Monochrome1: false)).Outputs).Probability;
            var expected = (double)sample["probability"]!;
            var delta = Math.Abs(probability - expected);
            Assert.True(delta <= GoldenTolerance, $"{model.Id} golden {data} {split}[{sample["index"]}]: expected {expected}, appliance {probability}");
            maxDelta = Math.Max(maxDelta, delta);
        }
        return maxDelta;
    }

    /// <summary>Runs the ONNX file directly and returns the <c>cam</c> output for one preprocessed image.</summary>
    public static (int[] Shape, float[] Values) RunCam(string packageDirectory, LoadedModel model, float[] tensor)
    {
        using var session = new InferenceSession(Path.Combine(packageDirectory, model.Manifest.File));
        long[] shape = [1, 1, model.Manifest.Input.Shape[2], model.Manifest.Input.Shape[3]];
        using var input = OrtValue.CreateTensorValueFromMemory(tensor, shape);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [model.Manifest.Input.Name], [input], ["cam"]);
        var info = results[0].GetTensorTypeAndShape();
        return (info.Shape.Select(d => (int)d).ToArray(), results[0].GetTensorDataAsSpan<float>().ToArray());
    }

    /// <summary>
    /// Milliseconds for one image through the whole graph (probability and cam) on one CPU thread, as the
    /// appliance runs it (IntraOpThreads 1, sequential, all graph optimisations): the wall-clock median, and the
    /// mean CPU time of the calling thread. With one intra-op thread ONNX Runtime computes on the caller's
    /// thread, so the CPU time is the latency an idle core would see, even on a busy shared CI machine.
    /// </summary>
    public static (double MedianWallMs, double MeanCpuMs) Latency(string onnxPath, string inputName, int height, int width, int runs = 200)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        using var session = new InferenceSession(onnxPath, options);
        var data = new float[height * width];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = (i % 97) / 48f - 1f;
        }
        using var input = OrtValue.CreateTensorValueFromMemory(data, [1, 1, height, width]);
        using var runOptions = new RunOptions();
        string[] outputs = [.. session.OutputMetadata.Keys];
        var times = new double[runs];
        var cpuStart = 0.0;
        for (var i = -10; i < runs; i++)
        {
            if (i == 0)
            {
                cpuStart = ThreadCpuMs();
            }
            var started = Stopwatch.GetTimestamp();
            using (session.Run(runOptions, [inputName], [input], outputs))
            {
            }
            if (i >= 0)
            {
                times[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }
        }
        var cpuMs = (ThreadCpuMs() - cpuStart) / runs;
        Array.Sort(times);
        return (times[runs / 2], cpuMs);
    }

    private const int ClockThreadCpuTimeId = 3;

    private static double ThreadCpuMs()
    {
        if (clock_gettime(ClockThreadCpuTimeId, out var ts) != 0)
        {
            throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        }
        return ts.Seconds * 1000.0 + ts.Nanoseconds / 1e6;
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = false)]
    private static extern int clock_gettime(int clockId, out Timespec timespec);

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary>The [N, 1, h, w] shape the manifest declares for its cam output.</summary>
    public static int[] DeclaredCamShape(string packageDirectory)
    {
        var outputs = JsonNode.Parse(File.ReadAllText(Path.Combine(packageDirectory, ModelManifest.FileName)))!["outputs"]!.AsArray();
        var cam = Assert.Single(outputs, o => (string)o!["kind"]! == OutputKinds.Cam)!;
        return cam["shape"]!.AsArray().Select(v => (int)v!).ToArray();
    }

    public static void CheckCam(string packageDirectory, LoadedModel model, float[] tensor)
    {
        var (shape, values) = RunCam(packageDirectory, model, tensor);
        var declared = DeclaredCamShape(packageDirectory);
        Assert.Equal(4, shape.Length);
        Assert.Equal([1, 1, declared[2], declared[3]], shape);
        Assert.All(values, v => Assert.InRange(v, 0f, 1f));
        // Normalised per image: the hottest cell is ~1 unless the map is all zero.
        Assert.True(values.Max() is > 0.99f or 0f, $"cam max {values.Max()}");
    }
}
