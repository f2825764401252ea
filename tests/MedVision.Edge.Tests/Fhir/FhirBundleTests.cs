// Firely's model marks every element nullable; a missing one fails these assertions with an exception anyway.
#nullable disable warnings
using System.Text.Json;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using MedVision.Edge.Fhir;
using MedVision.Edge.Outputs;
using MedVision.Edge.Tests.Reports;
using MedVision.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Task = System.Threading.Tasks.Task;
using Xunit.Abstractions;

namespace MedVision.Edge.Tests.Fhir;

[Collection(FhirCollection.Name)]
public sealed class FhirBundleTests(FhirR4Validator validator, ReportTestData data, ITestOutputHelper output) : IClassFixture<ReportTestData>
{
    private static readonly DateTimeOffset Now = new(2026, 1, 2, 11, 0, 0, TimeSpan.Zero);
    private static readonly JsonSerializerOptions Json = new JsonSerializerOptions().ForFhir(ModelInfo.ModelInspector);

    internal static FhirBundleProducer Producer(FhirOptions? options = null) =>
        new(Options.Create(options ?? new FhirOptions { PatientIdentifierSystem = "urn:oid:1.2.840.99999.1" }), new FixedTime(Now), NullLogger<FhirBundleProducer>.Instance);

    private static async Task<(StudyOutput Output, Bundle Bundle)> ProduceAsync(StudyResults results, FhirOptions? options = null)
    {
        var output = Assert.Single(await Producer(options).ProduceAsync(results, CancellationToken.None));
        return (output, JsonSerializer.Deserialize<Bundle>(output.Content, Json)!);
    }

    private void AssertValid(Bundle bundle)
    {
        var result = validator.Validate(bundle);
        foreach (var warning in result.Warnings)
        {
            output.WriteLine(warning);
        }
        Assert.True(result.IsValid, "FHIR validation errors:\n" + string.Join("\n", result.Errors));
    }

    [Fact]
    public async Task Bundle_is_a_valid_R4_transaction_with_study_report_and_one_observation_per_finding()
    {
        var (output, bundle) = await ProduceAsync(data.Results());

        Assert.Equal(StudyOutputKinds.FhirBundle, output.Kind);
        Assert.Equal("application/fhir+json", output.ContentType);
        Assert.Equal(Bundle.BundleType.Transaction, bundle.Type);
        AssertValid(bundle);
        Assert.Equal(["ImagingStudy", "Observation", "Observation", "DiagnosticReport"], bundle.Entry.Select(e => e.Resource.TypeName));
        Assert.All(bundle.Entry, e => Assert.StartsWith("urn:uuid:", e.FullUrl, StringComparison.Ordinal));

        var studyEntry = bundle.Entry[0];
        var study = (ImagingStudy)studyEntry.Resource;
        Assert.Equal(Bundle.HTTPVerb.POST, studyEntry.Request.Method);
        Assert.Equal("ImagingStudy", studyEntry.Request.Url);
        Assert.Equal($"identifier=urn%3Adicom%3Auid|urn%3Aoid%3A{data.StudyUid}", studyEntry.Request.IfNoneExist);
        Assert.Equal(("urn:dicom:uid", "urn:oid:" + data.StudyUid), (study.Identifier[0].System, study.Identifier[0].Value));
        Assert.Equal("ACSN", study.Identifier[1].Type.Coding[0].Code);
        Assert.Equal("ACC-77&1", study.Identifier[1].Value);
        Assert.Equal(ImagingStudy.ImagingStudyStatus.Available, study.Status);
        Assert.Equal("2026-01-02", study.StartedElement.Value);
        Assert.Equal("CR", Assert.Single(study.Modality).Code);
        var series = Assert.Single(study.Series);
        Assert.Equal(data.SeriesUid, series.Uid);
        var instance = Assert.Single(series.Instance);
        Assert.Equal(data.SopInstanceUid, instance.Uid);
        Assert.Equal("urn:oid:1.2.840.10008.5.1.4.1.1.1", instance.SopClass.Code);
        Assert.Equal(1, study.NumberOfInstances);
        Assert.Equal(("urn:oid:1.2.840.99999.1", "MV-0042"), (study.Subject.Identifier.System, study.Subject.Identifier.Value));

        var pneumonia = (Observation)bundle.Entry[1].Resource;
        Assert.Equal(Bundle.HTTPVerb.PUT, bundle.Entry[1].Request.Method);
        Assert.StartsWith("Observation?identifier=urn%3Amedvision%3Aedge%3Afinding|", bundle.Entry[1].Request.Url, StringComparison.Ordinal);
        Assert.Equal($"{data.StudyUid}/{data.SopInstanceUid}/cxr-pneumonia/pneumonia", pneumonia.Identifier[0].Value);
        Assert.Equal(ObservationStatus.Preliminary, pneumonia.Status);
        Assert.Equal("imaging", pneumonia.Category[0].Coding[0].Code);
        Assert.Equal(("http://snomed.info/sct", "233604007"), (pneumonia.Code.Coding[0].System, pneumonia.Code.Coding[0].Code));
        Assert.Equal("cxr-pneumonia/pneumonia", pneumonia.Code.Coding[1].Code);
        var value = Assert.IsType<Quantity>(pneumonia.Value);
        Assert.Equal((0.8734m, "http://unitsofmeasure.org", "1"), (value.Value!.Value, value.System, value.Code));
        Assert.Equal("POS", pneumonia.Interpretation[0].Coding[0].Code);
        Assert.Equal(0.5m, pneumonia.ReferenceRange[0].High.Value);
        Assert.Equal("cxr-pneumonia@2.0.0", pneumonia.Device.Identifier.Value);
        Assert.Contains(ReportTestData.Sha256, pneumonia.Method.Text, StringComparison.Ordinal);
        Assert.Contains("CPU", pneumonia.Method.Text, StringComparison.Ordinal);
        Assert.Equal(studyEntry.FullUrl, Assert.Single(pneumonia.DerivedFrom).Reference);
        Assert.Empty(pneumonia.Component);

        var effusion = (Observation)bundle.Entry[2].Resource;
        Assert.Equal("NEG", effusion.Interpretation[0].Coding[0].Code);
        Assert.Equal("Pleural effusion", effusion.Code.Text);
        Assert.Single(effusion.Code.Coding);

        var report = (DiagnosticReport)bundle.Entry[3].Resource;
        Assert.Equal(DiagnosticReport.DiagnosticReportStatus.Preliminary, report.Status);
        Assert.Equal("RAD", report.Category[0].Coding[0].Code);
        Assert.Equal(data.StudyUid, report.Identifier[0].Value);
        Assert.Equal($"DiagnosticReport?identifier=urn%3Amedvision%3Aedge%3Aai-report|{data.StudyUid}", bundle.Entry[3].Request.Url);
        Assert.Equal(studyEntry.FullUrl, Assert.Single(report.ImagingStudy).Reference);
        Assert.Equal([bundle.Entry[1].FullUrl, bundle.Entry[2].FullUrl], report.Result.Select(r => r.Reference));
        Assert.Equal(Now, report.Issued);
        Assert.Contains("Pneumonia: positive (87.3 %, threshold 50.0 %, cxr-pneumonia 2.0.0)", report.Conclusion, StringComparison.Ordinal);
        Assert.Contains("PRELIMINARY", report.Conclusion, StringComparison.Ordinal);
        Assert.Equal("233604007", Assert.Single(report.ConclusionCode).Coding[0].Code);
    }

    [Fact]
    public async Task Prior_comparison_becomes_components_and_a_note_per_finding()
    {
        var (_, bundle) = await ProduceAsync(data.Results(prior: ReportTestData.Prior("1.2.826.0.1.3680043.2.1125.99")));

        AssertValid(bundle);
        var pneumonia = (Observation)bundle.Entry[1].Resource;
        var change = pneumonia.Component.Single(c => c.Code.Coding[0].Code == "prior-change");
        Assert.Equal("new", ((CodeableConcept)change.Value).Coding[0].Code);
        var prior = pneumonia.Component.Single(c => c.Code.Coding[0].Code == "prior-probability");
        Assert.Equal(0.21m, ((Quantity)prior.Value).Value);
        Assert.Equal("NEG", prior.Interpretation[0].Coding[0].Code);
        Assert.Contains(pneumonia.Note, n => n.Text == "Compared with prior study of 2025-12-01, accession ACC-OLD-9: new.");
        var effusion = (Observation)bundle.Entry[2].Resource;
        Assert.Equal("unchanged", ((CodeableConcept)effusion.Component[0].Value).Coding[0].Code);
    }

    [Fact]
    public async Task Same_results_give_the_same_bundle_so_resending_keys_on_the_same_identifiers()
    {
        var (first, _) = await ProduceAsync(data.Results());
        var (second, _) = await ProduceAsync(data.Results());

        Assert.Equal(first.Content, second.Content);
    }

    [Fact]
    public async Task Awkward_identifiers_are_escaped_in_conditional_urls_and_bad_uids_left_out()
    {
        var results = data.Results(patientId: "A|B,C$D\\E&F=G");
        var badSeries = results.Instances[0] with { SeriesInstanceUid = "1.2.3 not a uid", SopInstanceUid = "9.9.9" };
        results = results with { Instances = [results.Instances[0], badSeries] };

        var (_, bundle) = await ProduceAsync(results);

        AssertValid(bundle);
        var study = (ImagingStudy)bundle.Entry[0].Resource;
        Assert.Equal("A|B,C$D\\E&F=G", study.Subject.Identifier.Value);
        Assert.Equal(data.SeriesUid, Assert.Single(study.Series).Uid);
        Assert.Equal(1, study.NumberOfInstances);
        var observationUrl = bundle.Entry[1].Request.Url;
        Assert.DoesNotContain("&", observationUrl[(observationUrl.IndexOf('?', StringComparison.Ordinal) + 1)..], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bundle_that_fails_attribute_validation_is_refused_with_the_reason()
    {
        var results = data.Results();
        var badCode = results.Findings[0] with { Code = new CodedConcept("http://snomed.info/sct", " 233604007  ", "Pneumonia (disorder)") };
        results = results with { Findings = [badCode, results.Findings[1]] };

        var error = await Assert.ThrowsAsync<FhirBundleInvalidException>(() => Producer().ProduceAsync(results, CancellationToken.None));
        Assert.Contains(data.StudyUid, error.Message, StringComparison.Ordinal);
        Assert.Contains("233604007", error.Message, StringComparison.Ordinal);

        // The full validator agrees with the cheap one.
        var bundle = Producer().CreateBundle(results);
        Assert.False(validator.Validate(bundle).IsValid);
    }

    [Fact]
    public async Task Study_without_patient_id_or_findings_is_still_valid()
    {
        var bare = new StudyResults(new StudyHeader("1.2.3.4", null, null, null, null, null, null, null, null, null, null, null), [], [], null);

        var (_, bundle) = await ProduceAsync(bare);

        AssertValid(bundle);
        var report = (DiagnosticReport)bundle.Entry.Single(e => e.Resource is DiagnosticReport).Resource;
        Assert.Empty(report.Result);
        Assert.Equal("unknown patient", report.Subject.Display);
        Assert.Contains("No AI findings", report.Conclusion, StringComparison.Ordinal);
    }
}
