using System.Globalization;
using System.Text.Json;
using MedVision.Edge.Inference;
using MedVision.Testing;
using Xunit.Abstractions;

namespace MedVision.Edge.Tests.Inference;

/// <summary>
/// `medvision eval` over the 624 PneumoniaMNIST test images written as DICOM must give the AUC that the Python side
/// (models/factory: preprocess.py + onnx_numpy.py + metrics.auc) computes for the same model on the same images.
/// </summary>
public sealed class EvalCommandTests(ITestOutputHelper output)
{
    private const string PythonReference = """
        import sys, json, numpy as np
        sys.path.insert(0, sys.argv[1])
        from factory import preprocess, onnx_numpy, metrics
        m = json.load(open(sys.argv[2] + '/manifest.json'))
        d = np.load(sys.argv[3])
        x = preprocess.preprocess(d['test_images'], m['input']['shape'][2]).numpy()
        name = next(o['name'] for o in m['outputs'] if o['kind'] == 'probability')
        p = np.asarray(onnx_numpy.run(sys.argv[2] + '/' + m['file'], {m['input']['name']: x})[name]).reshape(-1)
        print(json.dumps({'auc': metrics.auc(d['test_labels'].ravel(), p), 'p': [float(v) for v in p]}))
        """;

    [Fact]
    public async Task Eval_of_the_pneumoniamnist_test_split_matches_the_python_auc()
    {
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        var labels = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_labels");
        using var folder = new TempDirectory("medvision-eval");
        var csv = new List<string> { "file,label" };
        for (var i = 0; i < images.Shape[0]; i++)
        {
            var file = ChestXrayDicom.Create(folder.Path, images.Image(i), scale: 1);
            File.Move(file.Path, folder.Combine($"{i:D4}.dcm"));
            csv.Add($"{i:D4}.dcm,{labels.Data[i]}");
        }
        await File.WriteAllLinesAsync(folder.Combine("labels.csv"), csv);
        var predictionsPath = folder.Combine("predictions.csv");

        var eval = await ExternalTool.RunAsync("dotnet",
            [Path.Combine(AppContext.BaseDirectory, "medvision.dll"), "eval", folder.Path, "--model", "cxr-pneumonia", "--predictions", predictionsPath],
            TimeSpan.FromMinutes(3));
        output.WriteLine(eval.Combined);
        Assert.True(eval.ExitCode == 0, eval.Combined);
        Assert.Matches(@"auc=0\.\d{4} threshold=0\.\d+ sensitivity=[01]\.\d{4} specificity=[01]\.\d{4} ece10=0\.\d{4}", eval.StandardOutput);
        Assert.Matches(@"latency_ms p50=\d+\.\d\d p99=\d+\.\d\d", eval.StandardOutput);

        var rows = (await File.ReadAllLinesAsync(predictionsPath)).Skip(1).Select(l => l.Split(',')).ToList();
        Assert.Equal(images.Shape[0], rows.Count);
        var index = rows.Select(r => int.Parse(r[0][..4], CultureInfo.InvariantCulture)).ToArray();
        var csharpLabels = rows.Select(r => int.Parse(r[1], CultureInfo.InvariantCulture)).ToArray();
        var csharp = rows.Select(r => double.Parse(r[4], CultureInfo.InvariantCulture)).ToArray();
        var csharpAuc = EvaluationMetrics.Auc(csharpLabels, csharp);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"auc={csharpAuc:F4}"), eval.StandardOutput, StringComparison.Ordinal);

        var python = await ExternalTool.RunAsync("/usr/bin/python3",
            ["-c", PythonReference, Path.Combine(RepoPaths.Root, "models"), RepoPaths.PneumoniaPackage, RepoPaths.PneumoniaMnist],
            // Generous: numpy on a loaded 2-core CI machine; the check is the AUC, not the speed.
            TimeSpan.FromMinutes(5));
        Assert.True(python.ExitCode == 0, python.Combined);
        using var reference = JsonDocument.Parse(python.StandardOutput);
        var pythonAuc = reference.RootElement.GetProperty("auc").GetDouble();
        var pythonP = reference.RootElement.GetProperty("p").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var maxDelta = Enumerable.Range(0, rows.Count).Max(r => Math.Abs(csharp[r] - pythonP[index[r]]));
        output.WriteLine($"AUC medvision eval {csharpAuc:F6}, python {pythonAuc:F6}, |dAUC| {Math.Abs(csharpAuc - pythonAuc):E2}, max |dp| {maxDelta:E2}");

        Assert.True(Math.Abs(csharpAuc - pythonAuc) <= 0.002, $"AUC {csharpAuc} vs python {pythonAuc}");
        Assert.True(maxDelta <= 1e-4, $"max |dp| {maxDelta}");
    }

    [Fact]
    public async Task Eval_of_a_folder_without_labels_fails_with_one_line()
    {
        using var folder = new TempDirectory("medvision-eval");
        var eval = await ExternalTool.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "medvision.dll"), "eval", folder.Path], TimeSpan.FromSeconds(60));
        Assert.Equal(1, eval.ExitCode);
        Assert.StartsWith("error:", eval.StandardError.Trim(), StringComparison.Ordinal);
        Assert.Contains("labels.csv", eval.StandardError, StringComparison.Ordinal);
    }
}
