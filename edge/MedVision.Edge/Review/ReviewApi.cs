using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Review;

/// <summary>
/// <c>POST /api/findings/{id}/review</c>, <c>GET /api/findings/{id}/reviews</c> (history) and the page <c>GET /review</c>.
/// </summary>
public static class ReviewApi
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static IEndpointRouteBuilder MapReviewApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var api = endpoints.MapGroup("/api");
        api.MapPost("/findings/{id:long}/review", ReviewAsync).WithName("ReviewFinding");
        api.MapGet("/findings/{id:long}/reviews", HistoryAsync).WithName("ListFindingReviews");
        endpoints.MapGet("/review", (HttpContext http, [FromServices] ReviewPage page) => page.Serve(http)).WithName("ReviewPage");
        return endpoints;
    }

    private static async Task<IResult> ReviewAsync(
        HttpContext http, [FromServices] ReviewStore store, [FromServices] IOptions<ReviewOptions> options, long id, CancellationToken cancellationToken)
    {
        // Read by hand so a malformed body gets the same problem+json answer as a bad field, not a bare 400.
        ReviewRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync<ReviewRequest>(http.Request.Body, Json, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            return Invalid(new() { ["body"] = [$"The body must be a JSON object {{\"decision\",\"by\",\"comment\"}}: {ex.Message}"] });
        }
        var errors = Validate(request, options.Value);
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }
        var comment = string.IsNullOrWhiteSpace(request!.Comment) ? null : request.Comment.Trim();
        var review = await store.RecordAsync(id, request.Decision!, request.By!.Trim(), comment, cancellationToken).ConfigureAwait(false);
        return review is null ? NotFound(id) : Results.Ok(ReviewDto.From(review));
    }

    private static async Task<IResult> HistoryAsync([FromServices] ReviewStore store, long id, CancellationToken cancellationToken)
    {
        var history = await store.HistoryAsync(id, cancellationToken).ConfigureAwait(false);
        return history is null ? NotFound(id) : Results.Ok(history.Select(ReviewDto.From).ToList());
    }

    internal static Dictionary<string, string[]> Validate(ReviewRequest? request, ReviewOptions options)
    {
        var errors = new Dictionary<string, string[]>();
        if (request is null)
        {
            errors["body"] = ["A JSON body {\"decision\",\"by\",\"comment\"} is required."];
            return errors;
        }
        if (!ReviewDecisions.IsValid(request.Decision))
        {
            errors["decision"] = [$"decision must be \"{ReviewDecisions.Confirmed}\" or \"{ReviewDecisions.Rejected}\"."];
        }
        if (string.IsNullOrWhiteSpace(request.By))
        {
            errors["by"] = ["by (the reviewer's name) is required."];
        }
        else if (request.By.Trim().Length > options.MaxReviewerLength)
        {
            errors["by"] = [$"by must be at most {options.MaxReviewerLength} characters."];
        }
        if (request.Comment is { } comment && comment.Trim().Length > options.MaxCommentLength)
        {
            errors["comment"] = [$"comment must be at most {options.MaxCommentLength} characters (it has {comment.Trim().Length})."];
        }
        return errors;
    }

    private static IResult Invalid(Dictionary<string, string[]> errors) =>
        Results.ValidationProblem(errors, detail: string.Join(" ", errors.Values.SelectMany(v => v)), title: "The review was not recorded");

    private static IResult NotFound(long id) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Finding not found", detail: $"There is no finding #{id}.");
}

/// <summary>Body of <c>POST /api/findings/{id}/review</c>.</summary>
public sealed record ReviewRequest(string? Decision, string? By, string? Comment);

/// <summary>A review as the API shows it.</summary>
public sealed record ReviewDto(long Id, long FindingId, string Decision, string By, string? Comment, DateTimeOffset ReviewedUtc)
{
    public static ReviewDto From(FindingReview review)
    {
        ArgumentNullException.ThrowIfNull(review);
        return new(review.Id, review.FindingId, review.Decision, review.Reviewer, review.Comment, review.ReviewedUtc);
    }
}

/// <summary>The current review as a <c>GET /api/findings</c> entry carries it.</summary>
public sealed record CurrentReviewDto(string Decision, string By, DateTimeOffset ReviewedUtc)
{
    public static CurrentReviewDto From(FindingReview review)
    {
        ArgumentNullException.ThrowIfNull(review);
        return new(review.Decision, review.Reviewer, review.ReviewedUtc);
    }
}
