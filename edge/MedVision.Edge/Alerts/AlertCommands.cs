using MedVision.Edge.Alerts.Paging;

namespace MedVision.Edge.Alerts;

/// <summary>Acknowledge and resolve, as the HTTP API and the one-click link do them.</summary>
public sealed class AlertCommands(
    AlertStore store,
    PageDispatcher dispatcher,
    AlertSignal signal,
    AlertMetrics metrics,
    TimeProvider clock,
    ILogger<AlertCommands> logger)
{
    /// <summary>Longest acknowledger name kept.</summary>
    public const int MaxByLength = 200;

    public async Task<(AckOutcome Outcome, AlertRecord? Alert)> AcknowledgeAsync(long id, string by, string via, CancellationToken cancellationToken)
    {
        var result = await store.AcknowledgeAsync(id, Clean(by), via, clock.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        AfterClose(id, result, AlertStates.Acknowledged, by, via);
        return result;
    }

    public async Task<(AckOutcome Outcome, AlertRecord? Alert)> ResolveAsync(long id, string by, CancellationToken cancellationToken)
    {
        var result = await store.ResolveAsync(id, Clean(by), clock.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        AfterClose(id, result, AlertStates.Resolved, by, "api");
        return result;
    }

    private void AfterClose(long id, (AckOutcome Outcome, AlertRecord? Alert) result, string state, string by, string via)
    {
        if (result.Outcome != AckOutcome.Done)
        {
            return;
        }
        dispatcher.CancelAlert(id);
        metrics.AlertClosed();
        AlertLog.Closed(logger, id, state, by, via);
        // The engine's next pass switches the beacon to the next open alert, or off.
        signal.Notify();
    }

    private static string Clean(string by)
    {
        var trimmed = by.Trim();
        return trimmed.Length > MaxByLength ? trimmed[..MaxByLength] : trimmed;
    }
}
