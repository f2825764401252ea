using MedVision.Dicom.Network;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Ingest;

/// <summary>Hosts the DICOM SCP for the lifetime of the appliance.</summary>
public sealed class DicomListenerService(
    IOptions<DicomOptions> options,
    SpoolStoreHandler storeHandler,
    PeerPolicy peerPolicy,
    MedVision.Edge.Commitment.StorageCommitmentService commitment,
    ILoggerFactory loggerFactory) : BackgroundService
{
    private DicomServer? _server;
    private DicomServer? _tlsServer;

    /// <summary>The port bound once started (differs from configuration when it asked for port 0).</summary>
    public int BoundPort => _server?.BoundPort ?? 0;

    /// <summary>The TLS port bound, 0 when DICOM TLS is disabled.</summary>
    public int BoundTlsPort => _tlsServer?.BoundPort ?? 0;

    public int ActiveAssociations => (_server?.ActiveAssociations ?? 0) + (_tlsServer?.ActiveAssociations ?? 0);

    public long AssociationsTotal => (_server?.AssociationsTotal ?? 0) + (_tlsServer?.AssociationsTotal ?? 0);

    public long RejectedAssociations => (_server?.RejectedTotal ?? 0) + (_tlsServer?.RejectedTotal ?? 0);

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        var serverOptions = options.Value.ToServerOptions();
        _server = new DicomServer(
            serverOptions,
            [new DefaultAssociationPolicy(serverOptions), peerPolicy],
            storeHandler,
            new AlwaysSuccessfulEcho(),
            loggerFactory.CreateLogger<DicomServer>(),
            commitment);
        // Bind before the host reports started, so a port conflict fails start-up loudly.
        _server.Start();
        if (options.Value.ToTlsServerOptions() is { } tlsOptions)
        {
            _tlsServer = new DicomServer(tlsOptions, [new DefaultAssociationPolicy(tlsOptions), peerPolicy], storeHandler, new AlwaysSuccessfulEcho(), loggerFactory.CreateLogger<DicomServer>(), commitment);
            _tlsServer.Start();
        }
        return base.StartAsync(cancellationToken);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_server!.RunAsync(stoppingToken), _tlsServer?.RunAsync(stoppingToken) ?? Task.CompletedTask);

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }
        if (_tlsServer is not null)
        {
            await _tlsServer.DisposeAsync().ConfigureAwait(false);
        }
    }
}
