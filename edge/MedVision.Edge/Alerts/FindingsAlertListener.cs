using MedVision.Dicom;
using MedVision.Dicom.IO;
using MedVision.Edge.Pipeline;
using MedVision.Edge.Storage;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Alerts;

/// <summary>
/// Turns stored findings into alerts: the first matching rule per finding, one alert per study and rule (a repeat
/// only counts the finding), deferred when quiet hours hold it. Only records and wakes the engine; the beacon and the
/// pages are the engine's, so the pipeline is never held up by the network.
/// </summary>
public sealed class FindingsAlertListener(
    AlertRuleEvaluator rules,
    AlertStore store,
    IStudyStore studies,
    QuietHoursPolicy quietHours,
    AlertSignal signal,
    AlertMetrics metrics,
    IOptions<AlertOptions> options,
    TimeProvider clock,
    ILogger<FindingsAlertListener> logger) : IFindingsListener
{
    private static readonly DicomTag RequestedProcedurePriority = new(0x0040, 0x1003);
    private static readonly DicomTag RequestAttributesSequence = new(0x0040, 0x0275);
    private static readonly DicomTag StudyPriorityId = new(0x0032, 0x000C);
    private static readonly DicomTag PixelData = new(0x7FE0, 0x0010);

    public async Task OnFindingsAsync(IReadOnlyList<FindingRecord> findings, PendingInstance instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(findings);
        ArgumentNullException.ThrowIfNull(instance);
        if (!options.Value.Enabled || findings.Count == 0)
        {
            return;
        }
        var priority = new Lazy<string?>(() => ReadPriority(instance, logger));
        var context = new FindingContext(instance.Modality, () => priority.Value);
        var matches = findings
            .Select(f => (Finding: f, Rule: rules.Match(f, context)))
            .Where(m => m.Rule is not null)
            .GroupBy(m => m.Rule!.Name, StringComparer.OrdinalIgnoreCase)
            .Select(g => g.MaxBy(m => m.Finding.Probability))
            .ToList();
        if (matches.Count == 0)
        {
            return;
        }

        var study = await studies.GetStudyAsync(instance.StudyUid, cancellationToken).ConfigureAwait(false);
        var raised = false;
        foreach (var (finding, rule) in matches)
        {
            var findingId = await store.FindFindingIdAsync(finding, cancellationToken).ConfigureAwait(false);
            var now = clock.GetUtcNow();
            var state = quietHours.Defers(rule!.Severity, now) ? AlertStates.Deferred : AlertStates.Active;
            var (alert, created) = await store.RaiseAsync(new NewAlert(
                instance.StudyUid, rule.Name, rule.Severity, state, findingId, finding.SopInstanceUid, finding.ModelId,
                finding.Label, finding.Probability, finding.Threshold, instance.Modality ?? study?.Modality,
                priority.Value,
                study?.PatientId, study?.AccessionNumber, study?.LastReceivedUtc, finding.CreatedUtc, now), cancellationToken).ConfigureAwait(false);
            if (created)
            {
                raised = true;
                metrics.AlertRaised(alert.Severity);
                AlertLog.Raised(logger, alert.Id, alert.Severity.ToWire(), alert.Rule, alert.StudyUid, alert.Label, alert.Probability, alert.State);
            }
            else
            {
                AlertLog.Deduplicated(logger, alert.StudyUid, alert.Id, alert.Rule);
            }
        }
        if (raised)
        {
            signal.Notify();
        }
    }

    /// <summary>
    /// Requested Procedure Priority (top level or in the Request Attributes Sequence), else the retired Study Priority
    /// ID; null when the instance carries neither or cannot be read.
    /// </summary>
    internal static string? ReadPriority(PendingInstance instance, ILogger logger)
    {
        try
        {
            var dataset = DicomFile.Open(instance.SpoolPath, new DicomReadOptions { StopBeforeTag = PixelData }).Dataset;
            var value = dataset.GetStringOrDefault(RequestedProcedurePriority);
            if (value is null && dataset.TryGetSequence(RequestAttributesSequence, out var requests))
            {
                value = requests.Items.Select(i => i.GetStringOrDefault(RequestedProcedurePriority)).FirstOrDefault(v => v is not null);
            }
            value ??= dataset.GetStringOrDefault(StudyPriorityId);
            return string.IsNullOrWhiteSpace(value) ? null : value.Trim().ToUpperInvariant();
        }
        catch (Exception ex) when (ex is IOException or DicomFormatException or UnauthorizedAccessException)
        {
            AlertLog.PriorityUnreadable(logger, instance.SopInstanceUid, ex.Message);
            return null;
        }
    }
}
