using Microsoft.Extensions.Options;

namespace MedVision.Edge.Fhir;

/// <summary>The FHIR R4 output (section <c>MedVision:Fhir</c>): identifier systems the receiving server keys its conditional writes on.</summary>
public sealed class FhirOptions
{
    public const string Section = "MedVision:Fhir";

    /// <summary>Whether a FHIR transaction Bundle is made for each processed study (the export engineer's outbox POSTs it).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>System of the DICOM Patient ID; set it to the hospital's MRN system so subjects resolve to the right Patient.</summary>
    public string PatientIdentifierSystem { get; set; } = "urn:medvision:edge:patient-id";

    /// <summary>System of the accession number on the ImagingStudy (type ACSN).</summary>
    public string AccessionIdentifierSystem { get; set; } = "urn:medvision:edge:accession";

    /// <summary>System of the Observation identifiers (study, instance, model and label), the key of their conditional update.</summary>
    public string ObservationIdentifierSystem { get; set; } = "urn:medvision:edge:finding";

    /// <summary>System of the DiagnosticReport identifier (the Study Instance UID), the key of its conditional update.</summary>
    public string ReportIdentifierSystem { get; set; } = "urn:medvision:edge:ai-report";

    /// <summary>System of the model identifiers (<c>id@version</c>) in Observation.device.</summary>
    public string ModelIdentifierSystem { get; set; } = "urn:medvision:edge:model";

    /// <summary>Code system for labels without a standard code and for the prior-comparison components.</summary>
    public string CodeSystem { get; set; } = "urn:medvision:edge:codes";

    /// <summary>Run the SDK's attribute validation (cardinality, value formats) on every Bundle before it leaves.</summary>
    public bool ValidateOnProduce { get; set; } = true;
}

internal sealed class FhirOptionsValidator : IValidateOptions<FhirOptions>
{
    public ValidateOptionsResult Validate(string? name, FhirOptions options)
    {
        var errors = new List<string>();
        Check(nameof(FhirOptions.PatientIdentifierSystem), options.PatientIdentifierSystem, errors);
        Check(nameof(FhirOptions.AccessionIdentifierSystem), options.AccessionIdentifierSystem, errors);
        Check(nameof(FhirOptions.ObservationIdentifierSystem), options.ObservationIdentifierSystem, errors);
        Check(nameof(FhirOptions.ReportIdentifierSystem), options.ReportIdentifierSystem, errors);
        Check(nameof(FhirOptions.ModelIdentifierSystem), options.ModelIdentifierSystem, errors);
        Check(nameof(FhirOptions.CodeSystem), options.CodeSystem, errors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    // FHIR identifier and coding systems are absolute URIs (urn:, http(s):); anything else is a configuration mistake.
    private static void Check(string key, string value, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(value) || !Uri.TryCreate(value, UriKind.Absolute, out _) || value.Any(char.IsWhiteSpace))
        {
            errors.Add($"{FhirOptions.Section}:{key} must be an absolute URI such as urn:… or https://… (was '{value}').");
        }
    }
}
