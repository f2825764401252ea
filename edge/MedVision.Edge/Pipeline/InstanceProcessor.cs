using MedVision.Dicom;
using MedVision.Dicom.Imaging;
using MedVision.Edge.Inference;
using MedVision.Edge.Outputs;
using MedVision.Edge.Outputs.Heatmaps;
using MedVision.Edge.Storage;

namespace MedVision.Edge.Pipeline;

/// <summary>Runs every model that applies to one spooled instance and turns its outputs into findings (with heat maps when the model has a CAM).</summary>
public sealed partial class InstanceProcessor(ModelRegistry registry, ModelRouter router, TimeProvider clock, HeatmapStore heatmaps, ILogger<InstanceProcessor> logger)
{
    /// <summary>The findings, or null when no model applies to the instance (it is then marked skipped).</summary>
    public async Task<IReadOnlyList<FindingRecord>?> ProcessAsync(PendingInstance instance, CancellationToken cancellationToken)
    {
        // The lease pins one model generation: a hot swap during this instance neither mixes versions nor
        // disposes a session that is still running.
        using var lease = registry.Acquire();
        // Modality first, before the file is opened: most instances a model does not take stop here.
        var candidates = lease.Models.Where(m => router.MayApply(m, instance.Modality)).ToList();
        if (candidates.Count == 0)
        {
            return null;
        }
        cancellationToken.ThrowIfCancellationRequested();
        var file = DicomFile.Open(instance.SpoolPath);
        var attributes = InstanceAttributes.From(file.Dataset, instance.Modality);
        var models = new List<LoadedModel>();
        foreach (var model in candidates)
        {
            var decision = router.Decide(model, attributes);
            if (decision.Applies)
            {
                models.Add(model);
            }
            else
            {
                LogNotRouted(instance.SopInstanceUid, decision.Reason!);
            }
        }
        if (models.Count == 0)
        {
            return null;
        }
        var image = LoadImage(file);
        RenderedImage? background = null;
        var findings = new List<FindingRecord>();
        foreach (var model in models)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var prediction = model.Predict(image);
            var now = clock.GetUtcNow();
            var maps = new Dictionary<string, HeatmapRecord>(StringComparer.Ordinal);
            if (prediction.Cams is { Count: > 0 } cams)
            {
                try
                {
                    // The overlay shows the image as a reader would see it: the source's own VOI window, 8-bit.
                    background ??= DicomImage.Open(file).Render(0);
                    foreach (var cam in cams)
                    {
                        if (await heatmaps.SaveAsync(instance.StudyUid, instance.SopInstanceUid, model.Id, model.Version, cam, background, cancellationToken)
                            .ConfigureAwait(false) is { } map)
                        {
                            maps[cam.Label] = map;
                        }
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // A heat map explains a finding; failing to draw one must not lose the finding itself.
                    OutputsLog.HeatmapFailed(logger, instance.SopInstanceUid, model.Id, ex.Message, ex);
                }
            }
            foreach (var output in prediction.Outputs)
            {
                findings.Add(new FindingRecord(
                    instance.StudyUid, instance.SopInstanceUid, model.Id, model.Version, model.Sha256, output.Label,
                    output.Probability, output.Threshold, output.Positive, model.ExecutionProvider, prediction.InferenceMs, now,
                    maps.GetValueOrDefault(output.Label)));
            }
        }
        return findings;
    }

    /// <summary>First frame after the modality LUT; the model's preprocessing takes it from there.</summary>
    public static GrayscaleImage LoadImage(string path) => LoadImage(DicomFile.Open(path));

    /// <inheritdoc cref="LoadImage(string)"/>
    public static GrayscaleImage LoadImage(DicomFile file)
    {
        var frame = DicomPixelData.From(file).GetModalityFrame(0);
        return new GrayscaleImage(frame.Width, frame.Height, frame.Values, frame.IsMonochrome1);
    }

    [LoggerMessage(EventId = 1320, Level = LogLevel.Information, Message = "Instance {SopInstanceUid} not offered to a model: {Reason}")]
    private partial void LogNotRouted(string sopInstanceUid, string reason);
}
