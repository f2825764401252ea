using System.Globalization;
using System.Net;
using MedVision.Edge.Alerts.Beacon;
using Microsoft.AspNetCore.Mvc;

namespace MedVision.Edge.Alerts;

/// <summary>
/// <c>GET /api/alerts</c>, <c>GET /api/alerts/{id}</c>, <c>POST /api/alerts/{id}/ack</c>, the signed one-click
/// <c>GET /api/alerts/{id}/ack?by=&amp;exp=&amp;sig=</c>, <c>POST /api/alerts/{id}/resolve</c> and <c>GET /api/beacon</c>.
/// </summary>
public static class AlertsApi
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 1000;
    public const int DefaultBeaconChanges = 1000;
    public const int MaxBeaconChanges = 100_000;

    public static IEndpointRouteBuilder MapAlertsApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var api = endpoints.MapGroup("/api");
        api.MapGet("/alerts", ListAsync).WithName("ListAlerts");
        api.MapGet("/alerts/{id:long}", GetAsync).WithName("GetAlert");
        api.MapPost("/alerts/{id:long}/ack", AcknowledgeAsync).WithName("AcknowledgeAlert");
        api.MapGet("/alerts/{id:long}/ack", AcknowledgeLinkAsync).WithName("AcknowledgeAlertByLink");
        api.MapPost("/alerts/{id:long}/resolve", ResolveAsync).WithName("ResolveAlert");
        api.MapGet("/beacon", GetBeacon).WithName("GetBeacon");
        return endpoints;
    }

    private static async Task<IResult> ListAsync(
        [FromServices] AlertStore store,
        string? state,
        string? severity,
        [FromQuery(Name = "study")] string? study,
        int? limit,
        int? offset,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (state is not null && !AlertStates.All.Contains(state))
        {
            errors["state"] = [$"state must be one of {string.Join(", ", AlertStates.All)}."];
        }
        AlertSeverity? parsedSeverity = null;
        if (severity is not null)
        {
            if (AlertSeverityText.TryParse(severity, out var s))
            {
                parsedSeverity = s;
            }
            else
            {
                errors["severity"] = ["severity must be critical, high or normal."];
            }
        }
        if (limit is < 1 or > MaxLimit)
        {
            errors["limit"] = [$"limit must be 1-{MaxLimit}."];
        }
        if (offset is < 0)
        {
            errors["offset"] = ["offset must not be negative."];
        }
        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors);
        }
        var alerts = await store.ListAsync(
            new AlertQuery(state, parsedSeverity, string.IsNullOrWhiteSpace(study) ? null : study, limit ?? DefaultLimit, offset ?? 0),
            cancellationToken).ConfigureAwait(false);
        var deliveries = (await store.ListDeliveriesAsync(alerts.Select(a => a.Id).ToList(), cancellationToken).ConfigureAwait(false))
            .ToLookup(d => d.AlertId);
        return Results.Ok(alerts.Select(a => AlertDto.From(a, deliveries[a.Id], null)).ToList());
    }

    private static async Task<IResult> GetAsync([FromServices] AlertStore store, long id, CancellationToken cancellationToken)
    {
        var alert = await store.GetAsync(id, cancellationToken).ConfigureAwait(false);
        if (alert is null)
        {
            return NotFound(id);
        }
        var deliveries = await store.ListDeliveriesAsync([id], cancellationToken).ConfigureAwait(false);
        var attempts = await store.ListAttemptsAsync(id, cancellationToken).ConfigureAwait(false);
        return Results.Ok(AlertDto.From(alert, deliveries, attempts.ToLookup(a => a.DeliveryId)));
    }

    private static async Task<IResult> AcknowledgeAsync(
        [FromServices] AlertCommands commands, [FromServices] AlertStore store, long id, [FromBody] AckRequest? request, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request?.By))
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["by"] = ["by (who acknowledges) is required."] });
        }
        var (outcome, alert) = await commands.AcknowledgeAsync(id, request.By, "api", cancellationToken).ConfigureAwait(false);
        return outcome == AckOutcome.NotFound ? NotFound(id) : await WithDeliveriesAsync(store, alert!, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<IResult> ResolveAsync(
        [FromServices] AlertCommands commands, [FromServices] AlertStore store, long id, [FromBody] AckRequest? request, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request?.By))
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["by"] = ["by (who resolves) is required."] });
        }
        var (outcome, alert) = await commands.ResolveAsync(id, request.By, cancellationToken).ConfigureAwait(false);
        return outcome == AckOutcome.NotFound ? NotFound(id) : await WithDeliveriesAsync(store, alert!, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The link in a page: answers a small HTML page, since a person clicked it in a mail client.</summary>
    private static async Task<IResult> AcknowledgeLinkAsync(
        [FromServices] AlertCommands commands,
        [FromServices] AckLinks links,
        [FromServices] ILoggerFactory loggers,
        long id,
        string? by,
        long? exp,
        string? sig,
        CancellationToken cancellationToken)
    {
        var refusal = links.Check(id, by, exp, sig);
        if (refusal is not null)
        {
            AlertLog.AckLinkRefused(loggers.CreateLogger(typeof(AlertsApi).FullName!), id, refusal);
            return Html(StatusCodes.Status403Forbidden, "Link not accepted", $"This acknowledgement link cannot be used: {refusal}.");
        }
        var (outcome, alert) = await commands.AcknowledgeAsync(id, by!, "link", cancellationToken).ConfigureAwait(false);
        return outcome switch
        {
            AckOutcome.NotFound => Html(StatusCodes.Status404NotFound, "Alert not found", $"There is no alert #{id}."),
            AckOutcome.Done => Html(StatusCodes.Status200OK, $"Alert #{id} acknowledged",
                $"Acknowledged by {alert!.AcknowledgedBy} at {Time(alert.AcknowledgedUtc)}. The beacon and further pages are stopped."),
            _ => Html(StatusCodes.Status200OK, $"Alert #{id} already {alert!.State}",
                alert.AcknowledgedBy is not null
                    ? $"It was acknowledged by {alert.AcknowledgedBy} at {Time(alert.AcknowledgedUtc)}."
                    : $"It was resolved by {alert.ResolvedBy} at {Time(alert.ResolvedUtc)}."),
        };
    }

    private static IResult GetBeacon([FromServices] BeaconController beacon, int? changes)
    {
        if (changes is < 0 or > MaxBeaconChanges)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["changes"] = [$"changes must be 0-{MaxBeaconChanges}."] });
        }
        return Results.Ok(beacon.Snapshot(changes ?? DefaultBeaconChanges));
    }

    private static async Task<IResult> WithDeliveriesAsync(AlertStore store, AlertRecord alert, CancellationToken cancellationToken)
    {
        var deliveries = await store.ListDeliveriesAsync([alert.Id], cancellationToken).ConfigureAwait(false);
        return Results.Ok(AlertDto.From(alert, deliveries, null));
    }

    private static IResult NotFound(long id) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Alert not found", detail: $"There is no alert #{id}.");

    private static string Time(DateTimeOffset? utc) =>
        utc?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture) ?? "?";

    private static IResult Html(int status, string title, string text) =>
        Results.Content(
            $"<!doctype html><html><head><meta charset=\"utf-8\"><title>{WebUtility.HtmlEncode(title)}</title></head>"
            + $"<body><h1>{WebUtility.HtmlEncode(title)}</h1><p>{WebUtility.HtmlEncode(text)}</p><p>MedVision Edge</p></body></html>",
            "text/html; charset=utf-8",
            null,
            status);
}

/// <summary>Body of <c>POST /api/alerts/{id}/ack</c> and <c>/resolve</c>.</summary>
public sealed record AckRequest(string? By);

public sealed record AlertDto(
    long Id,
    string State,
    string Severity,
    string Rule,
    string StudyInstanceUid,
    string? AccessionNumber,
    string? PatientId,
    string? Modality,
    string? Priority,
    AlertFindingDto Finding,
    int FindingCount,
    DateTimeOffset? StudyLastReceivedUtc,
    DateTimeOffset FindingCreatedUtc,
    DateTimeOffset RaisedUtc,
    DateTimeOffset? BeaconOnUtc,
    DateTimeOffset? FirstPageUtc,
    TimeToAlert TimeToAlert,
    EscalationDto Escalation,
    ClosureDto? Acknowledgement,
    ClosureDto? Resolution,
    IReadOnlyList<DeliveryDto> Deliveries)
{
    public static AlertDto From(AlertRecord a, IEnumerable<DeliveryRecord> deliveries, ILookup<long, DeliveryAttemptRecord>? attempts) => new(
        a.Id, a.State, a.Severity.ToWire(), a.Rule, a.StudyUid, a.AccessionNumber, a.PatientId, a.Modality, a.Priority,
        new AlertFindingDto(a.FindingId, a.SopInstanceUid, a.ModelId, a.Label, a.Probability, a.Threshold),
        a.FindingCount, a.StudyLastReceivedUtc, a.FindingCreatedUtc, a.RaisedUtc, a.BeaconOnUtc, a.FirstPageUtc, a.TimeToAlert,
        new EscalationDto(a.EscalationStep, a.EscalationRound, a.NextEscalationUtc),
        a.AcknowledgedBy is null ? null : new ClosureDto(a.AcknowledgedBy, a.AcknowledgedUtc, a.AcknowledgedVia),
        a.ResolvedBy is null ? null : new ClosureDto(a.ResolvedBy, a.ResolvedUtc, "api"),
        deliveries.Select(d => DeliveryDto.From(d, attempts?[d.Id])).ToList());
}

public sealed record AlertFindingDto(long? Id, string SopInstanceUid, string ModelId, string Label, double Probability, double Threshold);

/// <summary>Step −1: nobody paged yet. <see cref="NextUtc"/> null: paging is over.</summary>
public sealed record EscalationDto(int Step, int Round, DateTimeOffset? NextUtc);

public sealed record ClosureDto(string By, DateTimeOffset? Utc, string? Via);

public sealed record DeliveryDto(
    long Id,
    string Recipient,
    string Channel,
    string Address,
    int Step,
    int Round,
    string State,
    int Attempts,
    string? LastError,
    DateTimeOffset CreatedUtc,
    DateTimeOffset? LastAttemptUtc,
    DateTimeOffset? NextAttemptUtc,
    DateTimeOffset? SentUtc,
    IReadOnlyList<AttemptDto>? AttemptLog)
{
    public static DeliveryDto From(DeliveryRecord d, IEnumerable<DeliveryAttemptRecord>? attempts) => new(
        d.Id, d.Recipient, d.Channel, d.Address, d.Step, d.Round, d.State, d.Attempts, d.LastError, d.CreatedUtc,
        d.LastAttemptUtc, d.NextAttemptUtc, d.SentUtc,
        attempts?.Select(a => new AttemptDto(a.Attempt, a.StartedUtc, Math.Round(a.DurationMs, 1), a.Succeeded, a.Error)).ToList());
}

public sealed record AttemptDto(int Attempt, DateTimeOffset StartedUtc, double DurationMs, bool Succeeded, string? Error);
