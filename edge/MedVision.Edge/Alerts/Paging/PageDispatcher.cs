using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace MedVision.Edge.Alerts.Paging;

/// <summary>
/// Sends pages in the background, each retried with exponential backoff and jitter (Polly) and a time limit per
/// attempt. Every attempt is recorded in SQLite before the next one, so the API shows failures as they happen and a
/// restart resumes a page with the attempts it has left. Acknowledging an alert cancels its pages still in flight.
/// </summary>
public sealed class PageDispatcher
{
    private readonly AlertStore _store;
    private readonly PageComposer _composer;
    private readonly IReadOnlyDictionary<string, IPagerChannel> _channels;
    private readonly AlertMetrics _metrics;
    private readonly DeliveryOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger<PageDispatcher> _logger;
    private readonly Lock _dispatchGate = new();
    private readonly ConcurrentDictionary<long, Task> _inFlight = new();
    private readonly ConcurrentDictionary<long, CancellationTokenSource> _alertTokens = new();

    public PageDispatcher(
        AlertStore store,
        PageComposer composer,
        IEnumerable<IPagerChannel> channels,
        AlertMetrics metrics,
        IOptions<AlertOptions> options,
        TimeProvider clock,
        ILogger<PageDispatcher> logger)
    {
        _store = store;
        _composer = composer;
        _channels = channels.ToDictionary(c => c.Name, StringComparer.OrdinalIgnoreCase);
        _metrics = metrics;
        _options = options.Value.Delivery;
        _clock = clock;
        _logger = logger;
    }

    /// <summary>Pages in flight (sending or waiting to retry).</summary>
    public int InFlight => _inFlight.Count;

    /// <summary>Starts sending <paramref name="delivery"/> unless it is already under way.</summary>
    public void Dispatch(AlertRecord alert, DeliveryRecord delivery, CancellationToken stopping)
    {
        ArgumentNullException.ThrowIfNull(alert);
        ArgumentNullException.ThrowIfNull(delivery);
        lock (_dispatchGate)
        {
            // Under the lock so the same page can never be started twice (ConcurrentDictionary may run a factory twice).
            if (_inFlight.ContainsKey(delivery.Id))
            {
                return;
            }
            var alertToken = _alertTokens.GetOrAdd(alert.Id, _ => new CancellationTokenSource()).Token;
            // Created cold and started after it is registered, so its own clean-up cannot run before the registration.
            var run = new Task<Task>(async () =>
            {
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(alertToken, stopping);
                try
                {
                    await RunAsync(alert, delivery, linked.Token, stopping).ConfigureAwait(false);
                }
                finally
                {
                    _inFlight.TryRemove(delivery.Id, out _);
                }
            });
            _inFlight[delivery.Id] = run.Unwrap();
            run.Start(TaskScheduler.Default);
        }
    }

    /// <summary>Stops the pages of an acknowledged or resolved alert.</summary>
    public void CancelAlert(long alertId)
    {
        if (_alertTokens.TryRemove(alertId, out var source))
        {
            // Not disposed: a page starting this moment may still link to its token.
            source.Cancel();
        }
    }

    /// <summary>Cancels the pages of every alert not in <paramref name="activeAlertIds"/> (closed elsewhere).</summary>
    public void CancelAllExcept(IReadOnlySet<long> activeAlertIds)
    {
        foreach (var alertId in _alertTokens.Keys.Where(id => !activeAlertIds.Contains(id)).ToList())
        {
            CancelAlert(alertId);
        }
    }

    /// <summary>Waits for pages in flight to stop (the caller cancels the stopping token first).</summary>
    public Task DrainAsync(CancellationToken cancellationToken) => Task.WhenAll(_inFlight.Values.ToList()).WaitAsync(cancellationToken);

    private async Task RunAsync(AlertRecord alert, DeliveryRecord delivery, CancellationToken token, CancellationToken stopping)
    {
        if (!_channels.TryGetValue(delivery.Channel, out var channel))
        {
            await RecordAsync(delivery, delivery.Attempts + 1, _clock.GetUtcNow(), 0, $"no '{delivery.Channel}' channel", DeliveryStates.Failed).ConfigureAwait(false);
            _metrics.PageFailed(delivery.Channel);
            return;
        }
        var attempt = delivery.Attempts;
        var remaining = _options.MaxAttempts - attempt;
        if (remaining <= 0)
        {
            await _store.SetDeliveryStateAsync(delivery.Id, DeliveryStates.Failed, CancellationToken.None).ConfigureAwait(false);
            return;
        }

        var pipeline = BuildPipeline(remaining - 1, delivery.Id);
        string? lastError = null;
        try
        {
            await pipeline.ExecuteAsync(async ct =>
            {
                attempt++;
                var started = _clock.GetUtcNow();
                var timer = Stopwatch.StartNew();
                try
                {
                    var message = _composer.Compose(alert, delivery);
                    await channel.SendAsync(message, ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (!token.IsCancellationRequested)
                {
                    lastError = Describe(ex, ct);
                    var final = attempt >= _options.MaxAttempts;
                    _metrics.AttemptFailed(channel.Name, _clock.GetUtcNow(), lastError);
                    AlertLog.PageAttemptFailed(_logger, delivery.Id, alert.Id, delivery.Recipient, channel.Name, attempt, lastError);
                    await RecordAsync(delivery, attempt, started, timer.Elapsed.TotalMilliseconds, lastError,
                        final ? DeliveryStates.Failed : DeliveryStates.Retrying).ConfigureAwait(false);
                    throw;
                }
                _metrics.PageSent(channel.Name, _clock.GetUtcNow());
                AlertLog.PageSent(_logger, delivery.Id, alert.Id, delivery.Recipient, channel.Name, attempt);
                var first = await RecordAsync(delivery, attempt, started, timer.Elapsed.TotalMilliseconds, null, DeliveryStates.Sent).ConfigureAwait(false);
                if (first is not null)
                {
                    _metrics.FirstPage(first);
                }
            }, token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Acknowledged (the store has cancelled the page) or shutting down (the page resumes after restart).
            if (!stopping.IsCancellationRequested)
            {
                await _store.SetDeliveryStateAsync(delivery.Id, DeliveryStates.Cancelled, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception) when (lastError is not null)
        {
            _metrics.PageFailed(channel.Name);
            AlertLog.PageFailed(_logger, delivery.Id, alert.Id, delivery.Recipient, channel.Name, attempt, lastError);
        }
    }

    private ResiliencePipeline BuildPipeline(int retries, long deliveryId)
    {
        var builder = new ResiliencePipelineBuilder { TimeProvider = _clock };
        if (retries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(e => e is not OperationCanceledException || e is TimeoutRejectedException),
                MaxRetryAttempts = retries,
                Delay = TimeSpan.FromSeconds(_options.InitialBackoffSeconds),
                MaxDelay = TimeSpan.FromSeconds(_options.MaxBackoffSeconds),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                OnRetry = async args =>
                {
                    // Shown by the API as nextAttemptUtc while the page waits.
                    await _store.SetNextAttemptAsync(deliveryId, _clock.GetUtcNow() + args.RetryDelay, CancellationToken.None).ConfigureAwait(false);
                },
            });
        }
        return builder.AddTimeout(TimeSpan.FromSeconds(_options.AttemptTimeoutSeconds)).Build();
    }

    private async Task<AlertRecord?> RecordAsync(DeliveryRecord delivery, int attempt, DateTimeOffset started, double ms, string? error, string state)
    {
        try
        {
            // Not cancellable: an attempt that happened is recorded even while the appliance stops.
            return await _store.RecordAttemptAsync(delivery.Id, attempt, started, ms, error, state, null, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            AlertLog.PageRecordFailed(_logger, delivery.Id, ex);
            return null;
        }
    }

    private static string Describe(Exception exception, CancellationToken attemptToken) => exception switch
    {
        OperationCanceledException when attemptToken.IsCancellationRequested => "attempt timed out",
        SocketException socket => $"{socket.SocketErrorCode}: {socket.Message}",
        _ when exception.InnerException is SocketException inner => $"{exception.Message} ({inner.SocketErrorCode})",
        _ => exception.Message,
    };
}
