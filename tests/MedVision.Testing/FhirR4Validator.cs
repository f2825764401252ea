using Firely.Fhir.Validation;
using Hl7.Fhir.Model;
using Hl7.Fhir.Specification.Source;
using Hl7.Fhir.Specification.Terminology;

namespace MedVision.Testing;

/// <summary>
/// The full Firely validator against the base FHIR R4 profiles (structure definitions, invariants and required bindings from the
/// specification.zip of Hl7.Fhir.Specification.Data.R4). Building it reads the specification, so create one per test run (a fixture)
/// and share it; validation itself is thread-safe.
/// </summary>
public sealed class FhirR4Validator
{
    private readonly Validator _validator;

    public FhirR4Validator()
    {
        var specification = Path.Combine(AppContext.BaseDirectory, "specification.zip");
        if (!File.Exists(specification))
        {
            throw new FileNotFoundException("specification.zip (package Hl7.Fhir.Specification.Data.R4) is not beside the test assembly.", specification);
        }
        var resolver = new CachedResolver(ZipSource.CreateValidationSource(specification));
        var terminology = LocalTerminologyService.CreateDefaultForCore(resolver);
        _validator = new Validator(resolver, terminology);
    }

    /// <summary>Validates against the resource type's base profile; <see cref="FhirValidationResult.Errors"/> holds errors and fatal issues.</summary>
    public FhirValidationResult Validate(Resource resource)
    {
        ArgumentNullException.ThrowIfNull(resource);
        var outcome = _validator.Validate(resource);
        var errors = outcome.Issue
            .Where(i => i.Severity is OperationOutcome.IssueSeverity.Error or OperationOutcome.IssueSeverity.Fatal)
            .Select(Describe)
            .ToList();
        var warnings = outcome.Issue
            .Where(i => i.Severity is OperationOutcome.IssueSeverity.Warning)
            .Select(Describe)
            .ToList();
        return new FhirValidationResult(outcome, errors, warnings);
    }

    private static string Describe(OperationOutcome.IssueComponent issue) =>
        $"{issue.Severity}: {issue.Details?.Text ?? issue.Diagnostics} @ {string.Join(", ", issue.Expression)}";
}

public sealed record FhirValidationResult(OperationOutcome Outcome, IReadOnlyList<string> Errors, IReadOnlyList<string> Warnings)
{
    public bool IsValid => Errors.Count == 0;
}
