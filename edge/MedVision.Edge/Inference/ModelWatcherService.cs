using Microsoft.Extensions.Options;

namespace MedVision.Edge.Inference;

/// <summary>
/// Rescans the models folder every <see cref="ModelUpdateOptions.ScanSeconds"/> and lets <see cref="ModelRegistry.Reload"/>
/// verify and swap in new package versions. A periodic scan rather than a FileSystemWatcher: watcher events arrive
/// mid-copy and are lost on overflow or on network/overlay file systems, while a scan sees the settled folder.
/// Operators drop a new version in as a sibling folder (copy elsewhere, then rename into place).
/// </summary>
public sealed class ModelWatcherService(
    ModelRegistry registry,
    IOptions<ModelUpdateOptions> options,
    IOptions<InferenceOptions> inferenceOptions,
    TimeProvider clock,
    ILogger<ModelWatcherService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var seconds = options.Value.ScanSeconds;
        if (seconds <= 0)
        {
            return;
        }
        ModelUpdateLog.Watching(logger, inferenceOptions.Value.ModelsDirectory, seconds);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(seconds), clock);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                registry.Reload(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                ModelUpdateLog.ScanFailed(logger, ex);
            }
        }
    }
}
