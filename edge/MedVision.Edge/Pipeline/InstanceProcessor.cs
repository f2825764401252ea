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
        var outcome = (await ProcessBatchAsync([instance], maxBatch: 1, cancellationToken).ConfigureAwait(false))[0];
        if (outcome.Error is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(outcome.Error);
        }
        return outcome.Findings;
    }

    /// <summary>
    /// Runs a set of queued instances (possibly of several studies) together: each model sees the images it takes in batches of at
    /// most <paramref name="maxBatch"/>, one session run per batch. Nothing waits for a batch to fill: what is queued now runs now.
    /// An instance that cannot be read, or whose batch fails, gets its own <see cref="InstanceOutcome.Error"/>; the others are unaffected.
    /// </summary>
    public Task<IReadOnlyList<InstanceOutcome>> ProcessBatchAsync(IReadOnlyList<PendingInstance> instances, int maxBatch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instances);
        // The lease pins one model generation: a hot swap during this batch neither mixes versions nor disposes a session
        // that is still running.
        using var lease = registry.Acquire();
        var outcomes = new InstanceOutcome[instances.Count];
        var work = new List<(int Index, GrayscaleImage Image, List<LoadedModel> Models)>();
        for (var i = 0; i < instances.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                var routed = Route(lease, instances[i]);
                if (routed is null)
                {
                    outcomes[i] = new InstanceOutcome(instances[i], null, null);
                    continue;
                }
                work.Add((i, routed.Value.Image, routed.Value.Models));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                outcomes[i] = new InstanceOutcome(instances[i], null, ex);
            }
        }

        var findings = work.ToDictionary(w => w.Index, _ => new List<FindingRecord>());
        var failed = new Dictionary<int, Exception>();
        foreach (var model in work.SelectMany(w => w.Models).Distinct())
        {
            var inputs = work.Where(w => w.Models.Contains(model)).ToList();
            foreach (var chunk in inputs.Chunk(Math.Max(1, maxBatch)))
            {
                cancellationToken.ThrowIfCancellationRequested();
                IReadOnlyList<ModelPrediction> predictions;
                try
                {
                    predictions = model.PredictBatch(chunk.Select(c => c.Image).ToList());
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    predictions = [];
                    if (chunk.Length == 1)
                    {
                        failed[chunk[0].Index] = ex;
                        continue;
                    }
                    // One bad input must not fail its neighbours: run them one by one to find it.
                    foreach (var single in chunk)
                    {
                        try
                        {
                            Record(instances[single.Index], model, model.PredictBatch([single.Image])[0], single.Image, findings[single.Index]);
                        }
                        catch (Exception inner) when (inner is not OperationCanceledException)
                        {
                            failed[single.Index] = inner;
                        }
                    }
                }
                for (var k = 0; k < predictions.Count; k++)
                {
                    Record(instances[chunk[k].Index], model, predictions[k], chunk[k].Image, findings[chunk[k].Index]);
                }
            }
        }
        foreach (var (index, _, _) in work)
        {
            outcomes[index] = failed.TryGetValue(index, out var error)
                ? new InstanceOutcome(instances[index], null, error)
                : new InstanceOutcome(instances[index], findings[index], null);
        }
        return Task.FromResult<IReadOnlyList<InstanceOutcome>>(outcomes);
    }

    /// <summary>The models that take the instance and its image, or null when none does (the file is opened only if one might).</summary>
    private (GrayscaleImage Image, List<LoadedModel> Models)? Route(ModelLease lease, PendingInstance instance)
    {
        // Modality first, before the file is opened: most instances a model does not take stop here.
        var candidates = lease.Models.Where(m => router.MayApply(m, instance.Modality)).ToList();
        if (candidates.Count == 0)
        {
            return null;
        }
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
        return models.Count == 0 ? null : (LoadImage(file), models);
    }

    private void Record(PendingInstance instance, LoadedModel model, ModelPrediction prediction, GrayscaleImage image, List<FindingRecord> findings)
    {
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

/// <summary>What became of one instance of a batch: findings (null when no model takes it), or the error that stopped it.</summary>
public sealed record InstanceOutcome(PendingInstance Instance, IReadOnlyList<FindingRecord>? Findings, Exception? Error);
