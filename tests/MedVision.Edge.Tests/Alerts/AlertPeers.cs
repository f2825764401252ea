using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using MedVision.Testing;
using MimeKit;

namespace MedVision.Edge.Tests.Alerts;

/// <summary>A peer program (Debian's python with aiosmtpd, or the stdlib HTTP server) listening on a loopback port.</summary>
public abstract class PeerProcess : IAsyncDisposable
{
    private const string DebianPython = "/usr/bin/python3";
    private Process? _process;

    protected PeerProcess(int port)
    {
        Port = port;
        Folder = new TempDirectory("medvision-alert-peer");
    }

    public int Port { get; }

    public TempDirectory Folder { get; }

    protected static string ScriptFolder => Path.Combine(RepoPaths.Root, "tests", "MedVision.Edge.Tests", "Alerts");

    /// <summary>A loopback port nobody listens on right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    protected async Task StartAsync(IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        if (!File.Exists(DebianPython))
        {
            throw new InvalidOperationException($"{DebianPython} is missing. Run the tests with ./build.sh test, which installs the Debian peers.");
        }
        var start = new ProcessStartInfo(DebianPython)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = ScriptFolder,
        };
        // No __pycache__ beside the scripts in the source tree.
        start.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }
        _process = Process.Start(start) ?? throw new InvalidOperationException("Could not start " + DebianPython);
        var stderr = new System.Text.StringBuilder();
        _process.ErrorDataReceived += (_, e) => { lock (stderr) { stderr.AppendLine(e.Data); } };
        _process.OutputDataReceived += (_, _) => { };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{GetType().Name} exited with {_process.ExitCode}: {stderr}");
            }
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }
        throw new TimeoutException($"{GetType().Name} did not listen on port {Port} within 10 s: {stderr}");
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process?.Dispose();
        Folder.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>aiosmtpd on loopback, writing every message it receives to a folder (smtp_sink.py).</summary>
public sealed class SmtpSink : PeerProcess
{
    private SmtpSink(int port)
        : base(port)
    {
    }

    public static async Task<SmtpSink> StartAsync(int? port = null)
    {
        var sink = new SmtpSink(port ?? FreePort());
        try
        {
            await sink.StartAsync(
                ["-m", "aiosmtpd", "-n", "-l", $"127.0.0.1:{sink.Port}", "-c", "smtp_sink.FolderSink", sink.Folder.Path],
                new Dictionary<string, string> { ["PYTHONPATH"] = ScriptFolder });
            return sink;
        }
        catch
        {
            await sink.DisposeAsync();
            throw;
        }
    }

    public IReadOnlyList<MimeMessage> Messages() =>
        Directory.GetFiles(Folder.Path, "*.eml").Order(StringComparer.Ordinal).Select(f => MimeMessage.Load(f)).ToList();

    public IReadOnlyList<MimeMessage> MessagesTo(string address) =>
        Messages().Where(m => m.To.Mailboxes.Any(b => b.Address.Equals(address, StringComparison.OrdinalIgnoreCase))).ToList();

    public async Task<MimeMessage> WaitForMessageToAsync(string address, TimeSpan timeout, int count = 1)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var messages = MessagesTo(address);
            if (messages.Count >= count)
            {
                return messages[count - 1];
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"No message {count} to {address} within {timeout}; received {Messages().Count} message(s).");
            }
            await Task.Delay(100);
        }
    }
}

/// <summary>Python's stdlib HTTP server on loopback, writing every POST body to a folder (webhook_sink.py).</summary>
public sealed class WebhookSink : PeerProcess
{
    private WebhookSink(int port)
        : base(port)
    {
    }

    public string Url => $"http://127.0.0.1:{Port}/page";

    public static async Task<WebhookSink> StartAsync()
    {
        var sink = new WebhookSink(FreePort());
        try
        {
            await sink.StartAsync(["webhook_sink.py", sink.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), sink.Folder.Path]);
            return sink;
        }
        catch
        {
            await sink.DisposeAsync();
            throw;
        }
    }

    public IReadOnlyList<string> Bodies() =>
        Directory.GetFiles(Folder.Path, "*.json").Order(StringComparer.Ordinal).Select(File.ReadAllText).ToList();
}
