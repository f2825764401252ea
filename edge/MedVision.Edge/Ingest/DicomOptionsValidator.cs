using Microsoft.Extensions.Options;

namespace MedVision.Edge.Ingest;

/// <summary>Collects every configuration error of the DICOM section, then fails start-up with all of them.</summary>
public sealed class DicomOptionsValidator : IValidateOptions<DicomOptions>
{
    public ValidateOptionsResult Validate(string? name, DicomOptions options)
    {
        var errors = options.Validate().ToList();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
