using MedVision.Edge.Inference;
using MedVision.Edge.Storage;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Pipeline;

/// <summary>
/// Takes received instances from SQLite (so nothing is lost across restarts), runs them through the models and records
/// the outcome. A failing instance is marked failed with its reason; the loop itself never stops on bad input.
/// </summary>
public sealed partial class InferencePipelineService(
    IStudyStore store,
    ModelRegistry models,
    InstanceProcessor processor,
    PipelineSignal signal,
    IOptions<PipelineOptions> options,
    IEnumerable<IFindingsListener> listeners,
    ILogger<InferencePipelineService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var poll = TimeSpan.FromSeconds(Math.Max(1, options.Value.PollSeconds));
        var waitingForModels = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            if (models.Models.Count == 0)
            {
                // With no usable model, work waits in the queue rather than being skipped for good.
                if (!waitingForModels)
                {
                    LogNoModels();
                    waitingForModels = true;
                }
                await signal.WaitAsync(poll, stoppingToken).ConfigureAwait(false);
                continue;
            }
            waitingForModels = false;
            IReadOnlyList<PendingInstance> batch;
            try
            {
                batch = await store.GetPendingInstancesAsync(Math.Max(1, options.Value.BatchSize), stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogQueueReadFailed(ex);
                await signal.WaitAsync(poll, stoppingToken).ConfigureAwait(false);
                continue;
            }
            if (batch.Count == 0)
            {
                await signal.WaitAsync(poll, stoppingToken).ConfigureAwait(false);
                continue;
            }
            // Each group is stored and announced (alerts) before the next runs: batching never holds a finding back for long.
            var maxBatch = Math.Max(1, options.Value.MaxInferenceBatch);
            foreach (var group in batch.Chunk(maxBatch))
            {
                IReadOnlyList<InstanceOutcome> outcomes;
                try
                {
                    outcomes = await processor.ProcessBatchAsync(group, maxBatch, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    // Left as 'received': picked up again after restart.
                    return;
                }
                catch (Exception ex)
                {
                    // Not one instance's fault (each carries its own error): leave the group queued and try again shortly.
                    LogQueueReadFailed(ex);
                    await signal.WaitAsync(poll, stoppingToken).ConfigureAwait(false);
                    break;
                }
                foreach (var outcome in outcomes)
                {
                    await CompleteAsync(outcome, stoppingToken).ConfigureAwait(false);
                }
            }
        }
    }

    private async Task CompleteAsync(InstanceOutcome outcome, CancellationToken cancellationToken)
    {
        var instance = outcome.Instance;
        var findings = outcome.Findings;
        var state = outcome.Error is not null ? InstanceStates.Failed : findings is null ? InstanceStates.Skipped : InstanceStates.Processed;
        var error = outcome.Error?.Message;
        if (outcome.Error is not null)
        {
            LogInstanceFailed(instance.SopInstanceUid, instance.StudyUid, outcome.Error.Message, outcome.Error);
        }
        try
        {
            await store.CompleteInstanceAsync(instance, state, error, findings ?? [], cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Still 'received' in the database: it is retried on the next pass.
            LogQueueReadFailed(ex);
            return;
        }
        if (findings is { Count: > 0 })
        {
            await NotifyListenersAsync(findings, instance, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task NotifyListenersAsync(IReadOnlyList<FindingRecord> findings, PendingInstance instance, CancellationToken cancellationToken)
    {
        foreach (var listener in listeners)
        {
            try
            {
                await listener.OnFindingsAsync(findings, instance, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // The findings are stored; a listener's trouble must not mark the instance failed.
                LogListenerFailed(listener.GetType().Name, instance.SopInstanceUid, ex);
            }
        }
    }

    [LoggerMessage(EventId = 1303, Level = LogLevel.Error, Message = "Findings listener {Listener} failed for {SopInstanceUid}")]
    private partial void LogListenerFailed(string listener, string sopInstanceUid, Exception exception);

    [LoggerMessage(EventId = 1300, Level = LogLevel.Error, Message = "Processing {SopInstanceUid} of study {StudyUid} failed: {Reason}")]
    private partial void LogInstanceFailed(string sopInstanceUid, string studyUid, string reason, Exception exception);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Warning, Message = "No model is loaded; received instances wait in the queue until one is")]
    private partial void LogNoModels();

    [LoggerMessage(EventId = 1301, Level = LogLevel.Error, Message = "Reading or updating the work queue failed; retrying")]
    private partial void LogQueueReadFailed(Exception exception);
}
