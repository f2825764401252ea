namespace MedVision.Edge.Inference;

/// <summary>
/// Loads the model packages while the host is starting, before any service's <c>StartAsync</c>, so the
/// pipeline never sees an empty registry and marks images "skipped" only because models were still loading.
/// A refused package is reported, not fatal; the host starts (degraded) even with no model.
/// </summary>
public sealed class ModelLoaderService(ModelRegistry registry) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        registry.Load(cancellationToken);
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
