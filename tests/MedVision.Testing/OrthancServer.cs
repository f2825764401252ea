using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace MedVision.Testing;

/// <summary>A real Orthanc PACS (Debian package) on loopback with its own storage, for interoperability tests.</summary>
public sealed class OrthancServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TempDirectory _storage;

    private OrthancServer(Process process, TempDirectory storage, int httpPort, int dicomPort)
    {
        _process = process;
        _storage = storage;
        DicomPort = dicomPort;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public const string AeTitle = "ORTHANC";

    public int DicomPort { get; }

    public HttpClient Http { get; }

    /// <param name="modalities">Peers Orthanc may send to (C-MOVE destinations, REST store): AE title → port on 127.0.0.1.</param>
    /// <param name="dicomPort">A port chosen earlier with <see cref="FreePort"/> (a PACS that comes up later); default: a free one.</param>
    public static async Task<OrthancServer> StartAsync(IReadOnlyDictionary<string, int>? modalities = null, int? dicomPort = null)
    {
        // A port found free can be taken again before Orthanc binds it (by a parallel test, or as the local port of an
        // outgoing connection, which the kernel picks from the same range): Orthanc then exits at once. Try again then,
        // with a fresh HTTP port and, unless the caller fixed it, a fresh DICOM port.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnceAsync(modalities, dicomPort ?? FreePort()).ConfigureAwait(false);
            }
            catch (OrthancStartException) when (attempt < 4)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500 * attempt)).ConfigureAwait(false);
            }
        }
    }

    private static async Task<OrthancServer> StartOnceAsync(IReadOnlyDictionary<string, int>? modalities, int dicomPort)
    {
        var storage = new TempDirectory("medvision-orthanc");
        var httpPort = FreePort();
        var config = new Dictionary<string, object>
        {
            ["Name"] = "MedVisionTestPacs",
            ["StorageDirectory"] = storage.Combine("storage"),
            ["IndexDirectory"] = storage.Combine("index"),
            ["HttpPort"] = httpPort,
            ["HttpServerEnabled"] = true,
            ["RemoteAccessAllowed"] = false,
            ["AuthenticationEnabled"] = false,
            ["DicomServerEnabled"] = true,
            ["DicomAet"] = AeTitle,
            ["DicomPort"] = dicomPort,
            ["DicomCheckCalledAet"] = true,
            ["DicomAlwaysAllowStore"] = true,
            ["DicomAlwaysAllowEcho"] = true,
            ["DicomAlwaysAllowFind"] = true,
            ["DicomAlwaysAllowMove"] = true,
            ["DicomAlwaysAllowGet"] = true,
            ["UnknownSopClassAccepted"] = true,
            ["DicomModalities"] = (modalities ?? new Dictionary<string, int>()).ToDictionary(m => m.Key, m => new object[] { m.Key, "127.0.0.1", m.Value }),
            ["Plugins"] = Array.Empty<string>(),
            ["StorageCompression"] = false,
        };
        var configPath = storage.Combine("orthanc.json");
        await File.WriteAllTextAsync(configPath, JsonSerializer.Serialize(config));
        var start = new ProcessStartInfo(ExternalTool.Require("Orthanc"))
        {
            ArgumentList = { configPath },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start Orthanc.");
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        void Keep(string? line)
        {
            if (line is null)
            {
                return;
            }
            output.Enqueue(line);
            while (output.Count > 20 && output.TryDequeue(out _))
            {
            }
        }
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new OrthancServer(process, storage, httpPort, dicomPort);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            if (process.HasExited)
            {
                storage.Dispose();
                throw new OrthancStartException($"Orthanc exited with code {process.ExitCode} during start-up (HTTP {httpPort}, DICOM {dicomPort}): {string.Join(" | ", output)}");
            }
            try
            {
                using var response = await server.Http.GetAsync("/system");
                if (response.IsSuccessStatusCode)
                {
                    return server;
                }
            }
            catch (HttpRequestException)
            {
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Orthanc did not answer its REST API within 30 s.");
            }
            await Task.Delay(200);
        }
    }

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    public async Task<JsonElement> PostJsonAsync(string path, string body)
    {
        using var response = await Http.PostAsync(path, new StringContent(body));
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    /// <summary>Uploads a file through REST (how a test seeds the PACS).</summary>
    public async Task<string> UploadAsync(string path)
    {
        using var response = await Http.PostAsync("/instances", new ByteArrayContent(await File.ReadAllBytesAsync(path)));
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("ID").GetString()!;
    }

    /// <summary>The Orthanc id of the instance with this SOP Instance UID, or null.</summary>
    public async Task<string?> FindInstanceAsync(string sopInstanceUid)
    {
        var found = await PostJsonAsync("/tools/lookup", sopInstanceUid);
        return found.EnumerateArray().Where(e => e.GetProperty("Type").GetString() == "Instance").Select(e => e.GetProperty("ID").GetString()).FirstOrDefault();
    }

    /// <summary>A TCP port on loopback that nothing listens on right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        _storage.Dispose();
    }
}

/// <summary>Orthanc stopped before it answered; usually a port taken between choosing and binding it.</summary>
public sealed class OrthancStartException(string message) : InvalidOperationException(message);
