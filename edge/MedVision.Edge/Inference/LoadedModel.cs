using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SessionOptions = Microsoft.ML.OnnxRuntime.SessionOptions;

namespace MedVision.Edge.Inference;

/// <summary>
/// A verified model package with its long-lived <see cref="InferenceSession"/>. Thread-safe: ONNX Runtime
/// sessions accept concurrent <c>Run</c> calls.
/// </summary>
public sealed class LoadedModel : IDisposable
{
    private readonly InferenceSession _session;
    private readonly SessionOptions _sessionOptions;
    private readonly Preprocessor _preprocessor;
    private readonly string[] _inputNames;
    private readonly OutputSpec[] _scoreOutputs;
    private readonly string[] _outputNames;
    private readonly OutputSpec[] _camOutputs;
    private readonly string[] _outputNamesWithCam;
    private readonly long[] _inputShape;
    private readonly double _temperature;
    private readonly HashSet<string> _modalities;

    internal LoadedModel(
        ModelManifest manifest,
        string packageDirectory,
        InferenceSession session,
        SessionOptions sessionOptions,
        string executionProvider,
        IReadOnlyList<ModelLabel> labels,
        Preprocessor preprocessor)
    {
        Manifest = manifest;
        PackageDirectory = packageDirectory;
        _session = session;
        _sessionOptions = sessionOptions;
        ExecutionProvider = executionProvider;
        Labels = labels;
        _preprocessor = preprocessor;
        _inputNames = [manifest.Input.Name];
        // Only score outputs become findings; a CAM output is a picture, fetched by whoever draws heat maps.
        _scoreOutputs = manifest.Outputs.Where(o => OutputKinds.IsScore(o.Kind)).ToArray();
        _outputNames = _scoreOutputs.Select(o => o.Name).ToArray();
        _camOutputs = manifest.Outputs.Where(o => o.Kind == OutputKinds.Cam).ToArray();
        // The CAM comes out of the same graph run: asking for it costs a 16x16 copy, not a second inference.
        _outputNamesWithCam = [.. _outputNames, .. _camOutputs.Select(o => o.Name)];
        // Batch of one: the appliance runs instances as they arrive.
        _inputShape = [1, manifest.Input.Shape[1], manifest.Input.Shape[2], manifest.Input.Shape[3]];
        InputLength = checked((int)(_inputShape[1] * _inputShape[2] * _inputShape[3]));
        _temperature = manifest.Calibration is { Method: "temperature", Temperature: > 0 and var t } ? t : 1.0;
        _modalities = new HashSet<string>(manifest.AppliesTo.Modalities, StringComparer.OrdinalIgnoreCase);
    }

    public ModelManifest Manifest { get; }

    public string Id => Manifest.Id;

    public string Version => Manifest.Version;

    /// <summary>Lower-case hex SHA-256 of the ONNX file, verified against the manifest at load.</summary>
    public string Sha256 => Manifest.Sha256.ToLowerInvariant();

    public string PackageDirectory { get; }

    /// <summary>The provider the session was actually created with (TensorRT, CUDA, OpenVINO or CPU).</summary>
    public string ExecutionProvider { get; }

    /// <summary>Labels with their effective decision thresholds (configuration overrides applied).</summary>
    public IReadOnlyList<ModelLabel> Labels { get; }

    /// <summary>Number of floats <see cref="Run"/> expects: C × H × W.</summary>
    public int InputLength { get; }

    public IReadOnlyCollection<string> Modalities => _modalities;

    /// <summary>Whether the package declares a <c>cam</c> output, i.e. <see cref="Predict"/> returns heat maps.</summary>
    public bool HasCam => _camOutputs.Length > 0;

    public bool AppliesTo(string? modality) => modality is not null && _modalities.Contains(modality.Trim());

    /// <summary>
    /// Preprocesses <paramref name="image"/> and runs the model on it; with a <c>cam</c> output the prediction also carries
    /// one class activation map per label (model resolution; the preprocessing resizes the whole image, so it covers the whole image).
    /// </summary>
    public ModelPrediction Predict(GrayscaleImage image) => PredictBatch([image])[0];

    /// <summary>Whether the graph takes a batch dimension (input shape -1 × C × H × W), so several images can share one run.</summary>
    public bool SupportsBatches => Manifest.Input.Shape[0] == -1;

    /// <summary>
    /// Preprocesses every image and runs them through the model in one session run when <see cref="SupportsBatches"/> (else one run
    /// each). The results are those of <see cref="Predict"/> image by image; <see cref="ModelPrediction.InferenceMs"/> is the run's
    /// time shared equally among the images.
    /// </summary>
    public IReadOnlyList<ModelPrediction> PredictBatch(IReadOnlyList<GrayscaleImage> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0)
        {
            return [];
        }
        if (images.Count > 1 && !SupportsBatches)
        {
            return images.Select(image => PredictBatch([image])[0]).ToList();
        }
        var tensor = new float[images.Count * InputLength];
        for (var i = 0; i < images.Count; i++)
        {
            _preprocessor.Preprocess(images[i], Manifest.Preprocessing, tensor.AsSpan(i * InputLength, InputLength));
        }
        var started = Stopwatch.GetTimestamp();
        var items = RunCore(tensor, images.Count, withCam: HasCam);
        var perImage = Stopwatch.GetElapsedTime(started).TotalMilliseconds / images.Count;
        return items.Select(item => new ModelPrediction(this, item.Outputs, perImage, item.Cams)).ToList();
    }

    /// <summary>Runs one preprocessed [1, C, H, W] tensor and returns one result per label (scores only).</summary>
    public IReadOnlyList<ModelOutput> Run(ReadOnlySpan<float> preprocessedTensor) => RunCore(preprocessedTensor, 1, withCam: false)[0].Outputs;

    private (List<ModelOutput> Outputs, List<CamMap>? Cams)[] RunCore(ReadOnlySpan<float> preprocessedTensor, int batch, bool withCam)
    {
        if (preprocessedTensor.Length != batch * InputLength)
        {
            throw new ArgumentException(
                $"Model {Id} expects {batch} x {InputLength} input values ({string.Join('x', _inputShape[1..])} each), got {preprocessedTensor.Length}.",
                nameof(preprocessedTensor));
        }

        // Every native object is disposed here: undisposed OrtValues and result collections are the classic
        // slow native-memory leak of long-running ONNX Runtime hosts.
        using var input = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, [batch, _inputShape[1], _inputShape[2], _inputShape[3]]);
        preprocessedTensor.CopyTo(input.GetTensorMutableDataAsSpan<float>());
        using var runOptions = new RunOptions();
        using var results = _session.Run(runOptions, _inputNames, [input], withCam ? _outputNamesWithCam : _outputNames);

        var items = new (List<ModelOutput> Outputs, List<CamMap>? Cams)[batch];
        for (var b = 0; b < batch; b++)
        {
            items[b] = (new List<ModelOutput>(Labels.Count), withCam ? new List<CamMap>(_camOutputs.Length) : null);
        }
        for (var o = 0; o < _scoreOutputs.Length; o++)
        {
            var spec = _scoreOutputs[o];
            var values = results[o].GetTensorDataAsSpan<float>();
            if (values.Length != batch * spec.Labels.Count)
            {
                throw new InvalidOperationException(
                    $"Model {Id} output '{spec.Name}' returned {values.Length} values for {batch} image(s) x {spec.Labels.Count} label(s).");
            }
            for (var b = 0; b < batch; b++)
            {
                for (var i = 0; i < spec.Labels.Count; i++)
                {
                    var value = values[b * spec.Labels.Count + i];
                    double probability = spec.Kind == OutputKinds.Logit
                        ? 1.0 / (1.0 + Math.Exp(-value / _temperature))
                        : value;
                    var label = Labels.First(l => l.Name == spec.Labels[i]);
                    items[b].Outputs.Add(new ModelOutput(label.Name, probability, label.Threshold, probability >= label.Threshold));
                }
            }
        }
        if (withCam)
        {
            for (var c = 0; c < _camOutputs.Length; c++)
            {
                ReadCam(_camOutputs[c], results[_scoreOutputs.Length + c], items);
            }
        }
        return items;
    }

    private void ReadCam(OutputSpec spec, OrtValue value, (List<ModelOutput> Outputs, List<CamMap>? Cams)[] items)
    {
        var shape = value.GetTensorTypeAndShape().Shape;
        if (shape.Length != 4 || shape[0] != items.Length || shape[1] != spec.Labels.Count || shape[2] <= 0 || shape[3] <= 0)
        {
            throw new InvalidOperationException(
                $"Model {Id} cam output '{spec.Name}' has shape [{string.Join(',', shape)}]; expected [{items.Length}, {spec.Labels.Count}, h, w].");
        }
        int height = checked((int)shape[2]), width = checked((int)shape[3]);
        var data = value.GetTensorDataAsSpan<float>();
        for (var b = 0; b < items.Length; b++)
        {
            for (var l = 0; l < spec.Labels.Count; l++)
            {
                var map = data.Slice((b * spec.Labels.Count + l) * width * height, width * height).ToArray();
                for (var i = 0; i < map.Length; i++)
                {
                    // relu_max is [0, 1] by construction; clamping keeps a NaN or rounding overshoot out of stored maps.
                    map[i] = float.IsNaN(map[i]) ? 0f : Math.Clamp(map[i], 0f, 1f);
                }
                items[b].Cams!.Add(new CamMap(spec.Labels[l], width, height, map));
            }
        }
    }

    public void Dispose()
    {
        _session.Dispose();
        _sessionOptions.Dispose();
    }
}

/// <summary>A label of a model and the threshold this appliance decides with.</summary>
public sealed record ModelLabel(string Name, string Display, double Threshold, double ManifestThreshold, CodingSpec? Coding = null);

/// <summary>One label's result; <see cref="Positive"/> is probability ≥ threshold, as in training.</summary>
public sealed record ModelOutput(string Label, double Probability, double Threshold, bool Positive);

/// <summary>Result of <see cref="LoadedModel.Predict"/>; <see cref="InferenceMs"/> excludes preprocessing.</summary>
public sealed record ModelPrediction(LoadedModel Model, IReadOnlyList<ModelOutput> Outputs, double InferenceMs, IReadOnlyList<CamMap>? Cams = null);

/// <summary>A class activation map of one label at model resolution: <see cref="Width"/> × <see cref="Height"/> row-major values in [0, 1].</summary>
public sealed record CamMap(string Label, int Width, int Height, float[] Values);
