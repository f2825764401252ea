using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MedVision.Testing;

/// <summary>
/// A real Mosquitto broker (Debian package) on a free loopback port: no anonymous access, a password file the hub
/// rewrites, the ACL file from the README (each device confined to <c>devices/{its user name}/</c>) and persistence,
/// so it can be stopped and started again (an outage) without losing what it had acknowledged.
/// </summary>
public sealed class MosquittoBroker : IAsyncDisposable
{
    private readonly TempDirectory _folder;
    private readonly StringBuilder _log = new();
    private Process? _process;

    private MosquittoBroker(TempDirectory folder, int port, string hubUser, string hubPassword)
    {
        _folder = folder;
        Port = port;
        HubUser = hubUser;
        HubPassword = hubPassword;
    }

    public int Port { get; }

    public string HubUser { get; }

    public string HubPassword { get; }

    public string PasswordFile => _folder.Combine("passwd");

    public string PidFile => _folder.Combine("mosquitto.pid");

    public string ConfigFile => _folder.Combine("mosquitto.conf");

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>The hub settings that point a hub at this broker.</summary>
    public string[] HubArgs =>
    [
        "--MedVision:Hub:Broker=External",
        "--MedVision:Hub:External:Host=127.0.0.1",
        $"--MedVision:Hub:External:Port={Port.ToString(CultureInfo.InvariantCulture)}",
        $"--MedVision:Hub:External:Username={HubUser}",
        $"--MedVision:Hub:External:Password={HubPassword}",
        $"--MedVision:Hub:External:PasswordFile={PasswordFile}",
        $"--MedVision:Hub:External:PidFile={PidFile}",
    ];

    public static async Task<MosquittoBroker> StartAsync()
    {
        ExternalTool.Require("mosquitto");
        var folder = new TempDirectory("medvision-mosquitto");
        var broker = new MosquittoBroker(folder, FreePort(), "medvision-hub", Convert.ToHexString(Guid.NewGuid().ToByteArray()));
        Directory.CreateDirectory(folder.Combine("data"));
        // Started as root, Mosquitto would drop to user 'mosquitto' and could then not re-read the files in our temp folder.
        await File.WriteAllTextAsync(broker.ConfigFile, $"""
            per_listener_settings false
            listener {broker.Port} 127.0.0.1
            protocol mqtt
            allow_anonymous false
            password_file {broker.PasswordFile}
            acl_file {folder.Combine("acl")}
            persistence true
            persistence_location {folder.Combine("data")}/
            autosave_interval 1
            max_queued_messages 100000
            max_inflight_messages 0
            log_dest stderr
            log_type error
            log_type warning
            log_type notice
            {(Environment.UserName == "root" ? "user root" : "")}

            """);
        await File.WriteAllTextAsync(folder.Combine("acl"), $"""
            user {broker.HubUser}
            topic readwrite devices/#

            pattern write devices/%u/#
            pattern read devices/%u/twin/#
            pattern read devices/%u/models/#

            """);
        // The hub rewrites this file with every device; at first it holds only the hub (hashed by the real tool).
        var passwd = await ExternalTool.RunAsync("mosquitto_passwd", ["-c", "-b", broker.PasswordFile, broker.HubUser, broker.HubPassword]);
        if (passwd.ExitCode != 0)
        {
            throw new InvalidOperationException("mosquitto_passwd failed: " + passwd.Combined);
        }
        await broker.StartProcessAsync();
        return broker;
    }

    /// <summary>Starts the broker again after <see cref="StopAsync"/>, on the same port and persistence file.</summary>
    public Task RestartAsync() => StartProcessAsync();

    /// <summary>Stops the broker as systemd would (SIGTERM: it saves its persistence file and exits).</summary>
    public async Task StopAsync()
    {
        var process = _process;
        if (process is null || process.HasExited)
        {
            return;
        }
        using (var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!)
        {
            await kill.WaitForExitAsync();
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await process.WaitForExitAsync(timeout.Token);
        process.Dispose();
        _process = null;
    }

    private async Task StartProcessAsync()
    {
        var start = new ProcessStartInfo("mosquitto", ["-c", ConfigFile])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start mosquitto.");
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        await File.WriteAllTextAsync(PidFile, process.Id.ToString(CultureInfo.InvariantCulture));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"mosquitto exited with code {process.ExitCode} during start-up: {Log}");
            }
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_log)
        {
            _log.AppendLine(line);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            process.Dispose();
        }
        _folder.Dispose();
    }
}
