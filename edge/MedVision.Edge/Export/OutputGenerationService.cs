using System.Security.Cryptography;
using MedVision.Edge.Ingest;
using MedVision.Edge.Outputs;
using MedVision.Edge.Pipeline;
using MedVision.Edge.Storage;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Export;

/// <summary>Wakes the output generator when a study completed.</summary>
public sealed class GenerationSignal : WakeSignal;

/// <summary>Wakes the delivery loop when deliveries were queued or put back to pending.</summary>
public sealed class DeliverySignal : WakeSignal;

/// <summary>
/// Turns a study completion into a durable generation request (a row in <c>output_generations</c>), so outputs are made
/// even if the appliance stops before the pipeline has finished the study.
/// </summary>
public sealed class ExportStudyCompletedListener(
    OutboxStore store,
    GenerationSignal signal,
    DeliverySignal deliverySignal,
    IOptions<ExportOptions> options,
    TimeProvider clock,
    ILogger<ExportStudyCompletedListener> logger)
    : IStudyCompletedListener
{
    public async Task OnStudyCompletedAsync(string studyUid, CancellationToken cancellationToken)
    {
        if (!options.Value.Enabled)
        {
            return;
        }
        if (await store.RequestGenerationAsync(studyUid, clock.GetUtcNow(), cancellationToken).ConfigureAwait(false))
        {
            ExportLog.GenerationRequested(logger, studyUid);
            signal.Notify();
            // The delivery loop also recounts the outbox for /healthz; wake it so the queued request shows at once.
            deliverySignal.Notify();
        }
    }
}

/// <summary>File names and durable writes for stored outputs.</summary>
internal static class OutputFiles
{
    /// <summary>A single path segment: no folders, no hidden names, only characters safe on any file system.</summary>
    public static string SafeName(string name)
    {
        var chars = Path.GetFileName(name).Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_').ToArray();
        var safe = new string(chars).TrimStart('.');
        return safe.Length == 0 ? "output" : safe.Length > 150 ? safe[..150] : safe;
    }

    /// <summary>Writes and fsyncs a new file; returns its SHA-256 (lower-case hex).</summary>
    public static async Task<string> WriteDurablyAsync(string path, byte[] content, CancellationToken cancellationToken)
    {
        await using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
        {
            await stream.WriteAsync(content, cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            stream.Flush(flushToDisk: true);
        }
        return Convert.ToHexStringLower(SHA256.HashData(content));
    }
}

/// <summary>
/// Makes the outputs of completed studies: waits (durably, via <c>output_generations</c>) until the pipeline has processed
/// every instance, reads the study's results, runs every enabled producer, writes the files (fsync'd) under
/// <c>{Storage:Root}/outputs/&lt;study&gt;/&lt;generation&gt;/</c>, then records them and their deliveries in one transaction.
/// A crash before that transaction leaves only unrecorded files, which the next try replaces; after it, the set exists once.
/// </summary>
public sealed class OutputGenerationService(
    OutboxStore store,
    IEnumerable<IStudyResultsReader> readers,
    IEnumerable<IStudyOutputProducer> producers,
    ExportDestinations destinations,
    GenerationSignal signal,
    DeliverySignal deliverySignal,
    ExportMetrics metrics,
    IOptions<ExportOptions> options,
    IOptions<StorageOptions> storage,
    TimeProvider clock,
    ILogger<OutputGenerationService> logger) : BackgroundService
{
    /// <summary>How often a study whose instances are still in the pipeline is looked at again.</summary>
    internal static readonly TimeSpan PipelinePoll = TimeSpan.FromMilliseconds(500);

    private static readonly TimeSpan MaxSleep = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan CatchUpInterval = TimeSpan.FromMinutes(1);

    private readonly ExportOptions _options = options.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var enabledProducers = producers.Where(p => p.IsEnabled).ToList();
        ExportLog.Started(logger, destinations.All.Count, string.Join(", ", destinations.All.Select(d => $"{d.Name} ({d.Options.NormalizedType})")), enabledProducers.Count);
        if (!_options.Enabled)
        {
            return;
        }
        // The last registration wins, as with GetService, so a host can replace the reader.
        var reader = readers.LastOrDefault();
        if (reader is null)
        {
            ExportLog.NoResultsReader(logger);
            return;
        }
        DateTimeOffset? lastCatchUp = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            var sleep = MaxSleep;
            try
            {
                // At start, and now and then: a completion whose request was lost (stop, or a failed write in the listener).
                if (lastCatchUp is null || clock.GetUtcNow() - lastCatchUp > CatchUpInterval)
                {
                    var added = await store.CatchUpGenerationsAsync(clock.GetUtcNow(), stoppingToken).ConfigureAwait(false);
                    if (added > 0)
                    {
                        ExportLog.CaughtUp(logger, added);
                    }
                    lastCatchUp = clock.GetUtcNow();
                }
                foreach (var generation in await store.ListDueGenerationsAsync(clock.GetUtcNow(), 16, stoppingToken).ConfigureAwait(false))
                {
                    await GenerateAsync(generation, reader, enabledProducers, stoppingToken).ConfigureAwait(false);
                }
                if (await store.NextGenerationDueAsync(stoppingToken).ConfigureAwait(false) is { } next)
                {
                    sleep = Clamp(next - clock.GetUtcNow());
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                ExportLog.GenerationPassFailed(logger, ex);
                sleep = TimeSpan.FromSeconds(1);
            }
            try
            {
                await signal.WaitAsync(sleep, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    internal async Task GenerateAsync(GenerationRecord generation, IStudyResultsReader reader, IReadOnlyList<IStudyOutputProducer> enabledProducers, CancellationToken cancellationToken)
    {
        var study = generation.StudyUid;
        var progress = await store.GetStudyProgressAsync(study, cancellationToken).ConfigureAwait(false);
        if (progress.LastReceivedUtc is null)
        {
            await GiveUpAsync(generation, "the study is no longer in the database", cancellationToken).ConfigureAwait(false);
            return;
        }
        if (!progress.Completed || progress.LastReceivedUtc != generation.GenerationKey)
        {
            // Reopened by a late instance: its next completion has (or will get) its own generation.
            await store.CloseGenerationAsync(generation.Id, GenerationStates.Superseded, null, clock.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            ExportLog.Superseded(logger, study, generation.Id);
            return;
        }
        if (progress.Unprocessed > 0)
        {
            ExportLog.WaitingForPipeline(logger, study, progress.Unprocessed);
            await store.PostponeGenerationAsync(generation.Id, clock.GetUtcNow() + PipelinePoll, null, countAttempt: false, cancellationToken).ConfigureAwait(false);
            return;
        }

        var errors = new List<string>();
        var made = new List<StudyOutput>();
        StudyResults? results = null;
        try
        {
            results = await reader.ReadAsync(study, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            errors.Add($"reading the study's results failed: {ex.Message}");
        }
        if (results is null && errors.Count == 0)
        {
            await GiveUpAsync(generation, "the results reader does not know the study", cancellationToken).ConfigureAwait(false);
            return;
        }
        if (results is not null)
        {
            foreach (var producer in enabledProducers)
            {
                try
                {
                    made.AddRange(await producer.ProduceAsync(results, cancellationToken).ConfigureAwait(false));
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    ExportLog.ProducerFailed(logger, producer.GetType().Name, study, ex);
                    errors.Add($"{producer.GetType().Name}: {ex.Message}");
                }
            }
        }

        var attempt = generation.Attempts + 1;
        var error = errors.Count == 0 ? null : string.Join("; ", errors);
        if (error is not null)
        {
            ExportLog.GenerationFailed(logger, study, attempt, _options.GenerationMaxAttempts, error);
            if (attempt < _options.GenerationMaxAttempts)
            {
                var wait = DeliveryService.Backoff(attempt, _options);
                await store.PostponeGenerationAsync(generation.Id, clock.GetUtcNow() + wait, error, countAttempt: true, cancellationToken).ConfigureAwait(false);
                return;
            }
            if (made.Count == 0)
            {
                await GiveUpAsync(generation, error, cancellationToken).ConfigureAwait(false);
                return;
            }
        }

        IReadOnlyList<long> recorded;
        try
        {
            recorded = await StoreAsync(generation, made, error, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Disk full or unwritable: nothing was recorded. Keep the request (not counted as a try, giving up would lose
            // the outputs) and come back later.
            var wait = DeliveryService.Backoff(Math.Max(attempt, 3), _options);
            ExportLog.OutputsNotWritten(logger, study, wait.TotalSeconds, ex);
            await store.PostponeGenerationAsync(generation.Id, clock.GetUtcNow() + wait, $"writing outputs failed: {ex.Message}", countAttempt: false, cancellationToken)
                .ConfigureAwait(false);
            return;
        }
        if (recorded.Count > 0)
        {
            var deliveries = made.Sum(o => destinations.For(o.Kind).Count);
            ExportLog.OutputsStored(logger, study, generation.Id, recorded.Count, deliveries);
            foreach (var output in made)
            {
                metrics.OutputStored(output.Kind, output.Content.Length);
            }
            deliverySignal.Notify();
        }
    }

    private async Task<IReadOnlyList<long>> StoreAsync(GenerationRecord generation, IReadOnlyList<StudyOutput> made, string? error, CancellationToken cancellationToken)
    {
        var studyFolder = Path.Combine(storage.Value.OutputsDirectory, OutputFiles.SafeName(generation.StudyUid));
        var folder = Path.Combine(studyFolder, generation.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (Directory.Exists(folder))
        {
            // Left by a try that stopped before its outputs were recorded: never recorded, so never sent.
            Directory.Delete(folder, recursive: true);
        }
        Directory.CreateDirectory(folder);
        var outputs = new List<NewOutput>();
        for (var i = 0; i < made.Count; i++)
        {
            var output = made[i];
            var path = Path.Combine(folder, $"{i + 1:D2}_{OutputFiles.SafeName(output.FileName)}");
            var sha = await OutputFiles.WriteDurablyAsync(path, output.Content, cancellationToken).ConfigureAwait(false);
            outputs.Add(new NewOutput(output.Kind, output.FileName, output.ContentType, output.SopClassUid, output.SopInstanceUid,
                output.Content.Length, sha, path, destinations.For(output.Kind)));
        }
        Durability.FsyncDirectory(folder);
        Durability.FsyncDirectory(studyFolder);
        Durability.FsyncDirectory(storage.Value.OutputsDirectory);
        return await store.CompleteGenerationAsync(generation.Id, generation.StudyUid, outputs, error, clock.GetUtcNow(), cancellationToken).ConfigureAwait(false);
    }

    private async Task GiveUpAsync(GenerationRecord generation, string error, CancellationToken cancellationToken)
    {
        ExportLog.GenerationGaveUp(logger, generation.StudyUid, error);
        await store.CloseGenerationAsync(generation.Id, GenerationStates.Failed, error, clock.GetUtcNow(), cancellationToken).ConfigureAwait(false);
    }

    private static TimeSpan Clamp(TimeSpan wait) =>
        wait < TimeSpan.FromMilliseconds(20) ? TimeSpan.FromMilliseconds(20) : wait > MaxSleep ? MaxSleep : wait;
}
