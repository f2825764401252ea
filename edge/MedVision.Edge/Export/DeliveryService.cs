using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace MedVision.Edge.Export;

/// <summary>
/// Sends what the outbox holds: every pending delivery that is due goes to its destination, at most
/// <see cref="ExportDestinationOptions.MaxConcurrency"/> at a time per destination. Each attempt is counted in SQLite before
/// it starts; transient errors are retried at once inside the attempt (Polly, exponential with jitter), a failed attempt
/// is scheduled again with exponential backoff and jitter, and after <see cref="ExportOptions.MaxAttempts"/> it is dead.
/// A delivered delivery is never sent again. At start, attempts cut short by a stop are due again.
/// </summary>
public sealed class DeliveryService : BackgroundService
{
    private static readonly TimeSpan MaxSleep = TimeSpan.FromSeconds(5);

    private readonly OutboxStore _store;
    private readonly ExportDestinations _destinations;
    private readonly DeliverySignal _signal;
    private readonly ExportMetrics _metrics;
    private readonly ExportStatus _status;
    private readonly ExportOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger<DeliveryService> _logger;
    private readonly Dictionary<string, SemaphoreSlim> _slots;
    private readonly Dictionary<string, ResiliencePipeline<DeliveryOutcome>> _pipelines;
    private readonly ConcurrentDictionary<long, Task> _inFlight = new();

    public DeliveryService(
        OutboxStore store,
        ExportDestinations destinations,
        DeliverySignal signal,
        ExportMetrics metrics,
        ExportStatus status,
        IOptions<ExportOptions> options,
        TimeProvider clock,
        ILogger<DeliveryService> logger)
    {
        _store = store;
        _destinations = destinations;
        _signal = signal;
        _metrics = metrics;
        _status = status;
        _options = options.Value;
        _clock = clock;
        _logger = logger;
        _slots = destinations.All.ToDictionary(d => d.Name, d => new SemaphoreSlim(d.Options.MaxConcurrency, d.Options.MaxConcurrency), StringComparer.Ordinal);
        _pipelines = destinations.All.ToDictionary(d => d.Name, d => BuildPipeline(d.Name), StringComparer.Ordinal);
    }

    /// <summary>Wait before attempt <paramref name="failedAttempts"/> + 1: initial × 2^(n−1), capped, ±20 % jitter.</summary>
    public static TimeSpan Backoff(int failedAttempts, ExportOptions options)
    {
        var seconds = Math.Min(options.MaxBackoffSeconds, options.InitialBackoffSeconds * Math.Pow(2, Math.Clamp(failedAttempts - 1, 0, 30)));
        return TimeSpan.FromSeconds(seconds * (0.8 + (0.4 * Random.Shared.NextDouble())));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            var resumed = false;
            while (!stoppingToken.IsCancellationRequested)
            {
                var sleep = MaxSleep;
                try
                {
                    // In the loop, so a database busy or unreachable at start is retried like any pass, not the end of the host.
                    if (!resumed)
                    {
                        var reset = await _store.ResetDeliveringAsync(_clock.GetUtcNow(), stoppingToken).ConfigureAwait(false);
                        if (reset > 0)
                        {
                            ExportLog.ResetDelivering(_logger, reset);
                        }
                        resumed = true;
                    }
                    if (_options.Enabled)
                    {
                        sleep = await PassAsync(stoppingToken).ConfigureAwait(false);
                    }
                    await RefreshStatusAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    ExportLog.DeliveryPassFailed(_logger, ex);
                    sleep = TimeSpan.FromSeconds(1);
                }
                await _signal.WaitAsync(sleep, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: attempts in flight are cancelled below and put back to pending.
        }
        try
        {
            await Task.WhenAll(_inFlight.Values).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A peer ignoring cancellation must not hold up shutdown; its row stays 'delivering' and is reset at start.
        }
    }

    /// <summary>Starts every due delivery that has a free slot; returns how long until the next one is due.</summary>
    private async Task<TimeSpan> PassAsync(CancellationToken stoppingToken)
    {
        var now = _clock.GetUtcNow();
        foreach (var destination in _destinations.All)
        {
            var slots = _slots[destination.Name];
            if (slots.CurrentCount == 0)
            {
                continue;
            }
            foreach (var work in await _store.ListDueDeliveriesAsync(destination.Name, now, slots.CurrentCount, stoppingToken).ConfigureAwait(false))
            {
                if (!slots.Wait(0, CancellationToken.None))
                {
                    break;
                }
                if (!await _store.ClaimAsync(work.Delivery.Id, _clock.GetUtcNow(), stoppingToken).ConfigureAwait(false))
                {
                    slots.Release();
                    continue;
                }
                // Registered before it may run, so its own removal when done cannot come first and leave a stale entry.
                var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _inFlight[work.Delivery.Id] = Task.Run(async () =>
                {
                    await start.Task.ConfigureAwait(false);
                    await DeliverOneAsync(destination, work, stoppingToken).ConfigureAwait(false);
                }, CancellationToken.None);
                start.SetResult();
            }
        }
        var next = await _store.NextDeliveryDueAsync(_slots.Keys, stoppingToken).ConfigureAwait(false);
        if (next is null)
        {
            return MaxSleep;
        }
        var wait = next.Value - _clock.GetUtcNow();
        return wait < TimeSpan.FromMilliseconds(20) ? TimeSpan.FromMilliseconds(20) : wait > MaxSleep ? MaxSleep : wait;
    }

    private async Task DeliverOneAsync(IExportDestination destination, DeliveryWork work, CancellationToken stoppingToken)
    {
        var delivery = work.Delivery;
        var output = work.Output;
        var attempt = delivery.Attempts + 1;
        var watch = Stopwatch.StartNew();
        try
        {
            DeliveryOutcome outcome;
            if (!File.Exists(output.Path))
            {
                outcome = new DeliveryOutcome(DeliveryResult.Permanent, $"The stored output file {output.Path} is missing.");
            }
            else
            {
                try
                {
                    var context = ResilienceContextPool.Shared.Get(stoppingToken);
                    context.Properties.Set(DeliveryIdKey, delivery.Id);
                    try
                    {
                        outcome = await _pipelines[destination.Name].ExecuteAsync(
                            static async (ctx, state) => await state.destination.DeliverAsync(state.output, ctx.CancellationToken).ConfigureAwait(false),
                            context,
                            (destination, output)).ConfigureAwait(false);
                    }
                    finally
                    {
                        ResilienceContextPool.Shared.Return(context);
                    }
                }
                catch (TimeoutRejectedException)
                {
                    outcome = new DeliveryOutcome(DeliveryResult.Failed, $"No answer within {_options.AttemptTimeoutSeconds} s.");
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    outcome = new DeliveryOutcome(DeliveryResult.Failed, $"{ex.GetType().Name}: {ex.Message}");
                }
            }
            await RecordAsync(destination, delivery, output, attempt, outcome, watch.Elapsed, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopped mid-send: due again at the next start (the PACS or server may or may not have it; a re-send is safe).
            try
            {
                await _store.MarkFailedAsync(delivery.Id, "Interrupted by shutdown.", _clock.GetUtcNow(), _clock.GetUtcNow(), CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Left 'delivering': reset to pending at the next start.
            }
        }
        catch (Exception ex)
        {
            // Recording the outcome failed (database trouble): the row stays 'delivering' until the next start resets it.
            ExportLog.DeliveryPassFailed(_logger, ex);
        }
        finally
        {
            _slots[destination.Name].Release();
            _inFlight.TryRemove(delivery.Id, out _);
            _signal.Notify();
        }
    }

    private async Task RecordAsync(
        IExportDestination destination, DeliveryRecord delivery, OutputRecord output, int attempt, DeliveryOutcome outcome, TimeSpan elapsed, CancellationToken cancellationToken)
    {
        var now = _clock.GetUtcNow();
        if (outcome.Result == DeliveryResult.Delivered)
        {
            await _store.MarkDeliveredAsync(delivery.Id, now, cancellationToken).ConfigureAwait(false);
            _metrics.Delivered(destination.Name, elapsed);
            ExportLog.Delivered(_logger, output.Id, output.Kind, destination.Name, attempt, elapsed.TotalMilliseconds);
            return;
        }
        var error = outcome.Error ?? outcome.Result.ToString();
        _metrics.AttemptFailed(destination.Name, now, error);
        if (outcome.Result == DeliveryResult.Permanent || attempt >= _options.MaxAttempts)
        {
            await _store.MarkFailedAsync(delivery.Id, error, now, null, cancellationToken).ConfigureAwait(false);
            _metrics.Dead(destination.Name);
            ExportLog.Dead(_logger, delivery.Id, output.Id, destination.Name, attempt, error);
            return;
        }
        var next = now + Backoff(attempt, _options);
        await _store.MarkFailedAsync(delivery.Id, error, now, next, cancellationToken).ConfigureAwait(false);
        ExportLog.AttemptFailed(_logger, delivery.Id, output.Id, destination.Name, attempt, _options.MaxAttempts, next, error);
    }

    private async Task RefreshStatusAsync(CancellationToken cancellationToken) =>
        _status.Update(await _store.CountAsync(cancellationToken).ConfigureAwait(false), _clock.GetUtcNow());

    private static readonly ResiliencePropertyKey<long> DeliveryIdKey = new("medvision.delivery-id");

    /// <summary>Attempt timeout around quick retries of transient errors.</summary>
    private ResiliencePipeline<DeliveryOutcome> BuildPipeline(string destination)
    {
        var builder = new ResiliencePipelineBuilder<DeliveryOutcome> { TimeProvider = _clock };
        builder.AddTimeout(TimeSpan.FromSeconds(_options.AttemptTimeoutSeconds));
        if (_options.InAttemptRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<DeliveryOutcome>
            {
                MaxRetryAttempts = _options.InAttemptRetries,
                Delay = TimeSpan.FromMilliseconds(200),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldHandle = new PredicateBuilder<DeliveryOutcome>()
                    .HandleResult(o => o.Result == DeliveryResult.Transient)
                    .Handle<Exception>(ExportDestinations.IsTransient),
                OnRetry = args =>
                {
                    var error = args.Outcome.Exception?.Message ?? args.Outcome.Result?.Error ?? "?";
                    args.Context.Properties.TryGetValue(DeliveryIdKey, out var id);
                    ExportLog.InAttemptRetry(_logger, id, destination, args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds, error);
                    return default;
                },
            });
        }
        return builder.Build();
    }
}
