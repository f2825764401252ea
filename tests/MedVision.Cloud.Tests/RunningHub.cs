using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using MedVision.Cloud;
using MedVision.Cloud.Broker;
using MedVision.Contracts;
using MedVision.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace MedVision.Cloud.Tests;

/// <summary>
/// The real hub started in-process, as `dotnet run --project cloud/MedVision.Cloud` starts it, on fixed free ports
/// and its own database, so it can be stopped and started again on the same address (an outage).
/// Shared with MedVision.Edge.Tests as a linked source file.
/// </summary>
public sealed class RunningHub : IAsyncDisposable
{
    private WebApplication? _app;

    private RunningHub(TempDirectory data, int httpPort, int mqttPort, string[] extraArgs)
    {
        Data = data;
        HttpPort = httpPort;
        MqttPort = mqttPort;
        ExtraArgs = extraArgs;
        Http = new HttpClient { BaseAddress = new Uri(HttpUrl), Timeout = TimeSpan.FromSeconds(30) };
    }

    public TempDirectory Data { get; }

    public int HttpPort { get; }

    /// <summary>The embedded broker's port (unused with an external broker).</summary>
    public int MqttPort { get; }

    public string[] ExtraArgs { get; }

    public string HttpUrl => $"http://127.0.0.1:{HttpPort.ToString(CultureInfo.InvariantCulture)}";

    public HttpClient Http { get; }

    public IServiceProvider Services => _app?.Services ?? throw new InvalidOperationException("The hub is stopped.");

    public static async Task<RunningHub> StartAsync(params string[] extraArgs)
    {
        var hub = new RunningHub(new TempDirectory("medvision-hub"), FreePort(), FreePort(), extraArgs);
        await hub.RestartAsync();
        return hub;
    }

    /// <summary>Starts the hub (again) on the same ports and database.</summary>
    public async Task RestartAsync()
    {
        string[] args =
        [
            $"--MedVision:Hub:DatabasePath={Data.Combine("hub.db")}",
            $"--MedVision:Hub:MqttPort={MqttPort.ToString(CultureInfo.InvariantCulture)}",
            "--MedVision:Hub:MqttBindAddress=127.0.0.1",
            $"--urls={HttpUrl}",
            "--Logging:LogLevel:Default=Warning",
            .. ExtraArgs,
        ];
        var app = HubApp.Build(args);
        await app.StartAsync();
        _app = app;
    }

    public async Task StopAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    public async Task<EnrolmentTokenResponse> CreateEnrolmentTokenAsync(string siteId, string? deviceId = null)
    {
        using var response = await Http.PostAsJsonAsync("/api/enrolments", new EnrolmentTokenRequest(siteId, deviceId, null), ContractJson.Options);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<EnrolmentTokenResponse>(ContractJson.Options))!;
    }

    public async Task<EnrolmentResponse> EnrolAsync(string siteId, string deviceId)
    {
        var token = await CreateEnrolmentTokenAsync(siteId, deviceId);
        using var response = await Http.PostAsJsonAsync("/api/enrol", new EnrolmentRequest(token.Token, "test"), ContractJson.Options);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<EnrolmentResponse>(ContractJson.Options))!;
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
            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);
        throw new TimeoutException($"{path} did not reach the expected state within {timeout}; last answer: {last}");
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await StopAsync();
        Data.Dispose();
    }
}
