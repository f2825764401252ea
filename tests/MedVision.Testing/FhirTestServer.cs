using System.Text;
using System.Text.Json;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Task = System.Threading.Tasks.Task;

namespace MedVision.Testing;

/// <summary>Settings of a <see cref="FhirTestServer"/>.</summary>
public sealed record FhirTestServerOptions
{
    /// <summary>When set, every request must carry <c>Authorization: Bearer &lt;token&gt;</c>, otherwise 401.</summary>
    public string? RequiredBearerToken { get; init; }

    /// <summary>Answer 400 with the validator's OperationOutcome to a Bundle with validation errors (a real server does).</summary>
    public bool RejectInvalid { get; init; } = true;

    /// <summary>Validator to share between servers (building one reads the FHIR specification); null builds one.</summary>
    public FhirR4Validator? Validator { get; init; }
}

/// <summary>One HTTP request the server answered, whatever the answer.</summary>
public sealed record FhirTestRequest(DateTimeOffset ReceivedUtc, string Method, string Path, string? ContentType, string? Authorization, int StatusCode, string Body);

/// <summary>A transaction or batch Bundle that parsed, with the full validator's verdict.</summary>
public sealed record ReceivedBundle(DateTimeOffset ReceivedUtc, string Json, Bundle Bundle, FhirValidationResult Validation)
{
    public bool IsValid => Validation.IsValid;
}

/// <summary>
/// A small FHIR R4 server on loopback (Kestrel, free port) for tests: accepts POST of a transaction/batch Bundle to its base URL, parses
/// it with the Firely parser, validates it with the full validator against the base R4 profiles, records it, and applies its entries to
/// an in-memory store with FHIR's conditional semantics (POST with ifNoneExist, PUT Type?identifier=…; urn:uuid references resolved
/// to the stored ids), so a test can see whether a re-sent Bundle duplicated anything. <c>GET [base]/Type?identifier=system|value</c> searches that store. Can demand a bearer token
/// and can fail the next N requests with 503 to exercise a client's retries.
/// </summary>
public sealed class FhirTestServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly FhirTestServerOptions _options;
    private readonly FhirR4Validator _validator;
    private readonly JsonSerializerOptions _json = new JsonSerializerOptions().ForFhir(ModelInfo.ModelInspector);
    private readonly Lock _gate = new();
    private readonly List<FhirTestRequest> _requests = [];
    private readonly List<ReceivedBundle> _bundles = [];
    private readonly List<Resource> _store = [];
    private readonly List<TaskCompletionSource<ReceivedBundle>> _waiters = [];
    private int _failNext;
    private int _failStatus = 503;
    private int _nextId;

    private FhirTestServer(WebApplication app, FhirTestServerOptions options, FhirR4Validator validator)
    {
        _app = app;
        _options = options;
        _validator = validator;
    }

    /// <summary>Base URL without a trailing slash, e.g. http://127.0.0.1:41234/fhir.</summary>
    public Uri BaseUrl { get; private set; } = null!;

    public static async Task<FhirTestServer> StartAsync(FhirTestServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new FhirTestServerOptions();
        var validator = options.Validator ?? new FhirR4Validator();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var server = new FhirTestServer(app, options, validator);
        app.Run(server.HandleAsync);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseUrl = new Uri(address.TrimEnd('/') + "/fhir");
        return server;
    }

    /// <summary>Every request answered so far, oldest first.</summary>
    public IReadOnlyList<FhirTestRequest> Requests
    {
        get { lock (_gate) { return [.. _requests]; } }
    }

    /// <summary>Every Bundle that parsed, valid or not, oldest first.</summary>
    public IReadOnlyList<ReceivedBundle> ReceivedBundles
    {
        get { lock (_gate) { return [.. _bundles]; } }
    }

    /// <summary>The resources the store holds now (after conditional create/update), in creation order.</summary>
    public IReadOnlyList<Resource> StoredResources
    {
        get { lock (_gate) { return [.. _store]; } }
    }

    /// <summary>Answers the next <paramref name="count"/> requests with <paramref name="statusCode"/> (default 503) before doing anything else.</summary>
    public void FailNextRequests(int count, int statusCode = 503)
    {
        lock (_gate)
        {
            _failNext = count;
            _failStatus = statusCode;
        }
    }

    /// <summary>The first Bundle received at index <paramref name="index"/> (0 = first ever), waiting for it up to <paramref name="timeout"/>.</summary>
    public async Task<ReceivedBundle> WaitForBundleAsync(int index, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        TaskCompletionSource<ReceivedBundle> waiter;
        lock (_gate)
        {
            if (_bundles.Count > index)
            {
                return _bundles[index];
            }
            waiter = new TaskCompletionSource<ReceivedBundle>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add(waiter);
        }
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        while (true)
        {
            try
            {
                await waiter.Task.WaitAsync(timeoutSource.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"The FHIR test server received {ReceivedBundles.Count} Bundle(s) in {timeout}, expected at least {index + 1}.");
            }
            lock (_gate)
            {
                if (_bundles.Count > index)
                {
                    return _bundles[index];
                }
                waiter = new TaskCompletionSource<ReceivedBundle>(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters.Add(waiter);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        string body;
        using (var reader = new StreamReader(request.Body, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync(context.RequestAborted).ConfigureAwait(false);
        }
        var (status, response) = Answer(context, body);
        lock (_gate)
        {
            _requests.Add(new FhirTestRequest(DateTimeOffset.UtcNow, request.Method, request.Path + request.QueryString, request.ContentType,
                request.Headers.Authorization.ToString() is { Length: > 0 } auth ? auth : null, status, body));
        }
        context.Response.StatusCode = status;
        if (status == 401)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }
        if (response is not null)
        {
            context.Response.ContentType = "application/fhir+json";
            await context.Response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(response, _json), context.RequestAborted).ConfigureAwait(false);
        }
    }

    private (int Status, Resource? Response) Answer(HttpContext context, string body)
    {
        lock (_gate)
        {
            if (_failNext > 0)
            {
                _failNext--;
                return (_failStatus, Outcome(OperationOutcome.IssueType.Transient, $"failing on purpose ({_failNext} more)"));
            }
        }
        var request = context.Request;
        if (_options.RequiredBearerToken is { } token && request.Headers.Authorization.ToString() != "Bearer " + token)
        {
            return (401, Outcome(OperationOutcome.IssueType.Login, "missing or wrong bearer token"));
        }
        var basePath = BaseUrl.AbsolutePath.TrimEnd('/');
        var path = request.Path.Value?.TrimEnd('/') ?? "";
        if (HttpMethods.IsGet(request.Method) && path.StartsWith(basePath + "/", StringComparison.Ordinal))
        {
            return (200, Search(path[(basePath.Length + 1)..], request.Query["identifier"].ToString()));
        }
        if (!HttpMethods.IsPost(request.Method) || path != basePath)
        {
            return (404, Outcome(OperationOutcome.IssueType.NotSupported, $"only POST {basePath} (transaction/batch) and GET {basePath}/Type are served"));
        }
        var mediaType = request.ContentType?.Split(';')[0].Trim();
        if (mediaType is not ("application/fhir+json" or "application/json"))
        {
            return (415, Outcome(OperationOutcome.IssueType.NotSupported, $"content type '{request.ContentType}' is not application/fhir+json"));
        }

        Bundle bundle;
        IReadOnlyList<string> parseErrors = [];
        try
        {
            using (JsonDocument.Parse(body))
            {
                // Only syntax is checked here; FHIR content errors are the validator's to report.
            }
            bundle = JsonSerializer.Deserialize<Bundle>(body, _json) ?? throw new JsonException("empty body");
        }
        catch (DeserializationFailedException ex) when (ex.PartialResult is Bundle partial)
        {
            // Well-formed JSON that breaks FHIR rules (a missing required element, say): keep what parsed so the validator can say why.
            bundle = partial;
            parseErrors = ex.Exceptions.Select(e => "Error: " + e.Message).ToList();
        }
        catch (Exception ex) when (ex is JsonException or DeserializationFailedException or InvalidCastException)
        {
            return (400, Outcome(OperationOutcome.IssueType.Structure, "not a parsable FHIR R4 Bundle: " + ex.Message));
        }
        if (bundle.Type is not (Bundle.BundleType.Transaction or Bundle.BundleType.Batch))
        {
            return (400, Outcome(OperationOutcome.IssueType.Invalid, $"Bundle type {bundle.Type} is neither transaction nor batch"));
        }

        var validation = _validator.Validate(bundle);
        if (parseErrors.Count > 0)
        {
            validation = validation with { Errors = [.. parseErrors, .. validation.Errors] };
        }
        var received = new ReceivedBundle(DateTimeOffset.UtcNow, body, bundle, validation);
        List<TaskCompletionSource<ReceivedBundle>> waiters;
        lock (_gate)
        {
            _bundles.Add(received);
            waiters = [.. _waiters];
            _waiters.Clear();
        }
        foreach (var waiter in waiters)
        {
            waiter.TrySetResult(received);
        }
        if (!validation.IsValid && _options.RejectInvalid)
        {
            return (400, validation.Outcome);
        }
        lock (_gate)
        {
            return (200, Apply(bundle));
        }
    }

    /// <summary>FHIR transaction processing, reduced to what the appliance sends: create, conditional create, conditional update.</summary>
    private Bundle Apply(Bundle bundle)
    {
        var response = new Bundle { Type = bundle.Type == Bundle.BundleType.Batch ? Bundle.BundleType.BatchResponse : Bundle.BundleType.TransactionResponse };
        var resolved = new Dictionary<string, string>(StringComparer.Ordinal);
        var written = new List<Resource>();
        foreach (var entry in bundle.Entry)
        {
            var resource = entry.Resource;
            var method = entry.Request?.Method;
            var url = entry.Request?.Url ?? "";
            string status;
            Resource? target = null;
            if (resource is null || method is not (Bundle.HTTPVerb.POST or Bundle.HTTPVerb.PUT))
            {
                response.Entry.Add(new Bundle.EntryComponent { Response = new Bundle.ResponseComponent { Status = "400 Bad Request" } });
                continue;
            }
            var condition = method == Bundle.HTTPVerb.POST ? entry.Request!.IfNoneExist : url.Contains('?', StringComparison.Ordinal) ? url[(url.IndexOf('?', StringComparison.Ordinal) + 1)..] : null;
            var matches = condition is null ? [] : Find(resource.TypeName, condition);
            if (matches.Count > 1)
            {
                status = "412 Precondition Failed";
            }
            else if (matches.Count == 1 && method == Bundle.HTTPVerb.POST)
            {
                target = matches[0];
                status = "200 OK";
            }
            else if (matches.Count == 1)
            {
                var copy = (Resource)resource.DeepCopy();
                copy.Id = matches[0].Id;
                copy.Meta = new Meta { VersionId = ((int.TryParse(matches[0].Meta?.VersionId, out var v) ? v : 1) + 1).ToString(System.Globalization.CultureInfo.InvariantCulture) };
                _store[_store.IndexOf(matches[0])] = copy;
                target = copy;
                status = "200 OK";
            }
            else
            {
                var copy = (Resource)resource.DeepCopy();
                copy.Id = (++_nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
                copy.Meta = new Meta { VersionId = "1" };
                _store.Add(copy);
                target = copy;
                status = "201 Created";
            }
            if (target is not null && entry.FullUrl is { } fullUrl)
            {
                resolved[fullUrl] = $"{target.TypeName}/{target.Id}";
            }
            if (status != "412 Precondition Failed" && !(matches.Count == 1 && method == Bundle.HTTPVerb.POST) && target is not null)
            {
                written.Add(target);
            }
            response.Entry.Add(new Bundle.EntryComponent
            {
                Response = new Bundle.ResponseComponent
                {
                    Status = status,
                    Location = target is null ? null : $"{target.TypeName}/{target.Id}/_history/{target.Meta?.VersionId}",
                },
            });
        }
        // As a server must: references to an entry's fullUrl (urn:uuid:…) now point at the resource it created or matched.
        foreach (var resource in written)
        {
            var json = JsonSerializer.Serialize(resource, _json);
            foreach (var (fullUrl, reference) in resolved)
            {
                json = json.Replace(JsonSerializer.Serialize(fullUrl), JsonSerializer.Serialize(reference), StringComparison.Ordinal);
            }
            _store[_store.IndexOf(resource)] = (Resource)JsonSerializer.Deserialize(json, resource.GetType(), _json)!;
        }
        return response;
    }

    private Bundle Search(string resourceType, string identifier)
    {
        List<Resource> found;
        lock (_gate)
        {
            found = string.IsNullOrEmpty(identifier)
                ? _store.Where(r => r.TypeName == resourceType).ToList()
                : Find(resourceType, "identifier=" + Uri.EscapeDataString(identifier));
        }
        var bundle = new Bundle { Type = Bundle.BundleType.Searchset, Total = found.Count };
        bundle.Entry.AddRange(found.Select(r => new Bundle.EntryComponent { FullUrl = $"{BaseUrl}/{r.TypeName}/{r.Id}", Resource = r }));
        return bundle;
    }

    /// <summary>Resources of the type whose identifier matches <c>identifier=system|value</c> (FHIR search escapes undone).</summary>
    private List<Resource> Find(string resourceType, string query)
    {
        var parameter = query.Split('&').Select(p => p.Split('=', 2)).FirstOrDefault(p => p[0] == "identifier");
        if (parameter is not { Length: 2 })
        {
            return [];
        }
        var token = Uri.UnescapeDataString(parameter[1]);
        var bar = IndexOfUnescapedBar(token);
        string? system = bar >= 0 ? token[..bar] : null;
        var value = Unescape(bar >= 0 ? token[(bar + 1)..] : token);
        return _store
            .Where(r => r.TypeName == resourceType)
            .Where(r => Identifiers(r).Any(i => i.Value == value && (system is null || i.System == system)))
            .ToList();
    }

    private static IEnumerable<Identifier> Identifiers(Resource resource) => resource switch
    {
        Observation o => o.Identifier,
        DiagnosticReport d => d.Identifier,
        ImagingStudy s => s.Identifier,
        Patient p => p.Identifier,
        _ => [],
    };

    private static int IndexOfUnescapedBar(string token)
    {
        for (var i = 0; i < token.Length; i++)
        {
            if (token[i] == '\\')
            {
                i++;
            }
            else if (token[i] == '|')
            {
                return i;
            }
        }
        return -1;
    }

    private static string Unescape(string value)
    {
        var text = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '\\' && i + 1 < value.Length)
            {
                i++;
            }
            text.Append(value[i]);
        }
        return text.ToString();
    }

    private static OperationOutcome Outcome(OperationOutcome.IssueType type, string text) => new()
    {
        Issue = [new OperationOutcome.IssueComponent { Severity = OperationOutcome.IssueSeverity.Error, Code = type, Diagnostics = text }],
    };
}
