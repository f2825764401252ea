using Microsoft.Extensions.Options;

namespace MedVision.Edge.Inference;

/// <summary>Section <c>MedVision:Inference</c>: which model packages to load and where to run them.</summary>
public sealed class InferenceOptions
{
    public const string Section = "MedVision:Inference";

    /// <summary>Relative to <see cref="AppContext.BaseDirectory"/>, where the build copies the shipped packages.</summary>
    public const string DefaultModelsDirectory = "models";

    public const string DefaultExecutionProvider = ExecutionProviderNames.Cpu;

    /// <summary>One thread per session keeps inference from starving the DICOM listener on a small box.</summary>
    public const int DefaultIntraOpThreads = 1;

    /// <summary>Folder with one sub-folder per model package; made absolute at start-up.</summary>
    public string ModelsDirectory { get; set; } = DefaultModelsDirectory;

    /// <summary>
    /// Execution providers to try, in order (TensorRT, CUDA, OpenVINO, CPU); CPU is always the last resort.
    /// Empty means [CPU]. The default is applied after binding because the configuration binder appends to
    /// a pre-filled list instead of replacing it.
    /// </summary>
    public List<string> ExecutionProviders { get; set; } = [];

    /// <summary>ONNX Runtime intra-op threads per session; 0 lets ONNX Runtime use every core.</summary>
    public int IntraOpThreads { get; set; } = DefaultIntraOpThreads;

    /// <summary>
    /// Public keys (ECDSA P-256) whose package signatures (<c>manifest.sig</c>) are trusted: each entry is PEM text,
    /// base64 of the DER SubjectPublicKeyInfo, or a file path (relative to <see cref="AppContext.BaseDirectory"/>).
    /// Empty means the development key the build copies to <see cref="ModelSignature.DevelopmentPublicKeyPath"/>,
    /// which signs the repository's packages; production sites list their own key here.
    /// </summary>
    public List<string> SigningPublicKeys { get; set; } = [];

    /// <summary>
    /// Site-specific decision thresholds, keyed <c>modelId</c> then <c>label</c>: the configuration key
    /// <c>MedVision:Inference:ThresholdOverrides:cxr-pneumonia:pneumonia</c> (environment variable
    /// <c>MEDVISION__INFERENCE__THRESHOLDOVERRIDES__cxr-pneumonia__pneumonia</c>) overrides label
    /// <c>pneumonia</c> of model <c>cxr-pneumonia</c>. A flat "modelId:label" key would be split at the colon
    /// by every configuration provider anyway, hence the nesting.
    /// </summary>
    public Dictionary<string, Dictionary<string, double>> ThresholdOverrides { get; set; } =
        new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Site routing overrides keyed by model id (<c>MedVision:Inference:Routing:cxr-pneumonia:BodyParts:0=CHEST</c>,
    /// <c>…:Enabled=false</c>): lists set here replace the package's applies_to lists. See <see cref="ModelRouter"/>.
    /// </summary>
    public Dictionary<string, ModelRoutingOverride> Routing { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The configured override for a model's label, if any.</summary>
    public double? ThresholdOverrideFor(string modelId, string label)
    {
        foreach (var (model, labels) in ThresholdOverrides)
        {
            if (!model.Equals(modelId, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            foreach (var (name, threshold) in labels)
            {
                if (name.Equals(label, StringComparison.OrdinalIgnoreCase))
                {
                    return threshold;
                }
            }
        }
        return null;
    }
}

/// <summary>Execution provider names accepted in <see cref="InferenceOptions.ExecutionProviders"/>.</summary>
public static class ExecutionProviderNames
{
    public const string TensorRT = "TensorRT";
    public const string Cuda = "CUDA";
    public const string OpenVino = "OpenVINO";
    public const string Cpu = "CPU";

    public static IReadOnlyList<string> All { get; } = [TensorRT, Cuda, OpenVino, Cpu];

    /// <summary>The canonical spelling of <paramref name="name"/>, or null when it is not a supported provider.</summary>
    public static string? Canonical(string? name) =>
        All.FirstOrDefault(p => p.Equals(name?.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>ONNX Runtime's own name, as <c>OrtEnv.GetAvailableProviders()</c> lists it.</summary>
    public static string OrtName(string provider) => provider switch
    {
        TensorRT => "TensorrtExecutionProvider",
        Cuda => "CUDAExecutionProvider",
        OpenVino => "OpenVINOExecutionProvider",
        _ => "CPUExecutionProvider",
    };
}

/// <summary>Resolves the models folder and the provider list once, before validation.</summary>
internal sealed class InferenceOptionsSetup : IPostConfigureOptions<InferenceOptions>
{
    public void PostConfigure(string? name, InferenceOptions options)
    {
        if (!string.IsNullOrWhiteSpace(options.ModelsDirectory))
        {
            options.ModelsDirectory = Path.GetFullPath(options.ModelsDirectory, AppContext.BaseDirectory);
        }
        if (options.ExecutionProviders.Count == 0)
        {
            options.ExecutionProviders.Add(InferenceOptions.DefaultExecutionProvider);
        }
        for (var i = 0; i < options.ExecutionProviders.Count; i++)
        {
            options.ExecutionProviders[i] = ExecutionProviderNames.Canonical(options.ExecutionProviders[i]) ?? options.ExecutionProviders[i];
        }
    }
}

/// <summary>Collects every problem in the inference section, then fails start-up with all of them.</summary>
internal sealed class InferenceOptionsValidator : IValidateOptions<InferenceOptions>
{
    public ValidateOptionsResult Validate(string? name, InferenceOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ModelsDirectory))
        {
            errors.Add($"{InferenceOptions.Section}:ModelsDirectory must not be empty.");
        }
        foreach (var provider in options.ExecutionProviders)
        {
            if (ExecutionProviderNames.Canonical(provider) is null)
            {
                errors.Add($"{InferenceOptions.Section}:ExecutionProviders '{provider}' is not one of {string.Join(", ", ExecutionProviderNames.All)}.");
            }
        }
        if (options.IntraOpThreads is < 0 or > 256)
        {
            errors.Add($"{InferenceOptions.Section}:IntraOpThreads must be 0-256 (was {options.IntraOpThreads}).");
        }
        for (var i = 0; i < options.SigningPublicKeys.Count; i++)
        {
            try
            {
                using var key = ModelSignature.ReadPublicKey(options.SigningPublicKeys[i], AppContext.BaseDirectory);
            }
            catch (FormatException ex)
            {
                errors.Add($"{InferenceOptions.Section}:SigningPublicKeys:{i} is not a usable ECDSA P-256 public key: {ex.Message}.");
            }
        }
        foreach (var (model, labels) in options.ThresholdOverrides)
        {
            foreach (var (label, threshold) in labels)
            {
                if (threshold is < 0 or > 1 || double.IsNaN(threshold))
                {
                    errors.Add($"{InferenceOptions.Section}:ThresholdOverrides:{model}:{label} must be within [0, 1] (was {threshold}).");
                }
            }
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
