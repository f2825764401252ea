using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Outputs;

/// <summary>
/// Section <c>MedVision:Export</c>, the part about how the DICOM objects that carry findings out are made (UID root, equipment,
/// series numbers); where they are sent is <see cref="Export.ExportOptions"/>, bound to the same section.
/// </summary>
public sealed partial class OutputObjectOptions
{
    public const string Section = "MedVision:Export";

    /// <summary>UUID-derived UIDs (PS3.5 B.2): unique without an organisation root.</summary>
    public const string DefaultUidRoot = "2.25";

    /// <summary>
    /// Root of the Series, SOP Instance and Frame of Reference UIDs the appliance creates. A site's registered root (at most
    /// 40 characters, so at least 23 random digits fit under the 64-character limit) or the default <c>2.25</c>.
    /// </summary>
    public string UidRoot { get; set; } = DefaultUidRoot;

    /// <summary>Also make an RGB Secondary Capture with the heat map burned in, for viewers that cannot show a Parametric Map.</summary>
    public bool BurnedInSecondaryCapture { get; set; } = true;

    /// <summary>Manufacturer written into the objects' equipment module and the SR's device observer.</summary>
    public string Manufacturer { get; set; } = "MedVision";

    public string ManufacturerModelName { get; set; } = "MedVision Edge";

    /// <summary>Device serial number; empty = the host name.</summary>
    public string DeviceSerialNumber { get; set; } = "";

    /// <summary>Series Number of the objects the appliance creates (high, so they sort after the modality's series).</summary>
    public int SeriesNumber { get; set; } = 9901;

    public const int MaxUidRootLength = 40;

    [GeneratedRegex("^(0|[1-9][0-9]*)(\\.(0|[1-9][0-9]*))*$")]
    internal static partial Regex UidPattern();
}

/// <summary>Collects every problem in the export section, then fails start-up with all of them.</summary>
internal sealed class OutputObjectOptionsValidator : IValidateOptions<OutputObjectOptions>
{
    public ValidateOptionsResult Validate(string? name, OutputObjectOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.UidRoot) || !OutputObjectOptions.UidPattern().IsMatch(options.UidRoot))
        {
            errors.Add($"{OutputObjectOptions.Section}:UidRoot '{options.UidRoot}' is not a UID root (digits and dots, no leading zeros).");
        }
        else if (options.UidRoot.Length > OutputObjectOptions.MaxUidRootLength)
        {
            errors.Add($"{OutputObjectOptions.Section}:UidRoot is {options.UidRoot.Length} characters; at most {OutputObjectOptions.MaxUidRootLength} leave room for unique digits.");
        }
        if (string.IsNullOrWhiteSpace(options.Manufacturer) || options.Manufacturer.Length > 64)
        {
            errors.Add($"{OutputObjectOptions.Section}:Manufacturer must be 1-64 characters.");
        }
        if (string.IsNullOrWhiteSpace(options.ManufacturerModelName) || options.ManufacturerModelName.Length > 64)
        {
            errors.Add($"{OutputObjectOptions.Section}:ManufacturerModelName must be 1-64 characters.");
        }
        if (options.DeviceSerialNumber.Length > 64)
        {
            errors.Add($"{OutputObjectOptions.Section}:DeviceSerialNumber must be at most 64 characters.");
        }
        if (options.SeriesNumber is < 1 or > 99999)
        {
            errors.Add($"{OutputObjectOptions.Section}:SeriesNumber must be 1-99999 (was {options.SeriesNumber}).");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
