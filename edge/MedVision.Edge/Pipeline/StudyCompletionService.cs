using MedVision.Edge.Storage;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Pipeline;

/// <summary>Tells listeners that a study has been quiet for the configured time; study-level work hangs off this.</summary>
public interface IStudyCompletedListener
{
    Task OnStudyCompletedAsync(string studyUid, CancellationToken cancellationToken);
}

/// <summary>
/// Study assembly: a study is complete once no instance arrived for <see cref="PipelineOptions.StudyQuietSeconds"/>.
/// The state lives in SQLite (studies.completed_utc), so a restart neither forgets nor repeats a completion.
/// </summary>
public sealed partial class StudyCompletionService(
    IStudyStore store,
    IEnumerable<IStudyCompletedListener> listeners,
    IOptions<PipelineOptions> options,
    TimeProvider clock,
    ILogger<StudyCompletionService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var quiet = TimeSpan.FromSeconds(Math.Max(0.1, options.Value.StudyQuietSeconds));
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Clamp(quiet.TotalSeconds / 5, 0.1, 1)), clock);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            IReadOnlyList<string> completed;
            try
            {
                completed = await store.CompleteQuietStudiesAsync(clock.GetUtcNow() - quiet, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogCompletionFailed(ex);
                continue;
            }
            foreach (var study in completed)
            {
                LogStudyCompleted(study, quiet.TotalSeconds);
                foreach (var listener in listeners)
                {
                    try
                    {
                        await listener.OnStudyCompletedAsync(study, stoppingToken).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        LogListenerFailed(study, listener.GetType().Name, ex);
                    }
                }
            }
        }
    }

    [LoggerMessage(EventId = 1310, Level = LogLevel.Information, Message = "Study {StudyUid} complete: no instance for {QuietSeconds} s")]
    private partial void LogStudyCompleted(string studyUid, double quietSeconds);

    [LoggerMessage(EventId = 1311, Level = LogLevel.Error, Message = "Checking for completed studies failed; retrying")]
    private partial void LogCompletionFailed(Exception exception);

    [LoggerMessage(EventId = 1312, Level = LogLevel.Error, Message = "A study-completed listener ({Listener}) failed for {StudyUid}")]
    private partial void LogListenerFailed(string studyUid, string listener, Exception exception);
}
