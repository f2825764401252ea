using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace MedVision.Dicom.Network;

/// <summary>
/// TCP listener for the DICOM Upper Layer. Each connection runs its own <see cref="ScpAssociation"/>; the number of
/// concurrent associations is capped, and the one over the cap is told so with an A-ASSOCIATE-RJ.
/// </summary>
public sealed class DicomServer : IAsyncDisposable
{
    private readonly DicomServerOptions _options;
    private readonly IReadOnlyList<IAssociationPolicy> _policies;
    private readonly ICStoreHandler _storeHandler;
    private readonly ICEchoHandler _echoHandler;
    private readonly IStorageCommitmentHandler? _commitmentHandler;
    private readonly ILogger _logger;
    private readonly List<Task> _connections = [];
    private Socket? _listener;
    private int _active;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _perCallingAe = new(StringComparer.Ordinal);
    private int _connected;
    private long _associationsTotal;
    private long _rejectedTotal;

    public DicomServer(DicomServerOptions options, IEnumerable<IAssociationPolicy> policies, ICStoreHandler storeHandler, ICEchoHandler echoHandler, ILogger<DicomServer> logger, IStorageCommitmentHandler? commitmentHandler = null)
    {
        _commitmentHandler = commitmentHandler;
        _options = options;
        _policies = policies.ToList();
        _storeHandler = storeHandler;
        _echoHandler = echoHandler;
        _logger = logger;
    }

    /// <summary>Established associations (those counted against MaxAssociations).</summary>
    public int ActiveAssociations => Volatile.Read(ref _active);

    /// <summary>Open connections, including those still negotiating.</summary>
    public int OpenConnections => Volatile.Read(ref _connected);

    public long AssociationsTotal => Interlocked.Read(ref _associationsTotal);

    public long RejectedTotal => Interlocked.Read(ref _rejectedTotal);

    /// <summary>The port actually bound (useful with port 0 in tests).</summary>
    public int BoundPort => (_listener?.LocalEndPoint as IPEndPoint)?.Port ?? 0;

    public void Start()
    {
        var address = IPAddress.Parse(_options.BindAddress);
        var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (address.Equals(IPAddress.IPv6Any))
        {
            listener.DualMode = true;
        }
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(new IPEndPoint(address, _options.Port));
        listener.Listen(128);
        _listener = listener;
        _logger.LogInformation("DICOM SCP {AeTitle} listening on {Address}:{Port}", _options.AeTitle, _options.BindAddress, BoundPort);
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (_listener is null)
        {
            Start();
        }
        var listener = _listener!;
        using var registration = cancellationToken.Register(() => listener.Close());
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException || cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (SocketException ex)
            {
                _logger.LogWarning(ex, "Accepting a DICOM connection failed");
                continue;
            }
            SocketTuning.Apply(socket);
            lock (_connections)
            {
                _connections.RemoveAll(t => t.IsCompleted);
                _connections.Add(ServeAsync(socket, cancellationToken));
            }
        }
        Task[] pending;
        lock (_connections)
        {
            pending = [.. _connections];
        }
        await Task.WhenAll(pending).ConfigureAwait(false);
    }

    private async Task ServeAsync(Socket socket, CancellationToken cancellationToken)
    {
        await Task.Yield();
        // Connections that have not associated yet are cut by ARTIM; cap them too so a flood cannot exhaust sockets.
        if (Interlocked.Increment(ref _connected) > _options.MaxAssociations * 4)
        {
            Interlocked.Decrement(ref _connected);
            Interlocked.Increment(ref _rejectedTotal);
            _logger.LogWarning("Dropped a DICOM connection from {Remote}: {Count} connections already open", socket.RemoteEndPoint, _options.MaxAssociations * 4);
            socket.Dispose();
            return;
        }
        Interlocked.Increment(ref _associationsTotal);
        var slot = new AssociationSlot(this);
        try
        {
            var transport = _options.Tls is null ? null : await AuthenticateAsync(socket, cancellationToken).ConfigureAwait(false);
            if (_options.Tls is not null && transport is null)
            {
                Interlocked.Increment(ref _rejectedTotal);
                return;
            }
            var association = new ScpAssociation(socket, _options, _policies, _storeHandler, _echoHandler, _logger, slot.TryAcquire, transport, _commitmentHandler);
            var accepted = await association.RunAsync(cancellationToken).ConfigureAwait(false);
            if (!accepted)
            {
                Interlocked.Increment(ref _rejectedTotal);
            }
        }
        catch (Exception ex)
        {
            // One bad peer must never take the listener down.
            _logger.LogError(ex, "DICOM association failed");
        }
        finally
        {
            slot.Release();
            Interlocked.Decrement(ref _connected);
            socket.Dispose();
        }
    }

    /// <summary>
    /// TLS handshake (PS3.15 B.1, BCP 195: TLS 1.2 or 1.3) within the ARTIM time; null when it fails, which is logged
    /// with the peer and the reason (no certificate, untrusted certificate, protocol mismatch).
    /// </summary>
    private async Task<Stream?> AuthenticateAsync(Socket socket, CancellationToken cancellationToken)
    {
        var tls = _options.Tls!;
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
        using var artim = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        artim.CancelAfter(_options.ArtimTimeout);
        try
        {
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = tls.ServerCertificate,
                ClientCertificateRequired = tls.RequireClientCertificate,
                EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                RemoteCertificateValidationCallback = (_, certificate, _, errors) => tls.ValidateClient(certificate as X509Certificate2, errors),
            }, artim.Token).ConfigureAwait(false);
            return ssl;
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException or OperationCanceledException)
        {
            _logger.LogWarning("TLS handshake with {Remote} failed: {Reason}", socket.RemoteEndPoint, ex.Message);
            await ssl.DisposeAsync().ConfigureAwait(false);
            return null;
        }
    }

    /// <summary>
    /// An association counts against MaxAssociations (and its calling AE's own limit) only once it is about to be accepted.
    /// Returns null when a slot was taken, else why not.
    /// </summary>
    private sealed class AssociationSlot(DicomServer server)
    {
        private string? _callingAe;
        private bool _held;

        public string? TryAcquire(string callingAe)
        {
            var options = server._options;
            if (Interlocked.Increment(ref server._active) > options.MaxAssociations)
            {
                Interlocked.Decrement(ref server._active);
                return $"{options.MaxAssociations} associations already active";
            }
            if (options.MaxAssociationsPerCallingAe.TryGetValue(callingAe, out var limit))
            {
                if (server._perCallingAe.AddOrUpdate(callingAe, 1, (_, n) => n + 1) > limit)
                {
                    server._perCallingAe.AddOrUpdate(callingAe, 0, (_, n) => n - 1);
                    Interlocked.Decrement(ref server._active);
                    return $"calling AE '{callingAe}' already holds its {limit} association(s)";
                }
                _callingAe = callingAe;
            }
            _held = true;
            return null;
        }

        public void Release()
        {
            if (!_held)
            {
                return;
            }
            if (_callingAe is not null)
            {
                server._perCallingAe.AddOrUpdate(_callingAe, 0, (_, n) => n - 1);
            }
            Interlocked.Decrement(ref server._active);
            _held = false;
        }
    }

    public ValueTask DisposeAsync()
    {
        _listener?.Dispose();
        return ValueTask.CompletedTask;
    }
}
