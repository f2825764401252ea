using Microsoft.Extensions.Options;

namespace MedVision.Edge.Storage;

/// <summary>
/// Section <c>MedVision:Storage</c>: where the appliance keeps everything it must not lose
/// (<c>spool/</c> for received instances, <c>db/edge.db</c>, <c>outputs/</c>).
/// </summary>
public sealed class StorageOptions
{
    public const string Section = "MedVision:Storage";

    /// <summary>Relative to the current directory at start-up, unless absolute.</summary>
    public const string DefaultRoot = "data";

    /// <summary>Enough headroom for a few large multi-frame instances plus SQLite's WAL checkpoint.</summary>
    public const long DefaultMinFreeDiskMegabytes = 500;

    /// <summary>Retries of a store operation that still finds the database busy after its busy timeout.</summary>
    public const int DefaultTransientRetryCount = 3;

    /// <summary>
    /// Empty spool files kept ready (names already durable) so a burst of instances needs no file creation: enough for
    /// a typical CT series. Each costs one inode and no data blocks.
    /// </summary>
    public const int DefaultSpoolSlotPoolSize = 1024;

    /// <summary>Storage root; made absolute once at start-up (see <see cref="StorageOptionsSetup"/>).</summary>
    public string Root { get; set; } = DefaultRoot;

    /// <summary>Low-disk watermark: new instances are refused when accepting one would go below it.</summary>
    public long MinFreeDiskMegabytes { get; set; } = DefaultMinFreeDiskMegabytes;

    public int TransientRetryCount { get; set; } = DefaultTransientRetryCount;

    public int SpoolSlotPoolSize { get; set; } = DefaultSpoolSlotPoolSize;

    public string SpoolDirectory => Path.Combine(Root, "spool");

    /// <summary>Received instances, one pre-created slot file each (<c>spool/slots/&lt;id&gt;.dcm</c>).</summary>
    public string SlotDirectory => Path.Combine(SpoolDirectory, "slots");

    public string DatabaseDirectory => Path.Combine(Root, "db");

    public string DatabasePath => Path.Combine(DatabaseDirectory, "edge.db");

    public string OutputsDirectory => Path.Combine(Root, "outputs");

    public long MinFreeDiskBytes => MinFreeDiskMegabytes * 1024 * 1024;
}

/// <summary>
/// Resolves <see cref="StorageOptions.Root"/> against the current directory exactly once, so a later change of
/// working directory cannot move the spool or database under a running appliance.
/// </summary>
internal sealed class StorageOptionsSetup : IPostConfigureOptions<StorageOptions>
{
    public void PostConfigure(string? name, StorageOptions options)
    {
        if (!string.IsNullOrWhiteSpace(options.Root))
        {
            options.Root = Path.GetFullPath(options.Root);
        }
    }
}

/// <summary>Collects every problem in the storage section, then fails start-up with all of them.</summary>
internal sealed class StorageOptionsValidator : IValidateOptions<StorageOptions>
{
    public ValidateOptionsResult Validate(string? name, StorageOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Root))
        {
            errors.Add($"{StorageOptions.Section}:Root must not be empty.");
        }
        else if (options.Root.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
        {
            errors.Add($"{StorageOptions.Section}:Root '{options.Root}' contains invalid path characters.");
        }
        if (options.MinFreeDiskMegabytes < 0)
        {
            errors.Add($"{StorageOptions.Section}:MinFreeDiskMegabytes must not be negative (was {options.MinFreeDiskMegabytes}).");
        }
        if (options.TransientRetryCount is < 0 or > 100)
        {
            errors.Add($"{StorageOptions.Section}:TransientRetryCount must be 0-100 (was {options.TransientRetryCount}).");
        }
        if (options.SpoolSlotPoolSize is < 1 or > 4096)
        {
            errors.Add($"{StorageOptions.Section}:SpoolSlotPoolSize must be 1-4096 (was {options.SpoolSlotPoolSize}).");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
