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
/// <c>pattern readwrite devices/%u/#</c> gives each user its own subtree only. A write that fails is logged, not
/// thrown: the enrolment it follows is already committed, and the broker client writes again until it succeeds.
/// </summary>
internal sealed class MosquittoPasswordFile : IBrokerCredentialSink
{
    private readonly IHubStore _store;
    private readonly ExternalBrokerOptions _options;
    private readonly ILogger<MosquittoPasswordFile> _logger;
    private static readonly TimeSpan LockWait = TimeSpan.FromSeconds(10);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private string? _hubHash;
    private bool _upToDate;

    public MosquittoPasswordFile(IHubStore store, IOptions<HubOptions> options, ILogger<MosquittoPasswordFile> logger)
    {
        _store = store;
        _options = options.Value.External;
        _logger = logger;
    }

    public bool UpToDate => string.IsNullOrEmpty(_options.PasswordFile) || Volatile.Read(ref _upToDate);

    public async Task CredentialsChangedAsync(CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(_options.PasswordFile))
        {
            return;
        }
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // False until this write succeeds, so a failed one leaves the broker client retrying.
            Volatile.Write(ref _upToDate, false);
            await using (await LockAsync(_options.PasswordFile, cancellationToken).ConfigureAwait(false))
            {
                // Read under the lock: a snapshot read before another instance's newer one must not be renamed over it.
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
            }
            Volatile.Write(ref _upToDate, true);
            await SignalReloadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The database (already committed) stays the truth; the broker client retries while UpToDate is false.
            HubLog.PasswordFileFailed(_logger, _options.PasswordFile, ex);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// An exclusive lock beside the password file, so hub instances sharing one broker (and one folder) write it one at a
    /// time. .NET takes FileShare.None as an flock, which another process or another open in this one is refused.
    /// </summary>
    private static async Task<FileStream> LockAsync(string passwordFile, CancellationToken cancellationToken)
    {
        var path = passwordFile + ".lock";
        var deadline = DateTime.UtcNow + LockWait;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException ex) when (ex is not FileNotFoundException and not DirectoryNotFoundException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            }
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
