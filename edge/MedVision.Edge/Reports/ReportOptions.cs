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

    /// <summary>Also make the report as PDF (A4) by printing the HTML with the system Chromium (Debian package <c>chromium</c>).</summary>
    public bool PdfEnabled { get; set; }

    /// <summary>Chromium executable: a name looked up on PATH or an absolute path.</summary>
    public string ChromiumPath { get; set; } = "chromium";

    /// <summary>Pass --no-sandbox: only where Chromium's sandbox cannot start (running as root, containers without user namespaces).</summary>
    public bool ChromiumNoSandbox { get; set; }

    /// <summary>A Chromium run that takes longer is killed and the PDF fails.</summary>
    public int PdfTimeoutSeconds { get; set; } = 60;

    /// <summary>The Chromium executable resolved against PATH, or null when there is none.</summary>
    public string? ResolveChromium()
    {
        if (string.IsNullOrWhiteSpace(ChromiumPath))
        {
            return null;
        }
        if (Path.IsPathRooted(ChromiumPath))
        {
            return File.Exists(ChromiumPath) ? ChromiumPath : null;
        }
        return (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, ChromiumPath))
            .FirstOrDefault(File.Exists);
    }
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
        if (options.PdfEnabled && options.ResolveChromium() is null)
        {
            errors.Add($"{ReportOptions.Section}:PdfEnabled is set but Chromium '{options.ChromiumPath}' is not installed (apt-get install chromium), or set {ReportOptions.Section}:ChromiumPath.");
        }
        if (options.PdfTimeoutSeconds is < 5 or > 600)
        {
            errors.Add($"{ReportOptions.Section}:PdfTimeoutSeconds must be between 5 and 600 (was {options.PdfTimeoutSeconds}).");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
