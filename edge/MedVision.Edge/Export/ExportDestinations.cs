using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using MedVision.Dicom;
using MedVision.Dicom.IO;
using MedVision.Dicom.Network;
using MedVision.Edge.Ingest;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Export;

/// <summary>How one try at sending an output ended.</summary>
public enum DeliveryResult
{
    Delivered,

    /// <summary>Worth retrying at once inside the attempt (connection refused or reset, HTTP 503/429/408, timeout).</summary>
    Transient,

    /// <summary>The attempt failed (e.g. a C-STORE failure status); the outbox retries it on its schedule.</summary>
    Failed,

    /// <summary>Retrying cannot help (e.g. FHIR 400 with an OperationOutcome): the delivery is dead at once.</summary>
    Permanent,
}

public sealed record DeliveryOutcome(DeliveryResult Result, string? Error = null)
{
    public static DeliveryOutcome Ok { get; } = new(DeliveryResult.Delivered);
}

/// <summary>A configured place outputs are sent to. One instance per <c>MedVision:Export:Destinations:N</c> entry.</summary>
public interface IExportDestination
{
    string Name { get; }

    ExportDestinationOptions Options { get; }

    /// <summary>Sends the stored output once. Network errors may be thrown; the caller classifies them.</summary>
    Task<DeliveryOutcome> DeliverAsync(OutputRecord output, CancellationToken cancellationToken);
}

/// <summary>The enabled destinations, built from configuration at start.</summary>
public sealed class ExportDestinations
{
    public ExportDestinations(IOptions<ExportOptions> options, IHttpClientFactory httpClients, ILogger<ExportDestinations> logger)
    {
        All = options.Value.Destinations
            .Where(d => d.Enabled)
            .Select(d => d.NormalizedType switch
            {
                ExportDestinationOptions.Dicom => (IExportDestination)new DicomExportDestination(d, logger),
                ExportDestinationOptions.Fhir => new FhirExportDestination(d, httpClients),
                _ => new FolderExportDestination(d),
            })
            .ToList();
    }

    public IReadOnlyList<IExportDestination> All { get; }

    /// <summary>Names of the destinations that take outputs of <paramref name="kind"/>.</summary>
    public IReadOnlyList<string> For(string kind) => All.Where(d => d.Options.Accepts(kind)).Select(d => d.Name).ToList();

    /// <summary>Whether an exception is a network hiccup worth an immediate retry.</summary>
    public static bool IsTransient(Exception exception) => exception is SocketException or IOException or HttpRequestException or TimeoutException
        || (exception is DicomAssociationRejectedException rejected && rejected.Result == 2);
}

/// <summary>
/// C-STORE to a PACS with our <see cref="DicomClient"/>, one association per output, proposing the output's SOP class in
/// its own syntax (when compressed) and Explicit/Implicit VR Little Endian. Re-sending after a crash mid-send is safe: a
/// PACS treats a C-STORE of a SOP Instance UID it holds as the same instance.
/// </summary>
public sealed class DicomExportDestination(ExportDestinationOptions options, ILogger logger) : IExportDestination
{
    public string Name => options.EffectiveName;

    public ExportDestinationOptions Options => options;

    public async Task<DeliveryOutcome> DeliverAsync(OutputRecord output, CancellationToken cancellationToken)
    {
        DicomFile file;
        try
        {
            var bytes = await File.ReadAllBytesAsync(output.Path, cancellationToken).ConfigureAwait(false);
            file = DicomReader.Read(new MemoryStream(bytes, writable: false));
        }
        catch (DicomFormatException ex)
        {
            return new DeliveryOutcome(DeliveryResult.Permanent, $"The stored output is not a DICOM file: {ex.Message}");
        }
        var sopClass = file.Dataset.GetStringOrDefault(DicomTags.SOPClassUID) ?? output.SopClassUid;
        var sopInstance = file.Dataset.GetStringOrDefault(DicomTags.SOPInstanceUID) ?? output.SopInstanceUid;
        if (string.IsNullOrEmpty(sopClass) || string.IsNullOrEmpty(sopInstance))
        {
            return new DeliveryOutcome(DeliveryResult.Permanent, "The stored output has no SOP Class or SOP Instance UID.");
        }
        var syntaxes = new List<string>();
        if (file.TransferSyntax.IsEncapsulated)
        {
            syntaxes.Add(file.TransferSyntax.Uid);
        }
        syntaxes.Add(DicomTransferSyntax.ExplicitVRLittleEndian.Uid);
        syntaxes.Add(DicomTransferSyntax.ImplicitVRLittleEndian.Uid);

        var tls = options.Tls ? DicomClientTlsOptions.FromPemFiles(options.TlsCaPath, options.TlsCertificatePath, options.TlsKeyPath) : null;
        await using var client = await DicomClient.ConnectAsync(
            options.Host!, options.Port, options.CallingAe.Trim(), options.CalledAe!.Trim(),
            [new PresentationContextProposal(1, sopClass, syntaxes)], [], tls, cancellationToken).ConfigureAwait(false);
        if (client.AcceptedContexts.Count == 0)
        {
            await client.ReleaseAsync(cancellationToken).ConfigureAwait(false);
            return new DeliveryOutcome(DeliveryResult.Failed, $"{options.CalledAe} accepted no presentation context for SOP class {sopClass}.");
        }
        var status = await client.StoreAsync(file, cancellationToken).ConfigureAwait(false);
        try
        {
            await client.ReleaseAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or DicomFormatException or SocketException)
        {
            // The status is what counts; a peer that drops the release has still stored (or refused) the instance.
        }
        if (status.IsSuccess)
        {
            return DeliveryOutcome.Ok;
        }
        if (status.IsWarning)
        {
            ExportLog.StoreWarning(logger, sopInstance, Name, status.ToString());
            return DeliveryOutcome.Ok;
        }
        return new DeliveryOutcome(DeliveryResult.Failed, $"C-STORE status {status}");
    }
}

/// <summary>
/// POSTs the FHIR transaction Bundle. 2xx: delivered; 408, 429 and 5xx: retried; any other 4xx: dead at once with the
/// server's OperationOutcome text (the same Bundle would be refused again).
/// </summary>
public sealed class FhirExportDestination(ExportDestinationOptions options, IHttpClientFactory httpClients) : IExportDestination
{
    public const string HttpClientName = "MedVision.Export.Fhir";
    public const string FhirJson = "application/fhir+json";

    private const int MaxErrorLength = 2000;

    public string Name => options.EffectiveName;

    public ExportDestinationOptions Options => options;

    public async Task<DeliveryOutcome> DeliverAsync(OutputRecord output, CancellationToken cancellationToken)
    {
        var body = await File.ReadAllBytesAsync(output.Path, cancellationToken).ConfigureAwait(false);
        using var request = new HttpRequestMessage(HttpMethod.Post, options.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(FhirJson) { CharSet = "utf-8" };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(FhirJson));
        if (!string.IsNullOrEmpty(options.BearerToken))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.BearerToken);
        }
        else if (!string.IsNullOrEmpty(options.Username))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue(
                "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{options.Username}:{options.Password}")));
        }
        var client = httpClients.CreateClient(HttpClientName);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        var code = (int)response.StatusCode;
        if (response.IsSuccessStatusCode)
        {
            return DeliveryOutcome.Ok;
        }
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        var error = $"HTTP {code} {response.ReasonPhrase}: {Describe(text)}";
        return response.StatusCode switch
        {
            HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests or >= HttpStatusCode.InternalServerError => new(DeliveryResult.Transient, error),
            >= HttpStatusCode.BadRequest => new(DeliveryResult.Permanent, error),
            _ => new(DeliveryResult.Failed, error),
        };
    }

    /// <summary>The issues of an OperationOutcome (severity, code, diagnostics or details), else the start of the body.</summary>
    internal static string Describe(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("resourceType", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "OperationOutcome"
                && root.TryGetProperty("issue", out var issues) && issues.ValueKind == JsonValueKind.Array)
            {
                var parts = issues.EnumerateArray().Select(issue =>
                {
                    var severity = Text(issue, "severity");
                    var code = Text(issue, "code");
                    var detail = Text(issue, "diagnostics")
                        ?? (issue.TryGetProperty("details", out var details) && details.ValueKind == JsonValueKind.Object ? Text(details, "text") : null);
                    return $"{severity ?? "error"} {code ?? "?"}: {detail ?? "(no text)"}";
                }).ToList();
                if (parts.Count > 0)
                {
                    return Truncate("OperationOutcome " + string.Join("; ", parts));
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON: the raw text says more than nothing.
        }
        return Truncate(string.IsNullOrWhiteSpace(body) ? "(empty body)" : body.Trim());
    }

    private static string? Text(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string Truncate(string text) => text.Length <= MaxErrorLength ? text : text[..MaxErrorLength] + "…";
}

/// <summary>
/// Copies the output into <c>&lt;Path&gt;/&lt;study&gt;/&lt;output id&gt;_&lt;file name&gt;</c> atomically: written to a
/// hidden temporary name, fsync'd, renamed over the final name, folder fsync'd. A repeat overwrites the same file.
/// </summary>
public sealed class FolderExportDestination(ExportDestinationOptions options) : IExportDestination
{
    private readonly string _root = System.IO.Path.GetFullPath(options.Path!);

    public string Name => options.EffectiveName;

    public ExportDestinationOptions Options => options;

    public async Task<DeliveryOutcome> DeliverAsync(OutputRecord output, CancellationToken cancellationToken)
    {
        var folder = System.IO.Path.Combine(_root, OutputFiles.SafeName(output.StudyUid));
        Directory.CreateDirectory(folder);
        var name = $"{output.Id}_{OutputFiles.SafeName(output.FileName)}";
        var final = System.IO.Path.Combine(folder, name);
        var temporary = System.IO.Path.Combine(folder, $".{name}.partial");
        await using (var source = new FileStream(output.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true))
        await using (var target = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
        {
            await source.CopyToAsync(target, cancellationToken).ConfigureAwait(false);
            await target.FlushAsync(cancellationToken).ConfigureAwait(false);
            target.Flush(flushToDisk: true);
        }
        File.Move(temporary, final, overwrite: true);
        Durability.FsyncDirectory(folder);
        Durability.FsyncDirectory(_root);
        return DeliveryOutcome.Ok;
    }
}
