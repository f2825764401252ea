using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MedVision.Dicom;
using MedVision.Dicom.IO;
using MedVision.Edge.Export;
using MedVision.Edge.Inference;
using MedVision.Edge.Outputs;
using MedVision.Edge.Storage;
using MedVision.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace MedVision.Edge.Tests.Export;

/// <summary>
/// What the export tests plug into the appliance in place of the real producers, so outbox behaviour is tested apart from what
/// the objects contain: with the appliance's own results reader, a producer that emits a real DICOM Secondary Capture (a copy of
/// the study's first instance with new UIDs, written by our DICOM library) and one that emits a FHIR transaction Bundle.
/// </summary>
internal static class ExportTestKit
{
    public const string SecondaryCaptureClass = "1.2.840.10008.5.1.4.1.1.7";

    /// <summary>
    /// Storage, inference, outputs and export as the appliance registers them, without its host, on a migrated database
    /// under <paramref name="storageRoot"/>; <paramref name="configure"/> adjusts the registrations before the build.
    /// </summary>
    public static async Task<ServiceProvider> BuildServicesAsync(string storageRoot, IReadOnlyDictionary<string, string?> settings, Action<IServiceCollection>? configure = null)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>(settings) { ["MedVision:Storage:Root"] = storageRoot })
            .Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddEdgeStorage(configuration);
        services.AddEdgeInference(configuration);
        services.AddEdgeOutputs(configuration);
        services.AddEdgeExport(configuration);
        configure?.Invoke(services);
        var provider = services.BuildServiceProvider();
        await provider.GetRequiredService<EdgeDatabase>().MigrateAsync(CancellationToken.None);
        return provider;
    }

    /// <summary>Closes the database's pooled connections before the provider goes, so the test's folder can be deleted.</summary>
    public static async Task DisposeServicesAsync(ServiceProvider? services)
    {
        if (services is not null)
        {
            services.GetRequiredService<EdgeDatabase>().Dispose();
            await services.DisposeAsync();
        }
    }

    public static void UseTestProducers(IServiceCollection services)
    {
        services.RemoveAll<IStudyOutputProducer>();
        services.AddSingleton<IStudyOutputProducer, SecondaryCaptureCopyProducer>();
        services.AddSingleton<IStudyOutputProducer, FhirBundleProducer>();
    }

    /// <summary>Small backoff so retries and dead letters happen within seconds.</summary>
    public static string[] FastRetries(int maxAttempts) =>
    [
        "--MedVision:Pipeline:StudyQuietSeconds=0.5",
        $"--MedVision:Export:MaxAttempts={maxAttempts.ToString(CultureInfo.InvariantCulture)}",
        "--MedVision:Export:InitialBackoffSeconds=0.2",
        "--MedVision:Export:MaxBackoffSeconds=0.5",
        "--MedVision:Export:AttemptTimeoutSeconds=10",
        "--MedVision:Export:InAttemptRetries=0",
    ];

    public static string[] DicomDestination(int port, string name = "pacs") =>
    [
        $"--MedVision:Export:Destinations:0:Name={name}",
        "--MedVision:Export:Destinations:0:Type=dicom",
        "--MedVision:Export:Destinations:0:Host=127.0.0.1",
        $"--MedVision:Export:Destinations:0:Port={port.ToString(CultureInfo.InvariantCulture)}",
        $"--MedVision:Export:Destinations:0:CalledAe={OrthancServer.AeTitle}",
    ];

    /// <summary>Sends a new one-instance CR study with storescu; returns its Study Instance UID.</summary>
    public static async Task<string> SendStudyAsync(EndToEnd.RunningAppliance appliance, int image = 10)
    {
        using var files = new TempDirectory();
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        var created = ChestXrayDicom.Create(files.Path, images.Image(image), scale: 4);
        var sent = await ExternalTool.RunAsync("storescu", ["-aec", "MEDVISION", "127.0.0.1", appliance.DicomPortText, created.Path]);
        Assert.True(sent.ExitCode == 0, sent.Combined);
        return created.StudyUid;
    }

    /// <summary>Waits until the study has outputs and every delivery satisfies <paramref name="done"/>.</summary>
    public static Task<JsonElement> WaitForDeliveriesAsync(EndToEnd.RunningAppliance appliance, string study, Func<JsonElement, bool> done, int seconds = 30) =>
        appliance.WaitForAsync($"/api/studies/{study}/outputs",
            outputs => outputs.GetArrayLength() > 0 && outputs.EnumerateArray().SelectMany(o => o.GetProperty("deliveries").EnumerateArray()).All(done),
            TimeSpan.FromSeconds(seconds));

    public static IEnumerable<JsonElement> Deliveries(JsonElement outputs) => outputs.EnumerateArray().SelectMany(o => o.GetProperty("deliveries").EnumerateArray());

    public static string State(JsonElement delivery) => delivery.GetProperty("state").GetString()!;
}

/// <summary>A Secondary Capture copy of the study's first instance: new SOP Instance and Series UIDs, same pixels.</summary>
internal sealed class SecondaryCaptureCopyProducer : IStudyOutputProducer
{
    public bool IsEnabled => true;

    public Task<IReadOnlyList<StudyOutput>> ProduceAsync(StudyResults results, CancellationToken cancellationToken)
    {
        var source = DicomFile.Open(results.Instances[0].SpoolPath);
        var sop = ChestXrayDicom.NewUid();
        var dataset = source.Dataset
            .AddOrUpdate(DicomTags.SOPClassUID, DicomVR.UI, ExportTestKit.SecondaryCaptureClass)
            .AddOrUpdate(DicomTags.SOPInstanceUID, DicomVR.UI, sop)
            .AddOrUpdate(DicomTags.SeriesInstanceUID, DicomVR.UI, ChestXrayDicom.NewUid())
            .AddOrUpdate(DicomTags.SeriesNumber, DicomVR.IS, "901")
            .AddOrUpdate(DicomTags.ConversionType, DicomVR.CS, "WSD");
        var body = new MemoryStream();
        DicomWriter.WriteFile(body, DicomFile.Create(dataset, DicomTransferSyntax.ExplicitVRLittleEndian));
        IReadOnlyList<StudyOutput> outputs =
            [new StudyOutput(StudyOutputKinds.SecondaryCapture, $"SC_{sop}.dcm", "application/dicom", body.ToArray(), ExportTestKit.SecondaryCaptureClass, sop)];
        return Task.FromResult(outputs);
    }
}

/// <summary>A FHIR R4 transaction Bundle with one DiagnosticReport naming the study.</summary>
internal sealed class FhirBundleProducer : IStudyOutputProducer
{
    public bool IsEnabled => true;

    public Task<IReadOnlyList<StudyOutput>> ProduceAsync(StudyResults results, CancellationToken cancellationToken)
    {
        var bundle = new
        {
            resourceType = "Bundle",
            type = "transaction",
            entry = new[]
            {
                new
                {
                    fullUrl = "urn:uuid:" + Guid.NewGuid().ToString("D"),
                    resource = new
                    {
                        resourceType = "DiagnosticReport",
                        status = "preliminary",
                        code = new { text = "MedVision AI findings" },
                        identifier = new[] { new { system = "urn:dicom:uid", value = "urn:oid:" + results.Study.StudyInstanceUid } },
                    },
                    request = new { method = "POST", url = "DiagnosticReport" },
                },
            },
        };
        IReadOnlyList<StudyOutput> outputs =
            [new StudyOutput(StudyOutputKinds.FhirBundle, "bundle.json", "application/fhir+json", JsonSerializer.SerializeToUtf8Bytes(bundle))];
        return Task.FromResult(outputs);
    }
}

/// <summary>
/// A minimal FHIR endpoint on loopback (Kestrel): checks the Authorization header, answers the scripted statuses in order
/// (then 200) and records every request it accepted.
/// </summary>
internal sealed class FhirTestEndpoint : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<int> _script;

    private FhirTestEndpoint(WebApplication app, ConcurrentQueue<int> script)
    {
        _app = app;
        _script = script;
    }

    public string Url => _app.Urls.First() + "/fhir";

    public ConcurrentQueue<(string Authorization, string ContentType, string Body, int Status)> Requests { get; } = new();

    public static async Task<FhirTestEndpoint> StartAsync(string expectedAuthorization, params int[] script)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var endpoint = new FhirTestEndpoint(app, new ConcurrentQueue<int>(script));
        app.MapPost("/fhir", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            var auth = context.Request.Headers.Authorization.ToString();
            var status = auth != expectedAuthorization ? 401 : endpoint._script.TryDequeue(out var s) ? s : 200;
            endpoint.Requests.Enqueue((auth, context.Request.ContentType ?? "", body, status));
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/fhir+json";
            var outcome = status switch
            {
                200 => """{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"201 Created"}}]}""",
                401 => """{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"login","diagnostics":"Missing or wrong credentials"}]}""",
                400 => """{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"Bundle.entry[0]: DiagnosticReport.subject is required"}]}""",
                _ => """{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"transient","diagnostics":"Server busy, try later"}]}""",
            };
            await context.Response.WriteAsync(outcome);
        });
        await app.StartAsync();
        return endpoint;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
