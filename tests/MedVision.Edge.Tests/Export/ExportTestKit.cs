using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MedVision.Dicom;
using MedVision.Dicom.IO;
using MedVision.Edge.Outputs;
using MedVision.Edge.Storage;
using MedVision.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace MedVision.Edge.Tests.Export;

/// <summary>
/// What the export tests plug into the appliance in place of the real producers (which arrive with their own branches):
/// a results reader over the appliance's own database, a producer that emits a real DICOM Secondary Capture (a copy of the
/// study's first instance with new UIDs, written by our DICOM library) and one that emits a FHIR transaction Bundle.
/// </summary>
internal static class ExportTestKit
{
    public const string SecondaryCaptureClass = "1.2.840.10008.5.1.4.1.1.7";

    public static void UseTestProducers(IServiceCollection services)
    {
        services.RemoveAll<IStudyOutputProducer>();
        services.AddSingleton<IStudyResultsReader, DatabaseResultsReader>();
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

/// <summary>Reads the study header and instances straight from the appliance's SQLite database.</summary>
internal sealed class DatabaseResultsReader(EdgeDatabase database) : IStudyResultsReader
{
    public async Task<StudyResults?> ReadAsync(string studyUid, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var study = connection.CreateCommand();
        study.CommandText = "SELECT patient_id, patient_name, study_date, accession_number, modality FROM studies WHERE study_uid = $s;";
        study.Parameters.AddWithValue("$s", studyUid);
        StudyHeader header;
        await using (var reader = await study.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                return null;
            }
            string? S(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
            header = new StudyHeader(studyUid, S(1), S(0), null, null, S(2), null, S(3), null, null, null, S(4));
        }
        await using var instances = connection.CreateCommand();
        instances.CommandText = "SELECT sop_class_uid, sop_instance_uid, series_uid, modality, spool_path FROM instances WHERE study_uid = $s ORDER BY received_utc;";
        instances.Parameters.AddWithValue("$s", studyUid);
        var list = new List<SourceInstance>();
        await using (var reader = await instances.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                list.Add(new SourceInstance(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetString(4)));
            }
        }
        return new StudyResults(header, list, [], null);
    }
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
