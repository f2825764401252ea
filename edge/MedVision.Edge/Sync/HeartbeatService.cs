using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using MedVision.Contracts;
using MedVision.Edge.Inference;
using MedVision.Edge.Storage;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Sync;

/// <summary>Queues a heartbeat (fleet health) every <c>HeartbeatSeconds</c>, the first one at start.</summary>
public sealed class HeartbeatService(
    CloudOutbox outbox,
    IStudyStore studies,
    ModelRegistry models,
    IDiskSpace disk,
    RemoteSettings settings,
    TimeProvider time,
    ILogger<HeartbeatService> logger) : BackgroundService
{
    private static readonly string SoftwareVersion =
        typeof(HeartbeatService).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(settings.HeartbeatSeconds), time);
        // The hub may change the interval (desired property heartbeatSeconds); setting Period restarts the wait.
        void OnChanged() => timer.Period = TimeSpan.FromSeconds(settings.HeartbeatSeconds);
        settings.Changed += OnChanged;
        try
        {
            await BeatAsync(stoppingToken).ConfigureAwait(false);
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                await BeatAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        finally
        {
            settings.Changed -= OnChanged;
        }
    }

    private async Task BeatAsync(CancellationToken stoppingToken)
    {
        try
        {
            var heartbeat = await BuildAsync(stoppingToken).ConfigureAwait(false);
            var now = time.GetUtcNow();
            await outbox.EnqueueAsync(
                [("h-" + Guid.NewGuid().ToString("N"), OutboxPriority.Telemetry, MessageTypes.Heartbeat, JsonSerializer.Serialize(heartbeat, ContractJson.Options), now)],
                stoppingToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            SyncLog.HeartbeatFailed(logger, ex);
        }
    }

    internal async Task<HeartbeatV1> BuildAsync(CancellationToken cancellationToken)
    {
        var statistics = await studies.GetStatisticsAsync(cancellationToken).ConfigureAwait(false);
        var recent = await studies.ListFindingsAsync(null, 100, cancellationToken).ConfigureAwait(false);
        var latencies = recent.Where(f => f.Finding.InferenceMs is not null).Select(f => f.Finding.InferenceMs!.Value).ToList();
        var depth = await outbox.GetDepthAsync(cancellationToken).ConfigureAwait(false);
        long? free;
        try
        {
            free = disk.FreeBytes;
        }
        catch (IOException)
        {
            free = null;
        }
        var loaded = models.Models;
        return new HeartbeatV1(
            SoftwareVersion,
            loaded.Select(m => new ModelVersionV1(m.Id, m.Version, m.Sha256)).ToList(),
            (time.GetUtcNow() - Process.GetCurrentProcess().StartTime.ToUniversalTime()).TotalSeconds,
            free,
            statistics.InstancesByState.GetValueOrDefault(InstanceStates.Received),
            depth.Pending,
            statistics.Findings,
            latencies.Count == 0 ? null : latencies.Average(),
            loaded.Count == 0 ? null : loaded[0].ExecutionProvider);
    }
}
