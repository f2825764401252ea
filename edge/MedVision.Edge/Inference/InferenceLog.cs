namespace MedVision.Edge.Inference;

/// <summary>Inference log messages; event ids 2100-2199.</summary>
internal static partial class InferenceLog
{
    [LoggerMessage(EventId = 2100, Level = LogLevel.Information, Message = "Loaded model {ModelId} {ModelVersion} (sha256 {Sha256}) on {ExecutionProvider} from {PackageDirectory}; modalities {Modalities}")]
    public static partial void ModelLoaded(ILogger logger, string modelId, string modelVersion, string sha256, string executionProvider, string packageDirectory, string modalities);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Error, Message = "Model package {Package} at {PackageDirectory} refused: {Reason}")]
    public static partial void PackageRefused(ILogger logger, string package, string packageDirectory, string reason, Exception? exception);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Warning, Message = "Model {ModelId}: execution provider {Requested} unavailable, falling back: {Reason}")]
    public static partial void ProviderFallback(ILogger logger, string modelId, string requested, string reason);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Warning, Message = "Models directory {ModelsDirectory} does not exist; no models loaded")]
    public static partial void NoModelsDirectory(ILogger logger, string modelsDirectory);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Information, Message = "{Loaded} model(s) loaded, {Refused} package(s) refused from {ModelsDirectory}")]
    public static partial void LoadSummary(ILogger logger, int loaded, int refused, string modelsDirectory);

    [LoggerMessage(EventId = 2105, Level = LogLevel.Warning, Message = "No model loaded: the appliance will receive and store images but record no findings")]
    public static partial void NoModels(ILogger logger);

    [LoggerMessage(EventId = 2106, Level = LogLevel.Information, Message = "Model {ModelId} label {Label}: threshold {Threshold} from configuration overrides the manifest's {ManifestThreshold}")]
    public static partial void ThresholdOverridden(ILogger logger, string modelId, string label, double threshold, double manifestThreshold);

    [LoggerMessage(EventId = 2107, Level = LogLevel.Information, Message = "Model {ModelId}: manifest signature verified with key {Fingerprint} ({KeySource})")]
    public static partial void SignatureVerified(ILogger logger, string modelId, string fingerprint, string keySource);

    [LoggerMessage(EventId = 2108, Level = LogLevel.Information, Message = "Trusting model signing key {Fingerprint} ({KeySource})")]
    public static partial void TrustedSigningKey(ILogger logger, string fingerprint, string keySource);

    [LoggerMessage(EventId = 2109, Level = LogLevel.Error, Message = "Model signing key unusable: {Reason}")]
    public static partial void SigningKeyUnreadable(ILogger logger, string reason);

    [LoggerMessage(EventId = 2110, Level = LogLevel.Warning, Message = "No MedVision:Inference:SigningPublicKeys configured: trusting the DEVELOPMENT signing key {KeyPath}; configure the site's own public key in production")]
    public static partial void DevelopmentSigningKey(ILogger logger, string keyPath);
}
