using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using MedVision.Edge.Ingest;
using MedVision.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace MedVision.Edge.Tests.EndToEnd;

/// <summary>The real appliance started in-process on free ports with its own data folder, as `dotnet run` starts it.</summary>
public sealed class RunningAppliance : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RunningAppliance(WebApplication app, TempDirectory data, string[] args)
    {
        _app = app;
        Data = data;
        Args = args;
        Http = new HttpClient { BaseAddress = new Uri(HttpAddress(app)), Timeout = TimeSpan.FromSeconds(30) };
    }

    public TempDirectory Data { get; }

    public string[] Args { get; }

    public HttpClient Http { get; }

    /// <summary>The host's services, for tests that drive components (e.g. output producers) of the running appliance.</summary>
    public IServiceProvider Services => _app.Services;

    public int DicomPort => _app.Services.GetRequiredService<DicomListenerService>().BoundPort;

    public string DicomPortText => DicomPort.ToString(CultureInfo.InvariantCulture);

    public static Task<RunningAppliance> StartAsync(params string[] extraArgs) => StartAsync(new TempDirectory("medvision-edge"), extraArgs);

    public static Task<RunningAppliance> StartAsync(TempDirectory data, params string[] extraArgs) => StartAsync(data, null, extraArgs);

    /// <param name="configureServices">Registrations added after the appliance's own (e.g. test output producers).</param>
    public static async Task<RunningAppliance> StartAsync(TempDirectory data, Action<IServiceCollection>? configureServices, params string[] extraArgs)
    {
        string[] args =
        [
            $"--MedVision:Storage:Root={data.Path}",
            "--MedVision:Dicom:Port=0",
            "--MedVision:Dicom:BindAddress=127.0.0.1",
            "--MedVision:Pipeline:PollSeconds=1",
            "--urls=http://127.0.0.1:0",
            // Information-level logs of dozens of appliances bury the failing test's message in CI output.
            "--Logging:LogLevel:Default=Warning",
            .. extraArgs,
        ];
        var app = EdgeApp.Build(args, configureServices);
        await app.StartAsync();
        return new RunningAppliance(app, data, args);
    }

    /// <summary>Stops the host the way systemd does (SIGTERM → graceful stop), keeping the data folder.</summary>
    public async Task StopAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>Polls until <paramref name="predicate"/> holds for the JSON at <paramref name="path"/>.</summary>
    public async Task<JsonElement> WaitForAsync(string path, Func<JsonElement, bool> predicate, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        JsonElement last;
        do
        {
            last = await GetJsonAsync(path);
            if (predicate(last))
            {
                return last;
            }
            await Task.Delay(200);
        }
        while (DateTime.UtcNow < deadline);
        throw new TimeoutException($"{path} did not reach the expected state within {timeout}; last answer: {last}");
    }

    private static string HttpAddress(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        try
        {
            await StopAsync();
        }
        catch (ObjectDisposedException)
        {
            // Already stopped by the test.
        }
        Data.Dispose();
    }
}
