using MedVision.Testing;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MedVision.Edge.Api;
using MedVision.Edge.Inference;
using MedVision.Edge.Storage;
using MedVision.Edge.Tests.Inference;
using MedVision.Edge.Tests.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MedVision.Edge.Tests.Api;

/// <summary>
/// Runs the real API with the real storage and model registry on 127.0.0.1, port 0, over a temp storage root.
/// Any error the server logs fails the test.
/// </summary>
public sealed class EdgeApiTests : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "medvision-edge-tests", Guid.NewGuid().ToString("N"));
    private readonly CapturingLoggerProvider _logs = new();
    private readonly FakeContributor _dicom = new();
    private WebApplication? _app;
    private HttpClient? _client;

    private HttpClient Client => _client!;

    public async Task InitializeAsync()
    {
        _app = await StartAsync(Path.GetDirectoryName(RepoPaths.PneumoniaPackage)!);
        _client = new HttpClient { BaseAddress = new Uri(_app.Urls.First()) };
    }

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        Assert.DoesNotContain(_logs.Entries, e => e.Level >= LogLevel.Error);
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort only.
        }
    }

    [Fact]
    public async Task Healthz_reports_storage_models_and_contributors()
    {
        using var response = await Client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var health = document.RootElement;

        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.Empty(health.GetProperty("reasons").EnumerateArray());
        Assert.False(string.IsNullOrEmpty(health.GetProperty("version").GetString()));
        Assert.True(health.GetProperty("uptimeSeconds").GetDouble() >= 0);
        Assert.Equal(3, health.GetProperty("dicom").GetProperty("associations").GetInt32());

        var storage = health.GetProperty("storage");
        Assert.Equal(_root, storage.GetProperty("root").GetString());
        Assert.True(storage.GetProperty("freeMegabytes").GetInt64() > 0);
        Assert.Equal(0, storage.GetProperty("studies").GetInt64());
        Assert.Equal(0, storage.GetProperty("instances").GetProperty("received").GetInt64());
        Assert.Equal(0, storage.GetProperty("findings").GetInt64());

        // Every shipped package loads; this test looks at the chest X-ray one.
        var models = health.GetProperty("models").EnumerateArray().ToList();
        Assert.Equal(Directory.GetDirectories(RepoPaths.ModelPackages).Length, models.Count);
        var model = Assert.Single(models, m => m.GetProperty("id").GetString() == "cxr-pneumonia");
        Assert.Equal("CPU", model.GetProperty("executionProvider").GetString());
        Assert.Equal(64, model.GetProperty("sha256").GetString()!.Length);
        Assert.Equal("pneumonia", model.GetProperty("labels")[0].GetProperty("name").GetString());
        Assert.Empty(health.GetProperty("modelErrors").EnumerateArray());
    }

    [Fact]
    public async Task Healthz_is_degraded_but_still_200_when_a_contributor_is_unhealthy()
    {
        _dicom.Healthy = false;

        using var response = await Client.GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("degraded", document.RootElement.GetProperty("status").GetString());
        Assert.Contains(document.RootElement.GetProperty("reasons").EnumerateArray(),
            r => r.GetString()!.Contains("dicom", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Studies_and_findings_are_served_from_the_store()
    {
        var store = _app!.Services.GetRequiredService<IStudyStore>();
        var received = new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.Zero);
        await store.RecordReceivedAsync(TempStorage.Instance("1.1", study: "2.25.1", received: received), CancellationToken.None);
        await store.RecordReceivedAsync(TempStorage.Instance("1.2", study: "2.25.2", received: received.AddMinutes(1)), CancellationToken.None);
        await store.AddFindingsAsync(
            [new FindingRecord("2.25.1", "1.1", "cxr-pneumonia", "1.0.0", new string('b', 64), "pneumonia", 0.9, 0.46, true, "CPU", 1.25, received)],
            CancellationToken.None);

        var studies = await Client.GetFromJsonAsync<JsonElement>("/api/studies?limit=10&offset=0");
        Assert.Equal(["2.25.2", "2.25.1"], studies.EnumerateArray().Select(s => s.GetProperty("studyInstanceUid").GetString()));
        var first = studies[1];
        Assert.Equal("PAT1", first.GetProperty("patientId").GetString());
        Assert.Equal("CR", first.GetProperty("modality").GetString());
        Assert.Equal(1, first.GetProperty("instanceCount").GetInt32());
        Assert.Equal("receiving", first.GetProperty("status").GetString());
        Assert.Equal(received, first.GetProperty("firstReceivedUtc").GetDateTimeOffset());
        Assert.Equal(received, first.GetProperty("lastReceivedUtc").GetDateTimeOffset());
        Assert.Single((await Client.GetFromJsonAsync<JsonElement>("/api/studies?limit=1&offset=1")).EnumerateArray());

        var study = await Client.GetFromJsonAsync<JsonElement>("/api/studies/2.25.1");
        Assert.Equal("2.25.1", study.GetProperty("studyInstanceUid").GetString());

        using var missing = await Client.GetAsync("/api/studies/9.9.9");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
        Assert.Equal(404, (await missing.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetInt32());

        var findings = await Client.GetFromJsonAsync<JsonElement>("/api/findings?study=2.25.1&limit=5");
        var finding = Assert.Single(findings.EnumerateArray());
        Assert.True(finding.GetProperty("id").GetInt64() > 0);
        Assert.Equal("2.25.1", finding.GetProperty("studyInstanceUid").GetString());
        Assert.Equal("1.1", finding.GetProperty("sopInstanceUid").GetString());
        Assert.Equal("cxr-pneumonia", finding.GetProperty("modelId").GetString());
        Assert.Equal("1.0.0", finding.GetProperty("modelVersion").GetString());
        Assert.Equal(new string('b', 64), finding.GetProperty("modelSha256").GetString());
        Assert.Equal("pneumonia", finding.GetProperty("label").GetString());
        Assert.Equal(0.9, finding.GetProperty("probability").GetDouble());
        Assert.Equal(0.46, finding.GetProperty("threshold").GetDouble());
        Assert.True(finding.GetProperty("positive").GetBoolean());
        Assert.Equal("CPU", finding.GetProperty("executionProvider").GetString());
        Assert.Equal(1.25, finding.GetProperty("inferenceMs").GetDouble());
        Assert.Equal(received, finding.GetProperty("createdUtc").GetDateTimeOffset());
        Assert.Empty((await Client.GetFromJsonAsync<JsonElement>("/api/findings?study=2.25.2")).EnumerateArray());
        Assert.Single((await Client.GetFromJsonAsync<JsonElement>("/api/findings")).EnumerateArray());

        var health = await Client.GetFromJsonAsync<JsonElement>("/healthz");
        Assert.Equal(2, health.GetProperty("storage").GetProperty("studies").GetInt64());
        Assert.Equal(2, health.GetProperty("storage").GetProperty("instances").GetProperty("received").GetInt64());
        Assert.Equal(1, health.GetProperty("storage").GetProperty("findings").GetInt64());
    }

    [Fact]
    public async Task Out_of_range_paging_is_a_400_problem()
    {
        using var response = await Client.GetAsync("/api/studies?limit=0");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var negative = await Client.GetAsync("/api/studies?offset=-1");
        Assert.Equal(HttpStatusCode.BadRequest, negative.StatusCode);
        using var findings = await Client.GetAsync("/api/findings?limit=100000");
        Assert.Equal(HttpStatusCode.BadRequest, findings.StatusCode);
    }

    [Fact]
    public async Task Healthz_is_degraded_when_no_model_could_be_loaded()
    {
        await using var app = await StartAsync(Path.Combine(_root, "no-models-here"));
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };

        var health = await client.GetFromJsonAsync<JsonElement>("/healthz");

        Assert.Equal("degraded", health.GetProperty("status").GetString());
        Assert.Contains(health.GetProperty("reasons").EnumerateArray(), r => r.GetString() == "no model loaded");
        Assert.Empty(health.GetProperty("models").EnumerateArray());
        Assert.Single(health.GetProperty("modelErrors").EnumerateArray());
        await app.StopAsync();
    }

    private async Task<WebApplication> StartAsync(string modelsDirectory)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MedVision:Storage:Root"] = _root,
            ["MedVision:Storage:MinFreeDiskMegabytes"] = "0",
            ["MedVision:Inference:ModelsDirectory"] = modelsDirectory,
        });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(_logs);
        builder.Services.AddEdgeStorage(builder.Configuration);
        builder.Services.AddEdgeInference(builder.Configuration);
        builder.Services.AddSingleton<IHealthContributor>(_dicom);

        var app = builder.Build();
        app.MapEdgeApi();
        await app.StartAsync();
        return app;
    }

    private sealed class FakeContributor : IHealthContributor
    {
        public string Name => "dicom";

        public bool Healthy { get; set; } = true;

        public object Describe() => new { associations = 3, port = 11112 };
    }
}
