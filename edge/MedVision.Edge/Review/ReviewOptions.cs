using Microsoft.Extensions.Options;

namespace MedVision.Edge.Review;

/// <summary>Section <c>MedVision:Review</c>: bounds on what a review may carry and what the review page lists.</summary>
public sealed class ReviewOptions
{
    public const string Section = "MedVision:Review";

    /// <summary>Longest reviewer name accepted; names are for the audit trail, not essays.</summary>
    public int MaxReviewerLength { get; set; } = 100;

    /// <summary>Longest comment accepted, so one request cannot bloat the database.</summary>
    public int MaxCommentLength { get; set; } = 2000;

    /// <summary>How many of the most recently received studies <c>/review</c> lists.</summary>
    public int PageStudies { get; set; } = 20;
}

internal sealed class ReviewOptionsValidator : IValidateOptions<ReviewOptions>
{
    public ValidateOptionsResult Validate(string? name, ReviewOptions options)
    {
        var errors = new List<string>();
        if (options.MaxReviewerLength is < 1 or > 1000)
        {
            errors.Add($"{ReviewOptions.Section}:MaxReviewerLength must be 1-1000.");
        }
        if (options.MaxCommentLength is < 0 or > 100_000)
        {
            errors.Add($"{ReviewOptions.Section}:MaxCommentLength must be 0-100000.");
        }
        if (options.PageStudies is < 1 or > 1000)
        {
            errors.Add($"{ReviewOptions.Section}:PageStudies must be 1-1000.");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
