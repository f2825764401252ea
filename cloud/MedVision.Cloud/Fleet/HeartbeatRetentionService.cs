using MedVision.Contracts;
using Microsoft.Extensions.Options;

namespace MedVision.Cloud.Fleet;

/// <summary>Deletes heartbeats older than <see cref="HubOptions.HeartbeatRetentionDays"/> once an hour (and at start).</summary>
public sealed partial class HeartbeatRetentionService(IHubStore store, IOptions<HubOptions> options, TimeProvider clock, ILogger<HeartbeatRetentionService> logger)
    : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    /// <summary>One pass; several hub instances may run it at once, which only deletes the same rows twice.</summary>
    public async Task<long> PruneAsync(CancellationToken cancellationToken)
    {
        var days = options.Value.HeartbeatRetentionDays;
        if (days <= 0)
        {
            return 0;
        }
        var deleted = await store.DeleteMessagesAsync(MessageTypes.Heartbeat, clock.GetUtcNow().AddDays(-days), cancellationToken).ConfigureAwait(false);
        if (deleted > 0)
        {
            LogPruned(deleted, days);
        }
        return deleted;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, clock);
        do
        {
            try
            {
                await PruneAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogPruneFailed(ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(EventId = 7030, Level = LogLevel.Information, Message = "Deleted {Count} heartbeat(s) older than {Days} days")]
    private partial void LogPruned(long count, int days);

    [LoggerMessage(EventId = 7031, Level = LogLevel.Warning, Message = "Deleting old heartbeats failed; next try in an hour")]
    private partial void LogPruneFailed(Exception exception);
}
