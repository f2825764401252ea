using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace MedVision.Testing;

/// <summary>
/// A throw-away PostgreSQL server (Debian package <c>postgresql</c>) in a temp folder on a free loopback port, trust
/// authentication. PostgreSQL refuses to run as root, so under root it runs as the package's <c>postgres</c> user.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private readonly TempDirectory _folder;
    private readonly Process _process;

    private PostgresServer(TempDirectory folder, Process process, int port)
    {
        _folder = folder;
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public string ConnectionString => $"Host=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};Username=postgres;Database=postgres;Pooling=true";

    public static async Task<PostgresServer> StartAsync()
    {
        var bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderByDescending(d => d, StringComparer.Ordinal).FirstOrDefault()
            : null;
        if (bin is null)
        {
            throw new InvalidOperationException("PostgreSQL is not installed: apt-get install postgresql (deploy/scripts/peers.d/cloud.list).");
        }
        var folder = new TempDirectory("medvision-postgres");
        var asRoot = Environment.UserName == "root";
        if (asRoot)
        {
            var chown = await ExternalTool.RunAsync("chown", ["-R", "postgres:postgres", folder.Path]);
            if (chown.ExitCode != 0)
            {
                throw new InvalidOperationException("chown failed: " + chown.Combined);
            }
        }
        var data = folder.Combine("data");
        var init = await Run(asRoot, Path.Combine(bin, "initdb"), ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
        if (init.ExitCode != 0)
        {
            throw new InvalidOperationException("initdb failed: " + init.Combined);
        }
        var port = FreePort();
        string[] serverArgs = ["-D", data, "-p", port.ToString(CultureInfo.InvariantCulture), "-k", folder.Path, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"];
        var start = asRoot
            ? new ProcessStartInfo("runuser", ["-u", "postgres", "--", Path.Combine(bin, "postgres"), .. serverArgs])
            : new ProcessStartInfo(Path.Combine(bin, "postgres"), serverArgs);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start postgres.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new PostgresServer(folder, process, port);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var ready = await ExternalTool.RunAsync(Path.Combine(bin, "pg_isready"), ["-h", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-U", "postgres"]);
            if (ready.ExitCode == 0)
            {
                return server;
            }
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                await server.DisposeAsync();
                throw new InvalidOperationException("PostgreSQL did not start: " + ready.Combined);
            }
            await Task.Delay(100);
        }
    }

    private static Task<ToolResult> Run(bool asRoot, string command, string[] arguments) =>
        asRoot ? ExternalTool.RunAsync("runuser", ["-u", "postgres", "--", command, .. arguments], TimeSpan.FromSeconds(120)) : ExternalTool.RunAsync(command, arguments, TimeSpan.FromSeconds(120));

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        _folder.Dispose();
    }
}
