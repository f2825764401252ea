using System.Collections.Frozen;
using System.Diagnostics;
using System.Reflection;
using MedVision.Edge.Inference;
using MedVision.Edge.Review;
using MedVision.Edge.Storage;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Api;

/// <summary>The appliance's HTTP API: <c>/healthz</c> and read-only views of studies and findings.</summary>
public static class EdgeApi
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 1000;

    /// <summary>Health keys the contributors cannot take.</summary>
    private static readonly FrozenSet<string> ReservedHealthKeys = new[]
    {
        "status", "version", "uptimeSeconds", "reasons", "storage", "models", "modelErrors",
    }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Maps <c>GET /healthz</c>, <c>GET /api/studies</c>, <c>GET /api/studies/{studyUid}</c> and
    /// <c>GET /api/findings</c>. Needs <c>AddEdgeStorage</c> and <c>AddEdgeInference</c>; health contributors
    /// (<see cref="IHealthContributor"/>) are optional.
    /// </summary>
    public static IEndpointRouteBuilder MapEdgeApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        DateTimeOffset processStartUtc;
        using (var process = Process.GetCurrentProcess())
        {
            processStartUtc = new DateTimeOffset(process.StartTime.ToUniversalTime(), TimeSpan.Zero);
        }
        var version = typeof(EdgeApi).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? typeof(EdgeApi).Assembly.GetName().Version?.ToString()
            ?? "unknown";

        endpoints.MapGet("/healthz", (
                [FromServices] IStudyStore store,
                [FromServices] IDiskSpace disk,
                [FromServices] IOptions<StorageOptions> storage,
                [FromServices] ModelRegistry models,
                [FromServices] IEnumerable<IHealthContributor> contributors,
                [FromServices] ILoggerFactory loggerFactory,
                CancellationToken cancellationToken) =>
            HealthAsync(store, disk, storage.Value, models, contributors, loggerFactory, version, processStartUtc, cancellationToken))
            .WithName("Health");

        var api = endpoints.MapGroup("/api");
        api.MapGet("/studies", ListStudiesAsync).WithName("ListStudies");
        api.MapGet("/studies/{studyUid}", GetStudyAsync).WithName("GetStudy");
        api.MapGet("/findings", ListFindingsAsync).WithName("ListFindings");
        return endpoints;
    }

    private static async Task<IResult> HealthAsync(
        IStudyStore store,
        IDiskSpace disk,
        StorageOptions storage,
        ModelRegistry models,
        IEnumerable<IHealthContributor> contributors,
        ILoggerFactory loggerFactory,
        string version,
        DateTimeOffset processStartUtc,
        CancellationToken cancellationToken)
    {
        var logger = loggerFactory.CreateLogger(typeof(EdgeApi).FullName!);
        var reasons = new List<string>();

        var contributorDocuments = new List<KeyValuePair<string, object?>>();
        foreach (var contributor in contributors)
        {
            var key = ReservedHealthKeys.Contains(contributor.Name) ? "contributor:" + contributor.Name : contributor.Name;
            try
            {
                contributorDocuments.Add(new(key, contributor.Describe()));
                if (!contributor.Healthy)
                {
                    reasons.Add($"{contributor.Name} is unhealthy");
                }
            }
            catch (Exception ex)
            {
                ApiLog.ContributorFailed(logger, contributor.Name, ex);
                contributorDocuments.Add(new(key, new { error = ex.Message }));
                reasons.Add($"{contributor.Name} failed to report: {ex.Message}");
            }
        }

        long freeMegabytes = -1;
        try
        {
            freeMegabytes = disk.FreeBytes / (1024 * 1024);
            if (disk.IsBelowWatermark)
            {
                reasons.Add($"free disk {freeMegabytes} MB is below the {storage.MinFreeDiskMegabytes} MB watermark");
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            reasons.Add($"free disk space unknown: {ex.Message}");
        }

        StorageHealthDto storageDocument;
        try
        {
            var statistics = await store.GetStatisticsAsync(cancellationToken).ConfigureAwait(false);
            storageDocument = new StorageHealthDto(storage.Root, freeMegabytes, storage.MinFreeDiskMegabytes,
                statistics.Studies, statistics.InstancesByState, statistics.Findings, null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Health must answer even when the database does not: that is when it is needed most.
            ApiLog.StorageStatisticsFailed(logger, ex);
            storageDocument = new StorageHealthDto(storage.Root, freeMegabytes, storage.MinFreeDiskMegabytes, null, null, null, ex.Message);
            reasons.Add($"storage statistics unavailable: {ex.Message}");
        }

        var loaded = models.Models;
        if (loaded.Count == 0)
        {
            reasons.Add(models.IsLoaded ? "no model loaded" : "models not loaded yet");
        }
        var modelErrors = models.Errors;
        if (modelErrors.Count > 0)
        {
            reasons.Add($"{modelErrors.Count} model package(s) refused");
        }

        var document = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["status"] = reasons.Count == 0 ? "ok" : "degraded",
            ["version"] = version,
            ["uptimeSeconds"] = Math.Max(0, Math.Round((DateTimeOffset.UtcNow - processStartUtc).TotalSeconds, 1)),
            ["reasons"] = reasons,
        };
        foreach (var (key, value) in contributorDocuments)
        {
            document[key] = value;
        }
        document["storage"] = storageDocument;
        document["models"] = loaded.Select(m => new ModelHealthDto(
            m.Id,
            m.Version,
            m.Sha256,
            m.ExecutionProvider,
            m.Manifest.AppliesTo.Modalities,
            m.Labels.Select(l => new LabelHealthDto(l.Name, l.Display, l.Threshold)).ToList())).ToList();
        document["modelErrors"] = modelErrors.Select(e => new ModelErrorDto(e.Package, e.Reason)).ToList();

        // 200 even when degraded: the appliance must stay reachable so someone can read why.
        return Results.Ok(document);
    }

    private static async Task<IResult> ListStudiesAsync(
        [FromServices] IStudyStore store, int? limit, int? offset, CancellationToken cancellationToken)
    {
        if (ValidateLimit(limit) is { } problem)
        {
            return problem;
        }
        if (offset is < 0)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["offset"] = ["offset must not be negative."] });
        }
        var studies = await store.ListStudiesAsync(limit ?? DefaultLimit, offset ?? 0, cancellationToken).ConfigureAwait(false);
        return Results.Ok(studies.Select(StudyDto.From).ToList());
    }

    private static async Task<IResult> GetStudyAsync(
        [FromServices] IStudyStore store, string studyUid, CancellationToken cancellationToken)
    {
        var study = await store.GetStudyAsync(studyUid, cancellationToken).ConfigureAwait(false);
        return study is null
            ? Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Study not found",
                detail: $"No study with Study Instance UID '{studyUid}' has been received.")
            : Results.Ok(StudyDto.From(study));
    }

    private static async Task<IResult> ListFindingsAsync(
        [FromServices] IStudyStore store, [FromServices] IServiceProvider services, [FromQuery(Name = "study")] string? study, int? limit, CancellationToken cancellationToken)
    {
        if (ValidateLimit(limit) is { } problem)
        {
            return problem;
        }
        var findings = await store.ListFindingsAsync(string.IsNullOrWhiteSpace(study) ? null : study,
            limit ?? DefaultLimit, cancellationToken).ConfigureAwait(false);
        // Hosts without the review feature (AddEdgeReview) list findings as before, with review null.
        var reviews = services.GetService<ReviewStore>() is { } reviewStore
            ? await reviewStore.CurrentAsync(findings.Select(f => f.Id).ToList(), cancellationToken).ConfigureAwait(false)
            : null;
        return Results.Ok(findings.Select(f => FindingDto.From(f, reviews?.GetValueOrDefault(f.Id))).ToList());
    }

    private static IResult? ValidateLimit(int? limit) =>
        limit is < 1 or > MaxLimit
            ? Results.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"limit must be 1-{MaxLimit}."] })
            : null;
}
