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
    /// <summary>The outbox rows for one instance's findings; the same input always gives the same message ids.</summary>
    internal static List<(string, int, string, string, DateTimeOffset)> Messages(SitePseudonyms pseudonyms, IEnumerable<FindingRecord> findings, string? patientId, string? modality) =>
        findings.Select(f =>
        {
            var instancePseudonym = pseudonyms.Uid(f.SopInstanceUid);
            // Without a Patient ID the study stands for its patient, so unrelated unknown patients are not linked.
            var body = new FindingV1(
                pseudonyms.Uid(f.StudyUid), instancePseudonym, pseudonyms.Patient(patientId is { Length: > 0 } ? patientId : "study:" + f.StudyUid),
                modality?.Trim(), f.ModelId, f.ModelVersion, f.ModelSha256, f.Label, f.Probability, f.Threshold, f.Positive,
                f.ExecutionProvider, f.InferenceMs, f.CreatedUtc);
            var id = SitePseudonyms.MessageId("f", instancePseudonym, f.ModelId, f.ModelVersion, f.Label);
            return (id, f.Positive ? OutboxPriority.Alert : OutboxPriority.Finding, MessageTypes.Finding, JsonSerializer.Serialize(body, ContractJson.Options), f.CreatedUtc);
        }).ToList();

    /// <summary>
    /// Queues findings stored but never queued (the appliance stopped between the two, or queuing failed); run at start
    /// before sending and at each reconnection.
    /// </summary>
    internal static async Task<int> CatchUpAsync(CloudOutbox outbox, SitePseudonyms pseudonyms, CancellationToken cancellationToken)
    {
        var total = 0;
        while (true)
        {
            var missed = await outbox.FindingsAfterMarkAsync(500, cancellationToken).ConfigureAwait(false);
            if (missed.Count == 0)
            {
                return total;
            }
            var messages = missed.SelectMany(m => Messages(pseudonyms, [m.Finding], m.PatientId, m.Modality)).ToList();
            await outbox.EnqueueAsync(messages, cancellationToken, (missed[0].Id, missed[^1].Id)).ConfigureAwait(false);
            total += missed.Count;
        }
    }

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
            var range = await outbox.FindingIdRangeAsync(instance.SopInstanceUid, cancellationToken).ConfigureAwait(false);
            await outbox.EnqueueAsync(Messages(pseudonyms, findings, study?.PatientId, instance.Modality), cancellationToken, range).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            SyncLog.QueueFailed(logger, instance.SopInstanceUid, ex);
            throw;
        }
    }
}
