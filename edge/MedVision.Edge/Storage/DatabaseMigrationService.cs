namespace MedVision.Edge.Storage;

/// <summary>
/// Brings the database schema up to date before any hosted service starts.
/// </summary>
/// <remarks>
/// The work is done in <see cref="StartingAsync"/>, which the host runs for every lifecycle service before any
/// <c>StartAsync</c>: the DICOM listener and Kestrel therefore never accept work against an old schema,
/// whatever order the services were registered in. A failure stops the host (systemd restarts it).
/// </remarks>
public sealed class DatabaseMigrationService(EdgeDatabase database) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => database.MigrateAsync(cancellationToken);

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
