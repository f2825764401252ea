using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using MedVision.Dicom;
using MedVision.Edge.Inference;
using MedVision.Edge.Pipeline;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MedVision.Cli.Commands;

/// <summary>
/// `medvision eval FOLDER`: runs the appliance's production path (DICOM file → pixel data → preprocessing → ONNX
/// Runtime) over a labelled folder and prints the metrics the model factory reports, so a site can check that a
/// package performs on its own images as its card says. Exit code 1 for bad input, 0 otherwise.
/// </summary>
public static class EvalCommand
{
    public static void AddTo(RootCommand root) => root.Subcommands.Add(Create());

    private static Command Create()
    {
        var folder = new Argument<string>("folder") { Description = "Folder of DICOM files with labels.csv (columns file,label; label 1 = finding present)" };
        var predictions = new Option<string?>("--predictions") { Description = "Write one CSV row per file and model: file,label,model,version,probability,threshold,positive,latency_ms" };
        var model = new Option<string?>("--model") { Description = "Evaluate only this model id (default: every model whose routing applies to the file)" };
        var models = new Option<string?>("--models") { Description = "Folder of model packages (default: the models folder next to this tool)" };
        var command = new Command("eval", "Evaluate the model packages on a labelled DICOM folder: AUC, sensitivity/specificity, ECE, latency") { folder, predictions, model, models };
        command.SetAction((parse, cancellationToken) => Task.FromResult(Run(
            parse.GetValue(folder)!, parse.GetValue(predictions), parse.GetValue(model), parse.GetValue(models), cancellationToken)));
        return command;
    }

    private static int Run(string folder, string? predictionsPath, string? modelId, string? modelsDirectory, CancellationToken cancellationToken)
    {
        try
        {
            return Evaluate(folder, predictionsPath, modelId, modelsDirectory, cancellationToken);
        }
        catch (EvalException ex)
        {
            return Fail(ex.Message);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Fail(ex.Message);
        }
    }

    private static int Evaluate(string folder, string? predictionsPath, string? modelId, string? modelsDirectory, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(folder))
        {
            throw new EvalException($"folder '{folder}' does not exist");
        }
        var cases = ReadLabels(Path.Combine(folder, "labels.csv"));
        var options = new InferenceOptions
        {
            ModelsDirectory = Path.GetFullPath(modelsDirectory ?? InferenceOptions.DefaultModelsDirectory, AppContext.BaseDirectory),
            ExecutionProviders = [ExecutionProviderNames.Cpu],
        };
        var loader = new ModelPackageLoader(Options.Create(options), new Preprocessor(), NullLogger<ModelPackageLoader>.Instance);
        var loaded = loader.LoadAll(cancellationToken);
        try
        {
            foreach (var error in loaded.Errors)
            {
                Console.Error.WriteLine($"warning: package {error.Package} refused: {error.Reason}");
            }
            var selected = loaded.Models.Where(m => modelId is null || m.Id == modelId).ToList();
            if (selected.Count == 0)
            {
                throw new EvalException(modelId is null ? $"no usable model package in '{options.ModelsDirectory}'" : $"model '{modelId}' is not among the usable packages in '{options.ModelsDirectory}'");
            }

            var results = selected.ToDictionary(m => m, _ => new List<(string File, int Label, double Probability, double LatencyMs)>());
            var threshold = selected.ToDictionary(m => m, m => m.Labels[0].Threshold);
            foreach (var (file, label) in cases)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var path = Path.Combine(folder, file);
                // Timed from the file on disk to the probability, as the appliance processes an instance.
                var started = Stopwatch.GetTimestamp();
                string? modality;
                GrayscaleImage image;
                try
                {
                    var dicom = DicomFile.Open(path);
                    modality = dicom.Dataset.GetStringOrDefault(DicomTags.Modality);
                    image = InstanceProcessor.LoadImage(dicom);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    throw new EvalException($"{file}: {ex.Message}");
                }
                var decodeMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                foreach (var model in selected)
                {
                    if (modelId is null && !model.AppliesTo(modality))
                    {
                        continue;
                    }
                    started = Stopwatch.GetTimestamp();
                    var probability = model.Predict(image).Outputs[0].Probability;
                    results[model].Add((file, label, probability, decodeMs + Stopwatch.GetElapsedTime(started).TotalMilliseconds));
                }
            }

            var csv = predictionsPath is null ? null : new StringBuilder("file,label,model,version,probability,threshold,positive,latency_ms\n");
            foreach (var model in selected)
            {
                var rows = results[model];
                if (rows.Count == 0)
                {
                    Console.WriteLine($"{model.Id} {model.Version}: no file in the folder is routed to this model");
                    continue;
                }
                var labels = rows.Select(r => r.Label).ToArray();
                var probabilities = rows.Select(r => r.Probability).ToArray();
                var latencies = rows.Select(r => r.LatencyMs).ToArray();
                var (sensitivity, specificity) = EvaluationMetrics.SensitivitySpecificity(labels, probabilities, threshold[model]);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{model.Id} {model.Version} ({model.Labels[0].Name}, sha256 {model.Sha256[..12]}, {model.ExecutionProvider}): n={rows.Count} positives={labels.Count(l => l != 0)}"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  auc={EvaluationMetrics.Auc(labels, probabilities):F4} threshold={threshold[model]:F6} sensitivity={sensitivity:F4} specificity={specificity:F4} ece10={EvaluationMetrics.ExpectedCalibrationError(labels, probabilities):F4}"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  latency_ms p50={EvaluationMetrics.Percentile(latencies, 50):F2} p99={EvaluationMetrics.Percentile(latencies, 99):F2}"));
                foreach (var row in rows)
                {
                    csv?.Append(string.Create(CultureInfo.InvariantCulture,
                        $"{Csv(row.File)},{row.Label},{model.Id},{Csv(model.Version)},{row.Probability:R},{threshold[model]:R},{(row.Probability >= threshold[model] ? 1 : 0)},{row.LatencyMs:F3}\n"));
                }
            }
            if (csv is not null)
            {
                File.WriteAllText(predictionsPath!, csv.ToString());
            }
            return 0;
        }
        finally
        {
            foreach (var model in loaded.Models)
            {
                model.Dispose();
            }
        }
    }

    private static List<(string File, int Label)> ReadLabels(string path)
    {
        if (!File.Exists(path))
        {
            throw new EvalException($"'{path}' does not exist (columns file,label)");
        }
        var lines = File.ReadAllLines(path).Where(l => !string.IsNullOrWhiteSpace(l)).ToList();
        if (lines.Count == 0 || !lines[0].Trim().Equals("file,label", StringComparison.OrdinalIgnoreCase))
        {
            throw new EvalException($"'{path}' must start with the header 'file,label'");
        }
        var cases = new List<(string, int)>(lines.Count - 1);
        for (var i = 1; i < lines.Count; i++)
        {
            var comma = lines[i].LastIndexOf(',');
            var file = comma <= 0 ? string.Empty : lines[i][..comma].Trim().Trim('"');
            var label = comma < 0 ? string.Empty : lines[i][(comma + 1)..].Trim();
            if (file.Length == 0 || label is not ("0" or "1"))
            {
                throw new EvalException($"'{path}' line {i + 1}: expected 'file,label' with label 0 or 1, got '{lines[i]}'");
            }
            if (Path.IsPathRooted(file) || file.Split('/', '\\').Contains(".."))
            {
                throw new EvalException($"'{path}' line {i + 1}: '{file}' must be a path inside the folder");
            }
            cases.Add((file, label == "1" ? 1 : 0));
        }
        if (cases.Count == 0)
        {
            throw new EvalException($"'{path}' lists no file");
        }
        return cases;
    }

    private static string Csv(string value) =>
        value.AsSpan().IndexOfAny(",\"\n") < 0 ? value : "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return 1;
    }

    private sealed class EvalException(string message) : Exception(message);
}
