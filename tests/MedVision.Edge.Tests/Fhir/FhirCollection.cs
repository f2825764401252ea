using MedVision.Testing;

namespace MedVision.Edge.Tests.Fhir;

/// <summary>The full FHIR validator reads the R4 specification once for every FHIR test class.</summary>
[CollectionDefinition(Name)]
public sealed class FhirCollection : ICollectionFixture<FhirR4Validator>
{
    public const string Name = "fhir";
}
