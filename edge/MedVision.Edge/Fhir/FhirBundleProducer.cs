using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using Task = System.Threading.Tasks.Task;
using Hl7.Fhir.Serialization;
using Hl7.Fhir.Validation;
using MedVision.Edge.Outputs;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Fhir;

/// <summary>
/// Makes a FHIR R4 transaction Bundle for a study: the ImagingStudy (created only if none with its Study Instance UID exists), one
/// Observation per finding and a DiagnosticReport over them, both written by conditional update on their identifiers, so re-sending the
/// same Bundle (outbox retries, re-processing) updates rather than duplicates. The patient is referenced by identifier: the appliance
/// is no master patient index and must not create Patients.
/// </summary>
public sealed partial class FhirBundleProducer(IOptions<FhirOptions> options, TimeProvider timeProvider, ILogger<FhirBundleProducer> logger) : IStudyOutputProducer
{
    public const string ContentType = "application/fhir+json";
    public const string DicomUidSystem = "urn:dicom:uid";
    public const string DicomCodeSystem = "http://dicom.nema.org/resources/ontology/DCM";
    public const string UcumSystem = "http://unitsofmeasure.org";
    public const string InterpretationSystem = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
    public const string PreliminaryNote = "AI-generated preliminary result; requires radiologist confirmation. Not for diagnostic use.";

    private readonly JsonSerializerOptions _json = new JsonSerializerOptions().ForFhir(ModelInfo.ModelInspector);

    public bool IsEnabled => options.Value.Enabled;

    public Task<IReadOnlyList<StudyOutput>> ProduceAsync(StudyResults results, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(results);
        cancellationToken.ThrowIfCancellationRequested();
        var bundle = CreateBundle(results);
        var settings = options.Value;
        if (settings.ValidateOnProduce)
        {
            var errors = bundle.Validate(ModelInfo.ModelInspector).Select(e => e.Message).ToList();
            if (errors.Count > 0)
            {
                var text = string.Join("; ", errors);
                FhirLog.BundleInvalid(logger, results.Study.StudyInstanceUid, text);
                throw new FhirBundleInvalidException($"The FHIR Bundle for study {results.Study.StudyInstanceUid} is not valid R4: {text}");
            }
        }
        var bytes = JsonSerializer.SerializeToUtf8Bytes(bundle, _json);
        FhirLog.BundleMade(logger, results.Study.StudyInstanceUid, bundle.Entry.Count(e => e.Resource is Observation), bytes.Length);
        IReadOnlyList<StudyOutput> outputs =
            [new StudyOutput(StudyOutputKinds.FhirBundle, $"fhir-{SafeFileName(results.Study.StudyInstanceUid)}.json", ContentType, bytes)];
        return Task.FromResult(outputs);
    }

    /// <summary>The transaction Bundle (not yet validated or serialised).</summary>
    public Bundle CreateBundle(StudyResults results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var settings = options.Value;
        var study = results.Study;
        var now = timeProvider.GetUtcNow();
        var subject = PatientReference(study, settings);
        var studyDate = ParseDicomDate(study.StudyDate);

        var imagingStudy = CreateImagingStudy(results, settings, subject, studyDate);
        var studyIdentifier = imagingStudy.Identifier[0];
        var studyUrl = FullUrl("ImagingStudy", studyIdentifier);
        var bundle = new Bundle { Type = Bundle.BundleType.Transaction, Timestamp = now };
        bundle.Entry.Add(new Bundle.EntryComponent
        {
            FullUrl = studyUrl,
            Resource = imagingStudy,
            Request = new Bundle.RequestComponent
            {
                Method = Bundle.HTTPVerb.POST,
                Url = "ImagingStudy",
                IfNoneExist = IdentifierQuery(studyIdentifier),
            },
        });

        var observationUrls = new List<string>();
        var positives = new List<StudyFinding>();
        foreach (var finding in results.Findings.OrderBy(f => f.FindingId))
        {
            var change = results.Prior?.Changes.FirstOrDefault(c => c.ModelId == finding.Finding.ModelId && c.Label == finding.Finding.Label);
            var observation = CreateObservation(study, finding, change, results.Prior, settings, subject, studyDate, studyUrl);
            var url = FullUrl("Observation", observation.Identifier[0]);
            observationUrls.Add(url);
            if (finding.Finding.Positive)
            {
                positives.Add(finding);
            }
            bundle.Entry.Add(new Bundle.EntryComponent
            {
                FullUrl = url,
                Resource = observation,
                Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = "Observation?" + IdentifierQuery(observation.Identifier[0]) },
            });
        }

        var report = new DiagnosticReport
        {
            Identifier = [new Identifier(settings.ReportIdentifierSystem, study.StudyInstanceUid)],
            Status = DiagnosticReport.DiagnosticReportStatus.Preliminary,
            Category =
            [
                new CodeableConcept("http://terminology.hl7.org/CodeSystem/v2-0074", "RAD", "Radiology", "imaging"),
            ],
            Code = new CodeableConcept("http://loinc.org", "18748-4", "Diagnostic imaging study", "AI findings (preliminary)"),
            Subject = subject,
            Effective = studyDate is { } d ? new FhirDateTime(d.Year, d.Month, d.Day) : null,
            Issued = now,
            ImagingStudy = [new ResourceReference(studyUrl)],
            Result = observationUrls.Select(u => new ResourceReference(u)).ToList(),
            Conclusion = Conclusion(results),
            ConclusionCode = positives
                .Where(p => p.Code is not null)
                .Select(p => new CodeableConcept(p.Code!.System, p.Code.Code, p.Code.Display, p.LabelDisplay))
                .ToList(),
        };
        var reportIdentifier = report.Identifier[0];
        bundle.Entry.Add(new Bundle.EntryComponent
        {
            FullUrl = FullUrl("DiagnosticReport", reportIdentifier),
            Resource = report,
            Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = "DiagnosticReport?" + IdentifierQuery(reportIdentifier) },
        });
        return bundle;
    }

    private ImagingStudy CreateImagingStudy(StudyResults results, FhirOptions settings, ResourceReference subject, DateOnly? studyDate)
    {
        var study = results.Study;
        var imagingStudy = new ImagingStudy
        {
            Identifier = [new Identifier(DicomUidSystem, "urn:oid:" + study.StudyInstanceUid)],
            Status = ImagingStudy.ImagingStudyStatus.Available,
            Subject = subject,
            StartedElement = studyDate is { } d ? new FhirDateTime(d.Year, d.Month, d.Day) : null,
            Description = NullIfBlank(study.StudyDescription),
        };
        if (NullIfBlank(study.AccessionNumber) is { } accession)
        {
            imagingStudy.Identifier.Add(new Identifier(settings.AccessionIdentifierSystem, accession)
            {
                Type = new CodeableConcept("http://terminology.hl7.org/CodeSystem/v2-0203", "ACSN", "Accession ID"),
            });
        }

        var modalities = results.Instances.Select(i => i.Modality).Append(study.Modality)
            .Select(NullIfBlank).OfType<string>().Select(m => m.ToUpperInvariant()).Distinct(StringComparer.Ordinal);
        imagingStudy.Modality = modalities.Where(IsCode).Select(m => new Coding(DicomCodeSystem, m)).ToList();

        foreach (var series in results.Instances.GroupBy(i => i.SeriesInstanceUid ?? "", StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            if (!IsFhirId(series.Key))
            {
                FhirLog.UidSkipped(logger, study.StudyInstanceUid, "Series Instance UID", series.Key);
                continue;
            }
            var modality = NullIfBlank(series.First().Modality) ?? NullIfBlank(study.Modality) ?? "OT";
            var component = new ImagingStudy.SeriesComponent
            {
                Uid = series.Key,
                Modality = new Coding(DicomCodeSystem, IsCode(modality.ToUpperInvariant()) ? modality.ToUpperInvariant() : "OT"),
            };
            foreach (var instance in series.OrderBy(i => i.SopInstanceUid, StringComparer.Ordinal))
            {
                if (!IsFhirId(instance.SopInstanceUid))
                {
                    FhirLog.UidSkipped(logger, study.StudyInstanceUid, "SOP Instance UID", instance.SopInstanceUid);
                    continue;
                }
                component.Instance.Add(new ImagingStudy.InstanceComponent
                {
                    Uid = instance.SopInstanceUid,
                    SopClass = new Coding("urn:ietf:rfc:3986", "urn:oid:" + instance.SopClassUid),
                });
            }
            component.NumberOfInstances = component.Instance.Count;
            imagingStudy.Series.Add(component);
        }
        imagingStudy.NumberOfSeries = imagingStudy.Series.Count;
        imagingStudy.NumberOfInstances = imagingStudy.Series.Sum(s => s.Instance.Count);
        return imagingStudy;
    }

    private static Observation CreateObservation(
        StudyHeader study, StudyFinding item, FindingChange? change, PriorComparison? prior, FhirOptions settings,
        ResourceReference subject, DateOnly? studyDate, string studyUrl)
    {
        var f = item.Finding;
        var code = new CodeableConcept { Text = item.LabelDisplay };
        if (item.Code is { } coded)
        {
            code.Coding.Add(new Coding(coded.System, coded.Code, coded.Display));
        }
        code.Coding.Add(new Coding(settings.CodeSystem, CodeToken($"{f.ModelId}/{f.Label}"), item.LabelDisplay));

        var observation = new Observation
        {
            Identifier = [new Identifier(settings.ObservationIdentifierSystem, $"{study.StudyInstanceUid}/{f.SopInstanceUid}/{f.ModelId}/{f.Label}")],
            Status = ObservationStatus.Preliminary,
            Category = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/observation-category", "imaging", "Imaging")],
            Code = code,
            Subject = subject,
            Effective = studyDate is { } d ? new FhirDateTime(d.Year, d.Month, d.Day) : null,
            Issued = f.CreatedUtc,
            Value = Probability(f.Probability),
            Interpretation =
            [
                f.Positive
                    ? new CodeableConcept(InterpretationSystem, "POS", "Positive")
                    : new CodeableConcept(InterpretationSystem, "NEG", "Negative"),
            ],
            ReferenceRange =
            [
                new Observation.ReferenceRangeComponent
                {
                    High = Probability(f.Threshold),
                    Text = $"Decision threshold {f.Threshold.ToString("0.####", CultureInfo.InvariantCulture)}: positive at or above it",
                },
            ],
            Method = new CodeableConcept
            {
                Text = $"AI inference: model {f.ModelId} {f.ModelVersion}, SHA-256 {f.ModelSha256}, execution provider {f.ExecutionProvider}",
            },
            Device = new ResourceReference
            {
                Identifier = new Identifier(settings.ModelIdentifierSystem, $"{f.ModelId}@{f.ModelVersion}"),
                Display = $"AI model {f.ModelId} {f.ModelVersion}",
            },
            DerivedFrom = [new ResourceReference(studyUrl)],
            Note = [new Annotation { Text = new Markdown(PreliminaryNote + $" Image SOP Instance UID {f.SopInstanceUid}.") }],
        };

        if (change is not null && prior is not null)
        {
            var priorWhen = ParseDicomDate(prior.PriorStudyDate)?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) ?? "unknown date";
            var accession = string.IsNullOrWhiteSpace(prior.PriorAccessionNumber) ? "" : $", accession {prior.PriorAccessionNumber}";
            observation.Component.Add(new Observation.ComponentComponent
            {
                Code = new CodeableConcept(settings.CodeSystem, "prior-change", "Change against prior study"),
                Value = new CodeableConcept(settings.CodeSystem, change.Change, change.Change,
                    $"{change.Change} against prior study of {priorWhen}{accession} ({prior.PriorStudyInstanceUid})"),
            });
            if (change.PriorProbability is { } priorProbability)
            {
                observation.Component.Add(new Observation.ComponentComponent
                {
                    Code = new CodeableConcept(settings.CodeSystem, "prior-probability", "Probability in prior study"),
                    Value = Probability(priorProbability),
                    Interpretation = change.PriorPositive is { } wasPositive
                        ? [wasPositive ? new CodeableConcept(InterpretationSystem, "POS", "Positive") : new CodeableConcept(InterpretationSystem, "NEG", "Negative")]
                        : [],
                });
            }
            observation.Note.Add(new Annotation
            {
                Text = new Markdown($"Compared with prior study of {priorWhen}{accession}: {change.Change}."),
            });
        }
        return observation;
    }

    private static Quantity Probability(double value) => new()
    {
        Value = Math.Round((decimal)value, 4),
        Unit = "probability",
        System = UcumSystem,
        Code = "1",
    };

    private static string Conclusion(StudyResults results)
    {
        var text = new StringBuilder("PRELIMINARY, AI-generated; requires radiologist confirmation. ");
        if (results.Findings.Count == 0)
        {
            text.Append("No AI findings.");
            return text.ToString();
        }
        text.AppendJoin("; ", results.Findings
            .OrderByDescending(f => f.Finding.Positive).ThenByDescending(f => f.Finding.Probability)
            .Select(f => string.Create(CultureInfo.InvariantCulture,
                $"{f.LabelDisplay}: {(f.Finding.Positive ? "positive" : "negative")} ({f.Finding.Probability * 100:0.0} %, threshold {f.Finding.Threshold * 100:0.0} %, {f.Finding.ModelId} {f.Finding.ModelVersion})")));
        text.Append('.');
        return text.ToString();
    }

    private static ResourceReference PatientReference(StudyHeader study, FhirOptions settings)
    {
        var display = NullIfBlank(study.PatientName?.Split('=')[0].Replace('^', ' ').Trim());
        return NullIfBlank(study.PatientId) is { } id
            ? new ResourceReference { Type = "Patient", Identifier = new Identifier(settings.PatientIdentifierSystem, id), Display = display }
            : new ResourceReference { Type = "Patient", Display = display ?? "unknown patient" };
    }

    /// <summary>A stable urn:uuid from the resource's identifier, so the same study gives the same Bundle every time.</summary>
    private static string FullUrl(string resourceType, Identifier identifier)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{resourceType}|{identifier.System}|{identifier.Value}"));
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return "urn:uuid:" + new Guid(hash.AsSpan(0, 16), bigEndian: true).ToString("D");
    }

    /// <summary>identifier=system|value, escaped for FHIR search (\ | $ ,) and for the URL.</summary>
    internal static string IdentifierQuery(Identifier identifier)
    {
        var value = (identifier.Value ?? "").Replace("\\", "\\\\").Replace("|", "\\|").Replace("$", "\\$").Replace(",", "\\,");
        return "identifier=" + Uri.EscapeDataString(identifier.System ?? "") + "|" + Uri.EscapeDataString(value);
    }

    private static DateOnly? ParseDicomDate(string? da) =>
        da is not null && DateOnly.TryParseExact(da.Trim(), "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date) ? date : null;

    private static string? NullIfBlank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static bool IsFhirId(string value) => FhirIdPattern().IsMatch(value);

    private static bool IsCode(string value) => CodePattern().IsMatch(value);

    /// <summary>FHIR code: no leading/trailing whitespace, single spaces inside.</summary>
    private static string CodeToken(string value) => string.Join(' ', value.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));

    private static string SafeFileName(string value)
    {
        var chars = value.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '_').ToArray();
        return chars.Length == 0 ? "study" : new string(chars);
    }

    [GeneratedRegex("^[A-Za-z0-9.-]{1,64}$")]
    private static partial Regex FhirIdPattern();

    [GeneratedRegex(@"^[^\s]+( [^\s]+)*$")]
    private static partial Regex CodePattern();
}

/// <summary>The Bundle made for a study does not pass the SDK's validation; the message lists every error.</summary>
public sealed class FhirBundleInvalidException(string message) : Exception(message);
