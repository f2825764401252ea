using Microsoft.Extensions.Options;

namespace MedVision.Edge.Storage;

/// <summary>
/// Section <c>MedVision:Retention</c>: when the files of finished studies leave the appliance's disk. The appliance is
/// a relay, not an archive (the PACS is), so without this its disk fills and the watermark starts refusing modalities.
/// </summary>
public sealed class RetentionOptions
{
    public const string Section = "MedVision:Retention";

    /// <summary>Off switch for sites that manage the disk themselves.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How long a study's files are kept after it completed. Long enough for a radiologist to review the week.</summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromDays(14);

    /// <summary>
    /// Below this much free disk, finished studies are purged oldest first before they reach <see cref="MaxAge"/>, so
    /// that the ingest watermark (<see cref="StorageOptions.MinFreeDiskMegabytes"/>) is not reached. Null: twice that
    /// watermark.
    /// </summary>
    public long? EvictBelowFreeMegabytes { get; set; }

    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Studies looked at per query; a pass repeats until nothing more is due.</summary>
    public int BatchSize { get; set; } = 100;
}

internal sealed class RetentionOptionsValidator : IValidateOptions<RetentionOptions>
{
    public ValidateOptionsResult Validate(string? name, RetentionOptions options)
    {
        var errors = new List<string>();
        if (options.MaxAge < TimeSpan.Zero)
        {
            errors.Add($"{RetentionOptions.Section}:MaxAge must not be negative (was {options.MaxAge}).");
        }
        if (options.EvictBelowFreeMegabytes is < 0)
        {
            errors.Add($"{RetentionOptions.Section}:EvictBelowFreeMegabytes must not be negative (was {options.EvictBelowFreeMegabytes}).");
        }
        if (options.Interval <= TimeSpan.Zero)
        {
            errors.Add($"{RetentionOptions.Section}:Interval must be positive (was {options.Interval}).");
        }
        if (options.BatchSize < 1)
        {
            errors.Add($"{RetentionOptions.Section}:BatchSize must be at least 1 (was {options.BatchSize}).");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
