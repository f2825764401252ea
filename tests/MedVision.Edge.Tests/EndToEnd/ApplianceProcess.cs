using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using MedVision.Testing;

namespace MedVision.Edge.Tests.EndToEnd;

/// <summary>
/// The appliance as its own OS process (the built MedVision.Edge.dll), for tests that must kill it the hard way.
/// </summary>
public sealed class ApplianceProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ApplianceProcess(Process process, int dicomPort, int httpPort)
    {
        _process = process;
        DicomPort = dicomPort;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public int DicomPort { get; }

    public string DicomPortText => DicomPort.ToString(CultureInfo.InvariantCulture);

    public HttpClient Http { get; }

    public static async Task<ApplianceProcess> StartAsync(string storageRoot, params string[] extraArgs)
    {
        var dicomPort = FreePort();
        var httpPort = FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])[Path.Combine(AppContext.BaseDirectory, "MedVision.Edge.dll"),
                     $"--MedVision:Storage:Root={storageRoot}", $"--MedVision:Dicom:Port={dicomPort}", "--MedVision:Dicom:BindAddress=127.0.0.1",
                     "--MedVision:Pipeline:PollSeconds=1", $"--urls=http://127.0.0.1:{httpPort}", "--Logging:LogLevel:Default=Warning", .. extraArgs])
        {
            start.ArgumentList.Add(arg);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the appliance process.");
        // Drain output so the child never blocks on a full pipe.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var appliance = new ApplianceProcess(process, dicomPort, httpPort);
        await appliance.WaitUntilServingAsync();
        return appliance;
    }

    /// <summary>SIGKILL: no shutdown code runs, as in a power cut of the process.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    private async Task WaitUntilServingAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The appliance exited with code {_process.ExitCode} during start-up.");
            }
            try
            {
                using var response = await Http.GetAsync("/healthz");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(200);
        }
        throw new TimeoutException("The appliance did not answer /healthz within 60 s.");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            Kill();
        }
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
