using Microsoft.Extensions.Options;

namespace MedVision.Edge.Reports;

/// <summary>The human-readable study report (section <c>MedVision:Report</c>).</summary>
public sealed class ReportOptions
{
    public const string Section = "MedVision:Report";
    public const string DefaultApplianceName = "MedVision Edge";
    public const int DefaultThumbnailWidth = 256;
    public const int MinThumbnailWidth = 32;
    public const int MaxThumbnailWidth = 1024;

    /// <summary>Whether the HTML report is made for each processed study.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Appliance or site name printed in the report footer, so a printed page says where it came from.</summary>
    public string ApplianceName { get; set; } = DefaultApplianceName;

    /// <summary>Width in pixels of the heat-map thumbnails embedded in the report; larger overlays are downscaled.</summary>
    public int ThumbnailWidth { get; set; } = DefaultThumbnailWidth;
}

internal sealed class ReportOptionsValidator : IValidateOptions<ReportOptions>
{
    public ValidateOptionsResult Validate(string? name, ReportOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ApplianceName))
        {
            errors.Add($"{ReportOptions.Section}:ApplianceName must not be empty.");
        }
        else if (options.ApplianceName.Length > 128)
        {
            errors.Add($"{ReportOptions.Section}:ApplianceName is longer than 128 characters.");
        }
        if (options.ThumbnailWidth is < ReportOptions.MinThumbnailWidth or > ReportOptions.MaxThumbnailWidth)
        {
            errors.Add($"{ReportOptions.Section}:ThumbnailWidth must be between {ReportOptions.MinThumbnailWidth} and {ReportOptions.MaxThumbnailWidth} (was {options.ThumbnailWidth}).");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
