using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SessionOptions = Microsoft.ML.OnnxRuntime.SessionOptions;

namespace MedVision.Edge.Inference;

/// <summary>
/// Loads model packages (a folder with <c>manifest.json</c>, its detached signature <c>manifest.sig</c> and the
/// ONNX file it names) and refuses any that cannot be trusted: missing or bad signature, bad manifest, missing
/// file, SHA-256 mismatch, or a graph whose input/outputs disagree with the manifest. A refused package is
/// reported and skipped; it never stops the other packages or the host.
/// </summary>
public sealed class ModelPackageLoader(
    IOptions<InferenceOptions> options,
    Preprocessor preprocessor,
    ILogger<ModelPackageLoader> logger)
{
    private readonly InferenceOptions _options = options.Value;
    private readonly ModelSignatureVerifier _signatures = new(options.Value);

    /// <summary>Loads every package under <see cref="InferenceOptions.ModelsDirectory"/>.</summary>
    public ModelLoadResult LoadAll(CancellationToken cancellationToken) => LoadAll(_options.ModelsDirectory, cancellationToken);

    /// <summary>Loads every package folder directly under <paramref name="modelsDirectory"/>, in name order.</summary>
    public ModelLoadResult LoadAll(string modelsDirectory, CancellationToken cancellationToken)
    {
        var models = new List<LoadedModel>();
        var errors = new List<ModelLoadError>();
        if (!Directory.Exists(modelsDirectory))
        {
            InferenceLog.NoModelsDirectory(logger, modelsDirectory);
            errors.Add(new ModelLoadError("(models directory)", modelsDirectory, $"Models directory '{modelsDirectory}' does not exist."));
            return new ModelLoadResult(models, errors);
        }

        LogTrustedKeys();
        foreach (var packageDirectory in Directory.GetDirectories(modelsDirectory).Order(StringComparer.Ordinal))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var package = Path.GetFileName(packageDirectory);
            try
            {
                var model = LoadPackage(packageDirectory, cancellationToken);
                if (models.Any(m => m.Id == model.Id))
                {
                    model.Dispose();
                    throw new ModelPackageException($"another package already provides model id '{model.Id}'");
                }
                models.Add(model);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                var reason = ex is ModelPackageException ? ex.Message : $"{ex.GetType().Name}: {ex.Message}";
                InferenceLog.PackageRefused(logger, package, packageDirectory, reason, ex is ModelPackageException ? null : ex);
                errors.Add(new ModelLoadError(package, packageDirectory, reason));
            }
        }

        InferenceLog.LoadSummary(logger, models.Count, errors.Count, modelsDirectory);
        return new ModelLoadResult(models, errors);
    }

    /// <summary>Loads and verifies one package; throws <see cref="ModelPackageException"/> saying why it is refused.</summary>
    public LoadedModel LoadPackage(string packageDirectory, CancellationToken cancellationToken)
    {
        var manifestPath = Path.Combine(packageDirectory, ModelManifest.FileName);
        if (!File.Exists(manifestPath))
        {
            throw new ModelPackageException($"{ModelManifest.FileName} is missing");
        }

        // Verify first, then parse the very bytes that were verified: nothing in an unsigned or altered
        // manifest (file name, hash, thresholds) is acted on.
        var manifestBytes = File.ReadAllBytes(manifestPath);
        var signer = _signatures.Verify(packageDirectory, manifestBytes);

        ModelManifest manifest;
        try
        {
            manifest = ModelManifest.Parse(manifestBytes);
        }
        catch (JsonException ex)
        {
            throw new ModelPackageException($"{ModelManifest.FileName} is not a valid manifest: {ex.Message}", ex);
        }
        var problems = manifest.Validate();
        if (problems.Count > 0)
        {
            throw new ModelPackageException($"{ModelManifest.FileName} is inconsistent: {string.Join("; ", problems)}");
        }

        var modelPath = Path.Combine(packageDirectory, manifest.File);
        if (!File.Exists(modelPath))
        {
            throw new ModelPackageException($"model file '{manifest.File}' named by the manifest is missing");
        }
        cancellationToken.ThrowIfCancellationRequested();

        // Hash the very bytes the session is built from: hashing the file and then letting ONNX Runtime
        // re-read it would leave a window in which a swapped file runs unverified.
        var modelBytes = File.ReadAllBytes(modelPath);
        var actualSha = Convert.ToHexStringLower(SHA256.HashData(modelBytes));
        if (!actualSha.Equals(manifest.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new ModelPackageException(
                $"sha256 of '{manifest.File}' is {actualSha}, the manifest says {manifest.Sha256.ToLowerInvariant()}: the file is corrupt or was altered");
        }

        var (session, sessionOptions, provider) = CreateSession(manifest.Id, modelBytes);
        LoadedModel? model = null;
        try
        {
            CheckGraphAgainstManifest(session, manifest);
            model = new LoadedModel(manifest, packageDirectory, session, sessionOptions, provider, ResolveLabels(manifest), preprocessor);
            // Warm-up: the first run allocates arenas and may compile kernels; do it now, not on a patient's image.
            model.Run(new float[model.InputLength]);
        }
        catch (Exception ex)
        {
            if (model is not null)
            {
                model.Dispose();
            }
            else
            {
                session.Dispose();
                sessionOptions.Dispose();
            }
            throw ex is ModelPackageException ? ex : new ModelPackageException($"warm-up run failed: {ex.Message}", ex);
        }

        InferenceLog.ModelLoaded(logger, model.Id, model.Version, model.Sha256, model.ExecutionProvider, packageDirectory,
            string.Join(",", manifest.AppliesTo.Modalities));
        InferenceLog.SignatureVerified(logger, model.Id, signer.Fingerprint, signer.Source);
        return model;
    }

    private void LogTrustedKeys()
    {
        foreach (var key in _signatures.Keys)
        {
            InferenceLog.TrustedSigningKey(logger, key.Fingerprint, key.Source);
        }
        foreach (var error in _signatures.KeyErrors)
        {
            InferenceLog.SigningKeyUnreadable(logger, error);
        }
        if (_signatures.UsesDevelopmentKey)
        {
            InferenceLog.DevelopmentSigningKey(logger, ModelSignature.DevelopmentPublicKeyPath);
        }
    }

    /// <summary>
    /// Tries the configured execution providers in order and falls back, logging why, until CPU.
    /// </summary>
    private (InferenceSession Session, SessionOptions Options, string Provider) CreateSession(string modelId, byte[] modelBytes)
    {
        var available = OrtEnv.Instance().GetAvailableProviders();
        var candidates = _options.ExecutionProviders
            .Select(p => ExecutionProviderNames.Canonical(p) ?? p)
            .Append(ExecutionProviderNames.Cpu)
            .Distinct(StringComparer.Ordinal)
            .ToList();

        foreach (var provider in candidates)
        {
            if (provider != ExecutionProviderNames.Cpu && !available.Contains(ExecutionProviderNames.OrtName(provider)))
            {
                InferenceLog.ProviderFallback(logger, modelId, provider,
                    $"not in this ONNX Runtime build (available: {string.Join(", ", available)})");
                continue;
            }

            var sessionOptions = CreateSessionOptions(modelId);
            try
            {
                AppendProvider(sessionOptions, provider);
                return (new InferenceSession(modelBytes, sessionOptions), sessionOptions, provider);
            }
            catch (Exception ex) when (provider != ExecutionProviderNames.Cpu)
            {
                // Typical on an appliance: a GPU build whose CUDA/cuDNN libraries or driver are absent.
                sessionOptions.Dispose();
                InferenceLog.ProviderFallback(logger, modelId, provider, ex.Message);
            }
            catch (Exception ex)
            {
                sessionOptions.Dispose();
                throw new ModelPackageException($"ONNX Runtime could not load the model: {ex.Message}", ex);
            }
        }
        throw new ModelPackageException("no execution provider could be used");
    }

    private SessionOptions CreateSessionOptions(string modelId)
    {
        var sessionOptions = new SessionOptions
        {
            LogId = modelId,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = _options.IntraOpThreads,
            InterOpNumThreads = 1,
        };
        return sessionOptions;
    }

    private static void AppendProvider(SessionOptions sessionOptions, string provider)
    {
        switch (provider)
        {
            case ExecutionProviderNames.TensorRT:
                sessionOptions.AppendExecutionProvider_Tensorrt(0);
                // Nodes TensorRT cannot take go to CUDA rather than all the way back to CPU.
                sessionOptions.AppendExecutionProvider_CUDA(0);
                break;
            case ExecutionProviderNames.Cuda:
                sessionOptions.AppendExecutionProvider_CUDA(0);
                break;
            case ExecutionProviderNames.OpenVino:
                sessionOptions.AppendExecutionProvider("OpenVINO", new Dictionary<string, string> { ["device_type"] = "CPU" });
                break;
            case ExecutionProviderNames.Cpu:
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(provider), provider, "Unknown execution provider.");
        }
    }

    /// <summary>The manifest describes the graph; a package whose graph says otherwise is not the one that was validated.</summary>
    private static void CheckGraphAgainstManifest(InferenceSession session, ModelManifest manifest)
    {
        var inputs = session.InputMetadata;
        if (inputs.Count != 1 || !inputs.TryGetValue(manifest.Input.Name, out var input))
        {
            throw new ModelPackageException(
                $"input spec mismatch: manifest input '{manifest.Input.Name}', graph inputs [{string.Join(", ", inputs.Keys)}]");
        }
        if (!input.IsTensor || input.ElementDataType != TensorElementType.Float)
        {
            throw new ModelPackageException(
                $"input spec mismatch: graph input '{manifest.Input.Name}' is {input.ElementDataType}, manifest says float32");
        }
        var dims = input.Dimensions;
        var expected = manifest.Input.Shape;
        var shapeMatches = dims.Length == expected.Count;
        for (var i = 0; shapeMatches && i < dims.Length; i++)
        {
            // We always feed batch 1 and the manifest's C, H, W (validated as fixed); -1 in the graph is dynamic.
            shapeMatches = i == 0 ? dims[0] is -1 or 1 : dims[i] == -1 || dims[i] == expected[i];
        }
        if (!shapeMatches)
        {
            throw new ModelPackageException(
                $"input spec mismatch: graph input shape [{string.Join(", ", dims)}], manifest [{string.Join(", ", expected)}]");
        }

        foreach (var output in manifest.Outputs)
        {
            if (!session.OutputMetadata.TryGetValue(output.Name, out var meta))
            {
                throw new ModelPackageException(
                    $"output spec mismatch: graph has no output '{output.Name}' (outputs: {string.Join(", ", session.OutputMetadata.Keys)})");
            }
            if (!meta.IsTensor || meta.ElementDataType != TensorElementType.Float)
            {
                throw new ModelPackageException($"output spec mismatch: graph output '{output.Name}' is {meta.ElementDataType}, not float32");
            }
            if (output.Kind == OutputKinds.Cam)
            {
                // A heat map is one grey plane per image: [N, 1, h, w].
                if (meta.Dimensions.Length != 4 || meta.Dimensions[1] is not (1 or -1))
                {
                    throw new ModelPackageException(
                        $"output spec mismatch: cam output '{output.Name}' has shape [{string.Join(", ", meta.Dimensions)}], expected [N, 1, h, w]");
                }
                continue;
            }
            var perImage = meta.Dimensions.Skip(1).ToArray();
            if (perImage.All(d => d > 0) && perImage.Aggregate(1L, (a, d) => a * d) != output.Labels.Count)
            {
                throw new ModelPackageException(
                    $"output spec mismatch: graph output '{output.Name}' has shape [{string.Join(", ", meta.Dimensions)}] for {output.Labels.Count} label(s)");
            }
        }
    }

    private List<ModelLabel> ResolveLabels(ModelManifest manifest)
    {
        var labels = new List<ModelLabel>(manifest.Labels.Count);
        foreach (var label in manifest.Labels)
        {
            var threshold = label.Threshold;
            if (_options.ThresholdOverrideFor(manifest.Id, label.Name) is { } configured)
            {
                InferenceLog.ThresholdOverridden(logger, manifest.Id, label.Name, configured, label.Threshold);
                threshold = configured;
            }
            labels.Add(new ModelLabel(label.Name, label.Display ?? label.Name, threshold, label.Threshold, label.Coding));
        }
        return labels;
    }
}

/// <summary>What a load pass produced: the usable models and, per refused package, why.</summary>
public sealed record ModelLoadResult(IReadOnlyList<LoadedModel> Models, IReadOnlyList<ModelLoadError> Errors);

/// <summary>A refused package, as /healthz reports it.</summary>
public sealed record ModelLoadError(string Package, string Directory, string Reason);

/// <summary>A model package that must not be used; the message says why.</summary>
public sealed class ModelPackageException : Exception
{
    public ModelPackageException(string message)
        : base(message)
    {
    }

    public ModelPackageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
