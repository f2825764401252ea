using MedVision.Edge.Storage;
using Microsoft.AspNetCore.Mvc;

namespace MedVision.Edge.Export;

/// <summary>
/// <c>GET /api/studies/{studyUid}/outputs</c>, <c>GET /api/outputs/{id}</c> (download), <c>GET /api/deliveries</c> and
/// <c>POST /api/deliveries/{id}/retry</c>.
/// </summary>
public static class ExportApi
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    public static IEndpointRouteBuilder MapExportApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var api = endpoints.MapGroup("/api");
        api.MapGet("/studies/{studyUid}/outputs", ListOutputsAsync).WithName("ListStudyOutputs");
        api.MapGet("/outputs/{id:long}", DownloadAsync).WithName("DownloadOutput");
        api.MapGet("/deliveries", ListDeliveriesAsync).WithName("ListDeliveries");
        api.MapPost("/deliveries/{id:long}/retry", RetryAsync).WithName("RetryDelivery");
        return endpoints;
    }

    private static async Task<IResult> ListOutputsAsync(
        [FromServices] OutboxStore store, [FromServices] IStudyStore studies, string studyUid, CancellationToken cancellationToken)
    {
        if (await studies.GetStudyAsync(studyUid, cancellationToken).ConfigureAwait(false) is null)
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Study not found", detail: $"There is no study {studyUid}.");
        }
        var outputs = await store.ListOutputsAsync(studyUid, cancellationToken).ConfigureAwait(false);
        var deliveries = (await store.ListDeliveriesForOutputsAsync(outputs.Select(o => o.Id).ToList(), cancellationToken).ConfigureAwait(false))
            .ToLookup(d => d.OutputId);
        return Results.Ok(outputs.Select(o => OutputDto.From(o, deliveries[o.Id])).ToList());
    }

    private static async Task<IResult> DownloadAsync([FromServices] OutboxStore store, long id, CancellationToken cancellationToken)
    {
        var output = await store.GetOutputAsync(id, cancellationToken).ConfigureAwait(false);
        if (output is null)
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Output not found", detail: $"There is no output #{id}.");
        }
        if (!File.Exists(output.Path))
        {
            return Results.Problem(statusCode: StatusCodes.Status410Gone, title: "Output file missing",
                detail: $"Output #{id} is recorded but its file is no longer in the outputs folder.");
        }
        return Results.File(output.Path, output.ContentType, output.FileName);
    }

    private static async Task<IResult> ListDeliveriesAsync(
        [FromServices] OutboxStore store, string? state, string? destination, int? limit, int? offset, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (state is not null && !DeliveryStates.All.Contains(state))
        {
            errors["state"] = [$"state must be one of {string.Join(", ", DeliveryStates.All)}."];
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
        var list = await store.ListDeliveriesAsync(state, string.IsNullOrWhiteSpace(destination) ? null : destination, limit ?? DefaultLimit, offset ?? 0, cancellationToken)
            .ConfigureAwait(false);
        return Results.Ok(list.Select(DeliveryListDto.From).ToList());
    }

    private static async Task<IResult> RetryAsync(
        [FromServices] OutboxStore store, [FromServices] DeliverySignal signal, [FromServices] TimeProvider clock, [FromServices] ILoggerFactory loggers,
        long id, CancellationToken cancellationToken)
    {
        var (outcome, delivery) = await store.RetryAsync(id, clock.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        switch (outcome)
        {
            case RetryOutcome.NotFound:
                return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Delivery not found", detail: $"There is no delivery #{id}.");
            case RetryOutcome.Conflict:
                return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Delivery cannot be retried",
                    detail: $"Delivery #{id} is {delivery!.State}{(delivery.State == DeliveryStates.Pending ? " and has not failed yet" : "")}; only dead or failed deliveries are retried.");
            default:
                ExportLog.RetryRequested(loggers.CreateLogger(typeof(ExportApi).FullName!), id, delivery!.State);
                signal.Notify();
                return Results.Ok(DeliveryDto.From(delivery));
        }
    }
}

public sealed record OutputDto(
    long Id,
    string Kind,
    string FileName,
    string ContentType,
    string? SopClassUid,
    string? SopInstanceUid,
    long SizeBytes,
    string Sha256,
    DateTimeOffset CreatedUtc,
    long GenerationId,
    IReadOnlyList<DeliveryDto> Deliveries)
{
    public static OutputDto From(OutputRecord o, IEnumerable<DeliveryRecord> deliveries) => new(
        o.Id, o.Kind, o.FileName, o.ContentType, o.SopClassUid, o.SopInstanceUid, o.SizeBytes, o.Sha256, o.CreatedUtc, o.GenerationId,
        deliveries.Select(DeliveryDto.From).ToList());
}

public sealed record DeliveryDto(
    long Id,
    string Destination,
    string State,
    int Attempts,
    string? LastError,
    DateTimeOffset CreatedUtc,
    DateTimeOffset? LastAttemptUtc,
    DateTimeOffset? NextAttemptUtc,
    DateTimeOffset? DeliveredUtc)
{
    public static DeliveryDto From(DeliveryRecord d) => new(
        d.Id, d.Destination, d.State, d.Attempts, d.LastError, d.CreatedUtc, d.LastAttemptUtc,
        d.State == DeliveryStates.Pending ? d.NextAttemptUtc : null, d.DeliveredUtc);
}

/// <summary>A delivery with what it carries (for <c>GET /api/deliveries</c>).</summary>
public sealed record DeliveryListDto(
    long Id,
    string Destination,
    string State,
    int Attempts,
    string? LastError,
    DateTimeOffset CreatedUtc,
    DateTimeOffset? LastAttemptUtc,
    DateTimeOffset? NextAttemptUtc,
    DateTimeOffset? DeliveredUtc,
    long OutputId,
    string StudyInstanceUid,
    string Kind,
    string FileName,
    string? SopInstanceUid)
{
    public static DeliveryListDto From(DeliveryWork w) => new(
        w.Delivery.Id, w.Delivery.Destination, w.Delivery.State, w.Delivery.Attempts, w.Delivery.LastError, w.Delivery.CreatedUtc,
        w.Delivery.LastAttemptUtc, w.Delivery.State == DeliveryStates.Pending ? w.Delivery.NextAttemptUtc : null, w.Delivery.DeliveredUtc,
        w.Output.Id, w.Output.StudyUid, w.Output.Kind, w.Output.FileName, w.Output.SopInstanceUid);
}
