using System.Globalization;
using MedVision.Dicom;
using MedVision.Dicom.Network;
using MedVision.Edge.Inference;
using MedVision.Edge.Ingest;
using MedVision.Edge.Pipeline;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Priors;

/// <summary>A study the PACS holds for the patient, as its C-FIND answer described it.</summary>
public sealed record PriorStudy(string StudyInstanceUid, string? StudyDate, string? StudyTime, string? AccessionNumber);

/// <summary>The largest probability each (model, label) reached on a study's instances, and whether any instance was positive.</summary>
public sealed record LabelResult(string ModelId, string ModelVersion, string Label, double Probability, double Threshold, bool Positive);

/// <summary>What running the models over a retrieved prior gave.</summary>
public sealed record PriorResults(int InstancesRetrieved, int InstancesAssessed, IReadOnlyList<LabelResult> Labels);

/// <summary>
/// Finds a patient's most recent earlier study in the PACS (Study Root C-FIND) and brings it back with C-GET on the same
/// association, running the current models on each instance as it arrives; nothing of the prior is written to disk.
/// </summary>
public sealed class PacsPriorRetriever(IOptions<PriorOptions> options, IOptions<DicomOptions> dicom, ModelRegistry registry, ModelRouter router)
{
    public const string StudyRootFind = "1.2.840.10008.5.1.4.1.2.2.1";
    public const string StudyRootGet = "1.2.840.10008.5.1.4.1.2.2.3";

    /// <summary>Image storage classes the shipped models can read; a prior's other objects (SR, presentation states) are not asked for.</summary>
    private static readonly string[] ImageStorageClasses =
    [
        "1.2.840.10008.5.1.4.1.1.1", // CR
        "1.2.840.10008.5.1.4.1.1.1.1", // DX for presentation
        "1.2.840.10008.5.1.4.1.1.1.1.1", // DX for processing
        "1.2.840.10008.5.1.4.1.1.1.2", // MG for presentation
        "1.2.840.10008.5.1.4.1.1.1.2.1", // MG for processing
        "1.2.840.10008.5.1.4.1.1.2", // CT
        "1.2.840.10008.5.1.4.1.1.4", // MR
        "1.2.840.10008.5.1.4.1.1.6.1", // US
        "1.2.840.10008.5.1.4.1.1.3.1", // US multi-frame
        "1.2.840.10008.5.1.4.1.1.7", // Secondary Capture
    ];

    /// <summary>Uncompressed first; then the compressed syntaxes our codecs decode, so the PACS need not transcode.</summary>
    private static readonly string[] RetrieveSyntaxes =
    [
        DicomTransferSyntax.ExplicitVRLittleEndian.Uid, DicomTransferSyntax.ImplicitVRLittleEndian.Uid,
        "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",
        "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.5",
    ];

    private string CallingAe => string.IsNullOrWhiteSpace(options.Value.CallingAeTitle) ? dicom.Value.AeTitle : options.Value.CallingAeTitle!;

    /// <summary>The most recent study of <paramref name="patientId"/> with <paramref name="modality"/> dated no later than the current one.</summary>
    public async Task<PriorStudy?> FindMostRecentPriorAsync(
        string patientId, string? modality, string currentStudyUid, string? currentStudyDate, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        await using var client = await DicomClient.ConnectAsync(settings.Host, settings.Port, CallingAe, settings.CalledAeTitle,
            [new PresentationContextProposal(1, StudyRootFind, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid, DicomTransferSyntax.ImplicitVRLittleEndian.Uid])],
            cancellationToken).ConfigureAwait(false);
        var query = new DicomDataset()
            .AddOrUpdate(DicomTags.QueryRetrieveLevel, DicomVR.CS, "STUDY")
            .AddOrUpdate(DicomTags.PatientID, DicomVR.LO, patientId)
            .AddOrUpdate(DicomTags.StudyInstanceUID, DicomVR.UI, string.Empty)
            .AddOrUpdate(DicomTags.StudyDate, DicomVR.DA, string.Empty)
            .AddOrUpdate(DicomTags.StudyTime, DicomVR.TM, string.Empty)
            .AddOrUpdate(DicomTags.AccessionNumber, DicomVR.SH, string.Empty)
            .AddOrUpdate(DicomTags.ModalitiesInStudy, DicomVR.CS, modality ?? string.Empty);
        var (matches, status) = await client.FindAsync(StudyRootFind, query, cancellationToken).ConfigureAwait(false);
        await client.ReleaseAsync(cancellationToken).ConfigureAwait(false);
        if (!status.IsSuccess)
        {
            throw new IOException($"C-FIND at {settings.CalledAeTitle} failed: {status}");
        }
        var oldest = now.AddDays(-settings.MaxAgeDays).ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        return matches
            .Select(m => new PriorStudy(
                m.GetStringOrDefault(DicomTags.StudyInstanceUID) ?? string.Empty,
                m.GetStringOrDefault(DicomTags.StudyDate), m.GetStringOrDefault(DicomTags.StudyTime), m.GetStringOrDefault(DicomTags.AccessionNumber)))
            .Where(p => p.StudyInstanceUid.Length > 0 && p.StudyInstanceUid != currentStudyUid)
            // A study dated after the current one is not a prior; an undated one cannot be placed and is left out.
            .Where(p => p.StudyDate is { Length: 8 } date && string.CompareOrdinal(date, oldest) >= 0
                        && (currentStudyDate is not { Length: 8 } || string.CompareOrdinal(date, currentStudyDate) <= 0))
            .OrderByDescending(p => p.StudyDate, StringComparer.Ordinal)
            .ThenByDescending(p => p.StudyTime ?? string.Empty, StringComparer.Ordinal)
            .FirstOrDefault();
    }

    /// <summary>Retrieves <paramref name="prior"/> with C-GET and runs the current models on each image as it arrives.</summary>
    public async Task<PriorResults> RetrieveAndAssessAsync(PriorStudy prior, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var (storage, roles) = DicomClient.StorageContextsForGet(ImageStorageClasses, RetrieveSyntaxes);
        await using var client = await DicomClient.ConnectAsync(settings.Host, settings.Port, CallingAe, settings.CalledAeTitle,
            [new PresentationContextProposal(1, StudyRootGet, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid, DicomTransferSyntax.ImplicitVRLittleEndian.Uid]), .. storage],
            roles, cancellationToken).ConfigureAwait(false);
        var best = new Dictionary<(string Model, string Label), LabelResult>();
        var retrieved = 0;
        var assessed = 0;
        // One model generation for the whole prior, as for an instance of the current study.
        using var lease = registry.Acquire();
        var result = await client.GetAsync(StudyRootGet, new DicomDataset()
                .AddOrUpdate(DicomTags.QueryRetrieveLevel, DicomVR.CS, "STUDY")
                .AddOrUpdate(DicomTags.StudyInstanceUID, DicomVR.UI, prior.StudyInstanceUid),
            (instance, token) =>
            {
                token.ThrowIfCancellationRequested();
                retrieved++;
                if (retrieved > settings.MaxInstances)
                {
                    return Task.FromResult(DicomStatus.Success);
                }
                // The prior is offered to the models the site's routing would offer it to as a new instance.
                var attributes = InstanceAttributes.From(instance.Dataset, null);
                var models = lease.Models.Where(m => router.Decide(m, attributes).Applies).ToList();
                if (models.Count == 0)
                {
                    return Task.FromResult(DicomStatus.Success);
                }
                var image = InstanceProcessor.LoadImage(DicomFile.Create(instance.Dataset, instance.TransferSyntax));
                assessed++;
                foreach (var model in models)
                {
                    foreach (var output in model.Predict(image).Outputs)
                    {
                        var key = (model.Id, output.Label);
                        var positive = output.Positive || (best.TryGetValue(key, out var seen) && seen.Positive);
                        var probability = best.TryGetValue(key, out var earlier) ? Math.Max(earlier.Probability, output.Probability) : output.Probability;
                        best[key] = new LabelResult(model.Id, model.Version, output.Label, probability, output.Threshold, positive);
                    }
                }
                return Task.FromResult(DicomStatus.Success);
            }, cancellationToken).ConfigureAwait(false);
        await client.ReleaseAsync(cancellationToken).ConfigureAwait(false);
        if (!result.Status.IsSuccess && result.Status.Code != 0xB000)
        {
            throw new IOException($"C-GET of prior {prior.StudyInstanceUid} failed: {result.Status} ({result.Completed} completed, {result.Failed} failed)");
        }
        return new PriorResults(retrieved, assessed, best.Values.ToList());
    }
}
