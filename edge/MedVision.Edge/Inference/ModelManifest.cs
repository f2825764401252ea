using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace MedVision.Edge.Inference;

/// <summary>
/// <c>manifest.json</c> of a model package (schema 1, snake_case). Required members are constructor parameters
/// so a manifest missing one fails to parse with the member named, instead of loading half-empty.
/// </summary>
public sealed partial record ModelManifest(
    int Schema,
    string Id,
    string Version,
    string File,
    string Sha256,
    AppliesToSpec AppliesTo,
    InputSpec Input,
    PreprocessingSpec Preprocessing,
    IReadOnlyList<OutputSpec> Outputs,
    IReadOnlyList<LabelSpec> Labels,
    string? Description = null,
    CalibrationSpec? Calibration = null,
    JsonElement? Training = null,
    JsonElement? Metrics = null,
    IReadOnlyList<GoldenSample>? Golden = null)
{
    public const string FileName = "manifest.json";

    public const int SupportedSchema = 1;

    /// <summary>Read-only (frozen at creation), so sharing it cannot leak settings between callers.</summary>
    public static JsonSerializerOptions SerializerOptions { get; } = CreateSerializerOptions();

    /// <summary>Parses a manifest; throws <see cref="JsonException"/> when it is malformed or incomplete.</summary>
    public static ModelManifest Parse(ReadOnlySpan<byte> utf8Json) =>
        JsonSerializer.Deserialize<ModelManifest>(utf8Json, SerializerOptions)
        ?? throw new JsonException("Manifest is JSON null.");

    /// <summary>Every inconsistency in the manifest itself (the ONNX file is checked against it later).</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Schema != SupportedSchema)
        {
            errors.Add($"schema {Schema} is not supported (expected {SupportedSchema})");
        }
        if (!IdPattern().IsMatch(Id))
        {
            errors.Add($"id '{Id}' must be lower-case letters, digits, '.', '-' or '_'");
        }
        if (string.IsNullOrWhiteSpace(Version))
        {
            errors.Add("version is empty");
        }
        // The file must sit inside the package: a path here could make the loader hash and run anything.
        if (string.IsNullOrWhiteSpace(File) || File != Path.GetFileName(File) || File is "." or "..")
        {
            errors.Add($"file '{File}' must be a plain file name inside the package");
        }
        if (!Sha256Pattern().IsMatch(Sha256))
        {
            errors.Add("sha256 must be 64 hexadecimal digits");
        }
        if (AppliesTo.Modalities.Count == 0 || AppliesTo.Modalities.Any(string.IsNullOrWhiteSpace))
        {
            // A model without declared modalities would be offered every image the appliance receives.
            errors.Add("applies_to.modalities must list at least one modality");
        }

        if (Input.Dtype != "float32")
        {
            errors.Add($"input.dtype '{Input.Dtype}' is not supported (float32 only)");
        }
        if (Input.Layout != "NCHW")
        {
            errors.Add($"input.layout '{Input.Layout}' is not supported (NCHW only)");
        }
        if (Input.Shape.Count != 4)
        {
            errors.Add($"input.shape must have 4 dimensions, has {Input.Shape.Count}");
        }
        else
        {
            if (Input.Shape[0] is not (-1 or 1))
            {
                errors.Add($"input.shape batch dimension must be -1 or 1, is {Input.Shape[0]}");
            }
            if (Input.Shape[1] != 1)
            {
                errors.Add($"input.shape channel dimension must be 1 (grayscale), is {Input.Shape[1]}");
            }
            if (Input.Shape[2] != Preprocessing.Resize.Height || Input.Shape[3] != Preprocessing.Resize.Width)
            {
                errors.Add($"input.shape {Input.Shape[2]}x{Input.Shape[3]} (HxW) disagrees with preprocessing.resize "
                    + $"{Preprocessing.Resize.Height}x{Preprocessing.Resize.Width}");
            }
        }

        if (Preprocessing.Photometric is not (Photometric.Monochrome1 or Photometric.Monochrome2))
        {
            errors.Add($"preprocessing.photometric '{Preprocessing.Photometric}' must be MONOCHROME1 or MONOCHROME2");
        }
        if (Preprocessing.Resize.Method != "area")
        {
            errors.Add($"preprocessing.resize.method '{Preprocessing.Resize.Method}' is not supported (area only)");
        }
        if (Preprocessing.Resize.Width <= 0 || Preprocessing.Resize.Height <= 0)
        {
            errors.Add("preprocessing.resize width and height must be positive");
        }
        if (Preprocessing.Intensity != "minmax")
        {
            errors.Add($"preprocessing.intensity '{Preprocessing.Intensity}' is not supported (minmax only)");
        }
        if (Preprocessing.Normalize.Mean.Count != 1 || Preprocessing.Normalize.Std.Count != 1)
        {
            errors.Add("preprocessing.normalize mean and std must have one value each (one channel)");
        }
        else if (Preprocessing.Normalize.Std[0] == 0 || !float.IsFinite(Preprocessing.Normalize.Std[0])
            || !float.IsFinite(Preprocessing.Normalize.Mean[0]))
        {
            errors.Add("preprocessing.normalize std must be finite and non-zero, mean finite");
        }

        var labelNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var label in Labels)
        {
            if (string.IsNullOrWhiteSpace(label.Name) || !labelNames.Add(label.Name))
            {
                errors.Add($"label '{label.Name}' is empty or listed twice");
            }
            if (label.Threshold is < 0 or > 1 || double.IsNaN(label.Threshold))
            {
                errors.Add($"label '{label.Name}' threshold {label.Threshold} is outside [0, 1]");
            }
            if (label.Coding is { } coding
                && (string.IsNullOrWhiteSpace(coding.System) || string.IsNullOrWhiteSpace(coding.Code) || string.IsNullOrWhiteSpace(coding.Display)))
            {
                // The code goes into SR and FHIR outputs as it is: half a coding would make them invalid.
                errors.Add($"label '{label.Name}' coding needs system, code and display");
            }
        }
        if (Outputs.Count == 0)
        {
            errors.Add("outputs is empty");
        }
        var produced = new HashSet<string>(StringComparer.Ordinal);
        foreach (var output in Outputs)
        {
            if (output.Kind == OutputKinds.Cam)
            {
                if (output.Shape is { } shape && (shape.Count != 4 || shape[1] != output.Labels.Count || shape[2] <= 0 || shape[3] <= 0))
                {
                    errors.Add($"cam output '{output.Name}' shape must be [N, {output.Labels.Count} (one map per label), h, w]");
                }
                // A heat map explains labels that a score output produces; it produces none itself.
                foreach (var label in output.Labels.Where(l => !labelNames.Contains(l)))
                {
                    errors.Add($"cam output '{output.Name}' label '{label}' is not in labels");
                }
                continue;
            }
            if (output.Kind is not (OutputKinds.Probability or OutputKinds.Logit))
            {
                errors.Add($"output '{output.Name}' kind '{output.Kind}' must be probability, logit or cam");
            }
            if (output.Labels.Count == 0)
            {
                errors.Add($"output '{output.Name}' names no labels");
            }
            foreach (var label in output.Labels)
            {
                if (!labelNames.Contains(label))
                {
                    errors.Add($"output '{output.Name}' label '{label}' is not in labels");
                }
                if (!produced.Add(label))
                {
                    errors.Add($"label '{label}' is produced by more than one output");
                }
            }
            if (output.Kind == OutputKinds.Logit && Calibration is { Method: "temperature", Temperature: not > 0 })
            {
                errors.Add("calibration.temperature must be positive");
            }
        }
        foreach (var label in labelNames.Where(l => !produced.Contains(l)))
        {
            errors.Add($"label '{label}' is produced by no output");
        }
        return errors;
    }

    private static JsonSerializerOptions CreateSerializerOptions()
    {
        var options = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            RespectNullableAnnotations = true,
            RespectRequiredConstructorParameters = true,
            ReadCommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
            NumberHandling = JsonNumberHandling.Strict,
        };
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]*$")]
    private static partial Regex IdPattern();

    [GeneratedRegex("^[0-9a-fA-F]{64}$")]
    private static partial Regex Sha256Pattern();
}

/// <summary>
/// Which instances a model is offered (applies_to). Every list but <see cref="Modalities"/> is optional; an empty or absent list
/// accepts anything. See <see cref="ModelRouter"/> for how an instance is matched.
/// </summary>
public sealed record AppliesToSpec(
    IReadOnlyList<string> Modalities,
    IReadOnlyList<string>? BodyParts = null,
    IReadOnlyList<string>? SopClasses = null,
    IReadOnlyList<string>? Views = null,
    IReadOnlyList<string>? PhotometricInterpretations = null,
    int? MinRows = null,
    int? MinColumns = null);

public sealed record InputSpec(string Name, IReadOnlyList<long> Shape, string Dtype, string Layout);

public sealed record PreprocessingSpec(string Photometric, ResizeSpec Resize, string Intensity, NormalizeSpec Normalize);

public sealed record ResizeSpec(int Width, int Height, string Method);

public sealed record NormalizeSpec(IReadOnlyList<float> Mean, IReadOnlyList<float> Std);

/// <summary>An output of the graph; <see cref="Shape"/> and <see cref="Normalization"/> describe <c>cam</c> outputs.</summary>
public sealed record OutputSpec(string Name, string Kind, IReadOnlyList<string> Labels, IReadOnlyList<long>? Shape = null, string? Normalization = null);

public sealed record LabelSpec(string Name, double Threshold, string? Display = null, double? HighSensitivityThreshold = null, CodingSpec? Coding = null);

/// <summary>The label's concept in a terminology (FHIR-style <c>system</c> URI), e.g. SNOMED CT 233604007 "Pneumonia (disorder)".</summary>
public sealed record CodingSpec(string System, string Code, string Display);

public sealed record CalibrationSpec(string Method, double? Temperature = null);

public sealed record GoldenSample(string Split, int Index, double Probability, int? Label = null);

/// <summary>Values of <c>outputs[].kind</c>.</summary>
public static class OutputKinds
{
    /// <summary>The graph already ends in a (calibrated) sigmoid: values are used as they are.</summary>
    public const string Probability = "probability";

    /// <summary>Raw logits: the appliance applies the manifest's temperature, then a sigmoid.</summary>
    public const string Logit = "logit";

    /// <summary>Class activation map [N, 1, h, w] in [0, 1] for heat maps; not a score, never thresholded.</summary>
    public const string Cam = "cam";

    /// <summary>Kinds that carry one score per label (as opposed to <see cref="Cam"/>).</summary>
    public static bool IsScore(string kind) => kind is Probability or Logit;
}

/// <summary>Values of <c>preprocessing.photometric</c>: which way round the model wants its grey scale.</summary>
public static class Photometric
{
    public const string Monochrome1 = "MONOCHROME1";
    public const string Monochrome2 = "MONOCHROME2";
}
