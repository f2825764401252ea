using System.Text.Json;
using MedVision.Contracts;
using MedVision.Edge.Pipeline;
using MedVision.Edge.Storage;

namespace MedVision.Edge.Sync;

/// <summary>
/// Queues each stored finding for the hub, de-identified: the message carries model output and modality, and for the
/// study, instance and patient only keyed pseudonyms. Names, IDs, dates, accession numbers and real UIDs never leave.
/// Positive findings go first (alert priority).
/// </summary>
public sealed class CloudFindingsListener(CloudOutbox outbox, SitePseudonyms pseudonyms, IStudyStore studies, ILogger<CloudFindingsListener> logger) : IFindingsListener
{
    public async Task OnFindingsAsync(IReadOnlyList<FindingRecord> findings, PendingInstance instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(findings);
        ArgumentNullException.ThrowIfNull(instance);
        if (findings.Count == 0)
        {
            return;
        }
        try
        {
            var study = await studies.GetStudyAsync(instance.StudyUid, cancellationToken).ConfigureAwait(false);
            var studyPseudonym = pseudonyms.Uid(instance.StudyUid);
            var instancePseudonym = pseudonyms.Uid(instance.SopInstanceUid);
            // Without a Patient ID the study stands for its patient, so unrelated unknown patients are not linked.
            var patientPseudonym = pseudonyms.Patient(study?.PatientId is { Length: > 0 } id ? id : "study:" + instance.StudyUid);
            var messages = findings.Select(f =>
            {
                var body = new FindingV1(
                    studyPseudonym, instancePseudonym, patientPseudonym, instance.Modality?.Trim(),
                    f.ModelId, f.ModelVersion, f.ModelSha256, f.Label, f.Probability, f.Threshold, f.Positive,
                    f.ExecutionProvider, f.InferenceMs, f.CreatedUtc);
                var id = SitePseudonyms.MessageId("f", instancePseudonym, f.ModelId, f.ModelVersion, f.Label);
                return (id, f.Positive ? OutboxPriority.Alert : OutboxPriority.Finding, MessageTypes.Finding, JsonSerializer.Serialize(body, ContractJson.Options), f.CreatedUtc);
            }).ToList();
            await outbox.EnqueueAsync(messages, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            SyncLog.QueueFailed(logger, instance.SopInstanceUid, ex);
            throw;
        }
    }
}
