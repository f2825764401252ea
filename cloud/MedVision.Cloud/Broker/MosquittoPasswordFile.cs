using System.Diagnostics;
using System.Globalization;
using System.Text;
using MedVision.Cloud.Fleet;
using Microsoft.Extensions.Options;

namespace MedVision.Cloud.Broker;

/// <summary>
/// Keeps Mosquitto's <c>password_file</c> in step with the fleet database: rewritten whole (atomically) from the
/// database, then Mosquitto is sent SIGHUP to re-read it. The whole file comes from the database, so any hub instance
/// can write it. Topic isolation needs no per-device entries: the ACL file's
/// <c>pattern readwrite devices/%u/#</c> gives each user its own subtree only.
/// </summary>
internal sealed class MosquittoPasswordFile : IBrokerCredentialSink
{
    private readonly IHubStore _store;
    private readonly ExternalBrokerOptions _options;
    private readonly ILogger<MosquittoPasswordFile> _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private string? _hubHash;

    public MosquittoPasswordFile(IHubStore store, IOptions<HubOptions> options, ILogger<MosquittoPasswordFile> logger)
    {
        _store = store;
        _options = options.Value.External;
        _logger = logger;
    }

    public async Task CredentialsChangedAsync(CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(_options.PasswordFile))
        {
            return;
        }
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var devices = await _store.ListCredentialsAsync(cancellationToken).ConfigureAwait(false);
            _hubHash ??= MosquittoPasswordHash.Create(_options.Password!);
            var text = new StringBuilder();
            text.Append(_options.Username).Append(':').Append(_hubHash).Append('\n');
            foreach (var (deviceId, hash) in devices)
            {
                text.Append(deviceId).Append(':').Append(hash).Append('\n');
            }
            var temp = _options.PasswordFile + ".tmp";
            await File.WriteAllTextAsync(temp, text.ToString(), cancellationToken).ConfigureAwait(false);
            if (!OperatingSystem.IsWindows())
            {
                // Group-readable so a broker running under another user of the hub's group can read it; it holds only PBKDF2 hashes.
                File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
            }
            File.Move(temp, _options.PasswordFile, overwrite: true);
            HubLog.PasswordFileWritten(_logger, _options.PasswordFile, devices.Count + 1);
            await SignalReloadAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task SignalReloadAsync(CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(_options.PidFile))
        {
            return;
        }
        try
        {
            var pid = int.Parse((await File.ReadAllTextAsync(_options.PidFile, cancellationToken).ConfigureAwait(false)).Trim(), CultureInfo.InvariantCulture);
            using var kill = Process.Start(new ProcessStartInfo("kill", ["-HUP", pid.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
            await kill.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            if (kill.ExitCode != 0)
            {
                throw new InvalidOperationException($"kill -HUP {pid} exited with {kill.ExitCode}");
            }
        }
        catch (Exception ex) when (ex is IOException or FormatException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            HubLog.ReloadFailed(_logger, ex);
        }
    }
}
