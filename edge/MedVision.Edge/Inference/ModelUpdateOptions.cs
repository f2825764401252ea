using Microsoft.Extensions.Options;

namespace MedVision.Edge.Inference;

/// <summary>Section <c>MedVision:ModelUpdates</c>: how new package versions are found and checked before they serve.</summary>
public sealed class ModelUpdateOptions
{
    public const string Section = "MedVision:ModelUpdates";

    /// <summary>Seconds between scans of the models folder for new or changed packages; 0 turns scanning off.</summary>
    public double ScanSeconds { get; set; } = 30;

    /// <summary>
    /// Folder the golden samples' <c>data</c> paths (npz) are relative to, made absolute against
    /// <see cref="AppContext.BaseDirectory"/>. Without it no update can prove it reproduces its golden set, so
    /// every update is refused (the packages present at start-up still load).
    /// </summary>
    public string? GoldenDataDirectory { get; set; }

    /// <summary>Largest |probability − recorded golden probability| an update may show.</summary>
    public double GoldenTolerance { get; set; } = 1e-4;
}

internal sealed class ModelUpdateOptionsValidator : IValidateOptions<ModelUpdateOptions>
{
    public ValidateOptionsResult Validate(string? name, ModelUpdateOptions options)
    {
        var errors = new List<string>();
        if (options.ScanSeconds is < 0 or > 86_400 || double.IsNaN(options.ScanSeconds))
        {
            errors.Add($"{ModelUpdateOptions.Section}:ScanSeconds must be 0-86400 (was {options.ScanSeconds}).");
        }
        if (options.GoldenTolerance is <= 0 or > 0.1 || double.IsNaN(options.GoldenTolerance))
        {
            errors.Add($"{ModelUpdateOptions.Section}:GoldenTolerance must be in (0, 0.1] (was {options.GoldenTolerance}).");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
