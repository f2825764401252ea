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
    public Task<IReadOnlyList<FindingRecord>?> ProcessAsync(PendingInstance instance, CancellationToken cancellationToken)
    {
        // The lease pins one model generation: a hot swap during this instance neither mixes versions nor
        // disposes a session that is still running.
        using var lease = registry.Acquire();
        // Modality first, before the file is opened: most instances a model does not take stop here.
        var candidates = lease.Models.Where(m => router.MayApply(m, instance.Modality)).ToList();
        if (candidates.Count == 0)
        {
            return Task.FromResult<IReadOnlyList<FindingRecord>?>(null);
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
            return Task.FromResult<IReadOnlyList<FindingRecord>?>(null);
        }
        var image = LoadImage(file);
        var findings = new List<FindingRecord>();
        foreach (var model in models)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var prediction = model.Predict(image);
            var now = clock.GetUtcNow();
            // The CAM is recorded with the finding; rendering it at full resolution waits until outputs are made.
            var maps = (prediction.Cams ?? []).ToDictionary(
                cam => cam.Label, cam => heatmaps.Plan(instance.StudyUid, instance.SopInstanceUid, model.Id, model.Version, cam, image.Width, image.Height), StringComparer.Ordinal);
            foreach (var output in prediction.Outputs)
            {
                findings.Add(new FindingRecord(
                    instance.StudyUid, instance.SopInstanceUid, model.Id, model.Version, model.Sha256, output.Label,
                    output.Probability, output.Threshold, output.Positive, model.ExecutionProvider, prediction.InferenceMs, now,
                    maps.GetValueOrDefault(output.Label)));
            }
        }
        return Task.FromResult<IReadOnlyList<FindingRecord>?>(findings);
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
