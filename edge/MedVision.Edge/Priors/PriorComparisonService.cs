using MedVision.Edge.Api;
using MedVision.Edge.Outputs;
using MedVision.Edge.Pipeline;
using MedVision.Edge.Storage;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Priors;

/// <summary>
/// Clinical context from history: when a study completes and its own findings are in, finds the patient's most recent prior study
/// of the same modality in the PACS, retrieves it, runs the same models and records per label whether the finding is new,
/// unchanged or resolved. Report producers read the result through <see cref="IPriorComparisonSource"/>.
/// </summary>
public sealed partial class PriorComparisonService(
    PriorComparisonStore store,
    IStudyStore studies,
    PacsPriorRetriever retriever,
    IOptions<PriorOptions> options,
    TimeProvider clock,
    ILogger<PriorComparisonService> logger) : BackgroundService, IStudyCompletedListener, IPriorComparisonSource, IHealthContributor
{
    private readonly WakeSignal _wake = new();
    private readonly WakeSignal _finished = new();
    private IReadOnlyDictionary<string, long> _counts = new Dictionary<string, long>();

    public string Name => "priors";

    public bool Healthy => true;

    public object Describe() => new { enabled = options.Value.Enabled, pacs = $"{options.Value.CalledAeTitle}@{options.Value.Host}:{options.Value.Port}", comparisons = _counts };

    public async Task OnStudyCompletedAsync(string studyUid, CancellationToken cancellationToken)
    {
        if (!options.Value.Enabled)
        {
            return;
        }
        await store.RequestAsync(studyUid, cancellationToken).ConfigureAwait(false);
        _wake.Notify();
    }

    public async Task<PriorComparison?> GetComparisonAsync(string studyUid, CancellationToken cancellationToken)
    {
        if (!options.Value.Enabled)
        {
            return null;
        }
        var deadline = clock.GetUtcNow() + TimeSpan.FromSeconds(options.Value.ReportWaitSeconds);
        while (true)
        {
            var record = await store.GetAsync(studyUid, cancellationToken).ConfigureAwait(false);
            if (record is { State: PriorComparisonStates.Compared, PriorStudyUid: not null, Changes: not null })
            {
                return new PriorComparison(record.PriorStudyUid, record.PriorStudyDate, record.PriorAccessionNumber, record.Changes);
            }
            if (record is not null && record.State != PriorComparisonStates.Pending || clock.GetUtcNow() >= deadline)
            {
                return null;
            }
            // Not requested yet (completion is being handled) or still running: wait for the loop to finish something.
            await _finished.WaitAsync(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
        }
    }

    public Task<PriorComparisonRecord?> GetRecordAsync(string studyUid, CancellationToken cancellationToken) => store.GetAsync(studyUid, cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Enabled)
        {
            LogDisabled();
            return;
        }
        LogEnabled(options.Value.CalledAeTitle, options.Value.Host, options.Value.Port);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await store.RequestMissingAsync(clock.GetUtcNow().AddDays(-1), stoppingToken).ConfigureAwait(false);
                foreach (var (studyUid, attempts) in await store.GetDueAsync(stoppingToken).ConfigureAwait(false))
                {
                    await CompareAsync(studyUid, attempts, stoppingToken).ConfigureAwait(false);
                    _finished.Notify();
                }
                _counts = await store.CountsAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogLoopFailed(ex);
            }
            await _wake.WaitAsync(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
        }
    }

    private async Task CompareAsync(string studyUid, int attempts, CancellationToken stoppingToken)
    {
        var study = await studies.GetStudyAsync(studyUid, stoppingToken).ConfigureAwait(false);
        if (study is null)
        {
            await store.MarkNoPriorAsync(studyUid, "the study is not known here", stoppingToken).ConfigureAwait(false);
            return;
        }
        if (study.Status is StudyStatuses.Receiving or StudyStatuses.Complete)
        {
            // Instances of the study are still queued for inference: its own findings are not final yet.
            await store.PostponeAsync(studyUid, clock.GetUtcNow().AddSeconds(1), stoppingToken).ConfigureAwait(false);
            return;
        }
        var current = PriorComparer.Aggregate((await studies.ListFindingsAsync(studyUid, 10_000, stoppingToken).ConfigureAwait(false)).Select(f => f.Finding));
        if (current.Count == 0)
        {
            await store.MarkNoPriorAsync(studyUid, "no findings to compare (no model applies to the study)", stoppingToken).ConfigureAwait(false);
            return;
        }
        if (string.IsNullOrWhiteSpace(study.PatientId))
        {
            await store.MarkNoPriorAsync(studyUid, "the study has no Patient ID to look priors up by", stoppingToken).ConfigureAwait(false);
            return;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.Value.TimeoutSeconds));
        try
        {
            var prior = await retriever.FindMostRecentPriorAsync(study.PatientId, study.Modality, studyUid, study.StudyDate, clock.GetUtcNow(), timeout.Token).ConfigureAwait(false);
            if (prior is null)
            {
                var reason = $"the PACS holds no earlier {study.Modality} study for this patient";
                await store.MarkNoPriorAsync(studyUid, reason, stoppingToken).ConfigureAwait(false);
                LogNoPrior(studyUid, reason);
                return;
            }
            var results = await retriever.RetrieveAndAssessAsync(prior, timeout.Token).ConfigureAwait(false);
            if (results.InstancesAssessed == 0)
            {
                var reason = $"prior {prior.StudyInstanceUid} has no image the models apply to ({results.InstancesRetrieved} instance(s) retrieved)";
                await store.MarkNoPriorAsync(studyUid, reason, stoppingToken).ConfigureAwait(false);
                LogNoPrior(studyUid, reason);
                return;
            }
            var changes = PriorComparer.Compare(current, results.Labels);
            await store.MarkComparedAsync(studyUid, prior, results.InstancesAssessed, changes, stoppingToken).ConfigureAwait(false);
            LogCompared(studyUid, prior.StudyInstanceUid, prior.StudyDate, results.InstancesAssessed,
                string.Join(", ", changes.Select(c => $"{c.Label}: {c.Change}")));
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            var giveUp = attempts + 1 >= options.Value.MaxAttempts;
            var delay = TimeSpan.FromSeconds(options.Value.RetryDelaySeconds * Math.Pow(2, Math.Min(attempts, 8)));
            var error = ex is OperationCanceledException ? $"timed out after {options.Value.TimeoutSeconds} s" : ex.Message;
            await store.MarkAttemptFailedAsync(studyUid, error, clock.GetUtcNow() + delay, giveUp, stoppingToken).ConfigureAwait(false);
            LogAttemptFailed(studyUid, attempts + 1, giveUp, error);
        }
    }

    [LoggerMessage(EventId = 5300, Level = LogLevel.Information, Message = "Prior comparison is off (MedVision:Priors:Enabled=false)")]
    private partial void LogDisabled();

    [LoggerMessage(EventId = 5301, Level = LogLevel.Information, Message = "Prior comparison queries {CalledAe} at {Host}:{Port}")]
    private partial void LogEnabled(string calledAe, string host, int port);

    [LoggerMessage(EventId = 5302, Level = LogLevel.Information, Message = "Study {StudyUid} compared with prior {PriorUid} of {PriorDate} ({Instances} image(s)): {Changes}")]
    private partial void LogCompared(string studyUid, string priorUid, string? priorDate, int instances, string changes);

    [LoggerMessage(EventId = 5303, Level = LogLevel.Information, Message = "Study {StudyUid}: no prior comparison, {Reason}")]
    private partial void LogNoPrior(string studyUid, string reason);

    [LoggerMessage(EventId = 5304, Level = LogLevel.Warning, Message = "Prior comparison for {StudyUid} failed (attempt {Attempt}, given up: {GaveUp}): {Error}")]
    private partial void LogAttemptFailed(string studyUid, int attempt, bool gaveUp, string error);

    [LoggerMessage(EventId = 5305, Level = LogLevel.Error, Message = "The prior comparison loop failed; retrying")]
    private partial void LogLoopFailed(Exception exception);
}
