using MedVision.Edge.Alerts.Beacon;
using MedVision.Edge.Alerts.Paging;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Alerts;

/// <summary>Wakes the alert engine when an alert is raised or closed; it also wakes for each escalation check.</summary>
public sealed class AlertSignal : WakeSignal;

/// <summary>What the engine saw on its last pass, for <c>/healthz</c>.</summary>
public sealed class AlertStatus
{
    private volatile Counts _counts = new(0, 0, null, null);

    public Counts Current => _counts;

    public void Update(int active, int deferred, AlertSeverity? beacon, DateTimeOffset at) =>
        _counts = new Counts(active, deferred, beacon?.ToWire() ?? "off", at);

    public sealed record Counts(int Active, int Deferred, string? Beacon, DateTimeOffset? LastPassUtc);
}

/// <summary>
/// Drives open alerts from the database: the beacon shows the most severe active alert, each active alert's on-call
/// list is paged step by step until someone acknowledges, and deferred alerts wake when quiet hours end. All state is
/// in SQLite, so after a restart the first pass resumes the beacon, the escalation and unsent pages where they were.
/// </summary>
public sealed class AlertEngine(
    AlertStore store,
    BeaconController beacon,
    PageDispatcher dispatcher,
    FindingsAlertListener listener,
    QuietHoursPolicy quietHours,
    AlertSignal signal,
    AlertMetrics metrics,
    AlertStatus status,
    IOptions<AlertOptions> options,
    TimeProvider clock,
    ILogger<AlertEngine> logger) : BackgroundService
{
    /// <summary>Longest sleep between passes: also the latest a deferred alert wakes after quiet hours end.</summary>
    private static readonly TimeSpan MaxSleep = TimeSpan.FromSeconds(30);

    private readonly AlertOptions _options = options.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Enabled)
        {
            return;
        }
        var resume = true;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                TimeSpan sleep;
                try
                {
                    sleep = await PassAsync(resume, stoppingToken).ConfigureAwait(false);
                    resume = false;
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    AlertLog.EngineFailed(logger, ex);
                    sleep = TimeSpan.FromSeconds(1);
                }
                await signal.WaitAsync(sleep, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: pages in flight stop below and resume after restart.
        }
        try
        {
            await dispatcher.DrainAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A channel ignoring cancellation must not hold up shutdown; its page is still pending in the database.
        }
    }

    /// <summary>One pass over the open alerts; returns how long until the next escalation is due.</summary>
    internal async Task<TimeSpan> PassAsync(bool resume, CancellationToken cancellationToken)
    {
        if (resume && _options.CatchUpHours > 0)
        {
            await CatchUpAsync(cancellationToken).ConfigureAwait(false);
        }
        var now = clock.GetUtcNow();
        var open = (await store.ListOpenAsync(cancellationToken).ConfigureAwait(false)).ToList();

        if (resume)
        {
            var unsent = await store.ListResumableDeliveriesAsync(cancellationToken).ConfigureAwait(false);
            AlertLog.Resuming(logger, open.Count, unsent.Count);
            var byId = open.ToDictionary(a => a.Id);
            foreach (var delivery in unsent)
            {
                if (byId.TryGetValue(delivery.AlertId, out var owner))
                {
                    dispatcher.Dispatch(owner, delivery, cancellationToken);
                }
            }
        }

        for (var i = 0; i < open.Count; i++)
        {
            var alert = open[i];
            if (alert.State == AlertStates.Deferred && !quietHours.Defers(alert.Severity, now)
                && await store.ActivateAsync(alert.Id, now, cancellationToken).ConfigureAwait(false))
            {
                AlertLog.Activated(logger, alert.Id);
                open[i] = alert with { State = AlertStates.Active, NextEscalationUtc = now };
            }
        }

        var active = open.Where(a => a.State == AlertStates.Active).ToList();
        dispatcher.CancelAllExcept(active.Select(a => a.Id).ToHashSet());

        // Beacon first: it must not wait for anything that needs the network.
        AlertSeverity? top = active.Count == 0 ? null : active.Max(a => a.Severity);
        beacon.Show(top);
        var lit = clock.GetUtcNow();
        var stamped = await store.MarkBeaconOnAsync(active.Where(a => a.BeaconOnUtc is null).Select(a => a.Id).ToList(), lit, cancellationToken).ConfigureAwait(false);
        foreach (var alert in stamped)
        {
            metrics.BeaconOn(alert);
        }

        var nextDue = now + MaxSleep;
        foreach (var alert in active)
        {
            var next = alert.NextEscalationUtc;
            if (next is { } due && due <= now)
            {
                next = await EscalateAsync(alert, now, cancellationToken).ConfigureAwait(false);
            }
            if (next is { } later && later < nextDue)
            {
                nextDue = later;
            }
        }

        status.Update(active.Count, open.Count - active.Count, top, now);
        var sleep = nextDue - clock.GetUtcNow();
        return sleep < TimeSpan.Zero ? TimeSpan.Zero : sleep;
    }

    /// <summary>
    /// Findings are committed before listeners hear of them, so a stop in between (or a listener failure) would lose the
    /// alert; at start-up the recent findings of studies without alerts go through the rules again (raising is idempotent).
    /// </summary>
    private async Task CatchUpAsync(CancellationToken cancellationToken)
    {
        const int MaxFindings = 10_000;
        var since = clock.GetUtcNow() - TimeSpan.FromHours(_options.CatchUpHours);
        var rows = await store.ListFindingsWithoutAlertsAsync(since, MaxFindings, cancellationToken).ConfigureAwait(false);
        foreach (var instance in rows.GroupBy(r => r.Instance.SopInstanceUid))
        {
            await listener.OnFindingsAsync(instance.Select(r => r.Finding).ToList(), instance.First().Instance, cancellationToken).ConfigureAwait(false);
        }
        if (rows.Count > 0)
        {
            AlertLog.CaughtUp(logger, rows.Count, instance: rows.Select(r => r.Instance.SopInstanceUid).Distinct().Count());
        }
    }

    private async Task<DateTimeOffset?> EscalateAsync(AlertRecord alert, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var route = _options.Routing.For(alert.Severity);
        var (step, round) = alert.EscalationStep < 0
            ? (0, 0)
            : alert.EscalationStep + 1 >= route.Steps.Count ? (0, alert.EscalationRound + 1) : (alert.EscalationStep + 1, alert.EscalationRound);
        if (route.MaxRounds > 0 && round >= route.MaxRounds)
        {
            await store.AdvanceEscalationAsync(alert.Id, alert.EscalationStep, alert.EscalationRound, null, [], now, cancellationToken).ConfigureAwait(false);
            AlertLog.PagingExhausted(logger, alert.Id, route.MaxRounds);
            return null;
        }
        var recipients = Expand(route.Steps[step]);
        var next = now + TimeSpan.FromSeconds(route.EscalateAfterSeconds);
        var created = await store.AdvanceEscalationAsync(alert.Id, step, round, next, recipients, now, cancellationToken).ConfigureAwait(false);
        if (created is null)
        {
            return null;
        }
        AlertLog.Escalated(logger, alert.Id, step, round, string.Join(", ", recipients.Select(r => r.Recipient)));
        foreach (var delivery in created)
        {
            dispatcher.Dispatch(alert, delivery, cancellationToken);
        }
        return next;
    }

    /// <summary>A step names a recipient or a group; a group pages all its members.</summary>
    private List<NewDelivery> Expand(string step)
    {
        var names = _options.Groups.TryGetValue(step, out var members) ? members : [step];
        var deliveries = new List<NewDelivery>();
        foreach (var name in names.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (_options.Recipients.TryGetValue(name, out var recipient))
            {
                deliveries.Add(new NewDelivery(name, recipient.Channel.ToLowerInvariant(), recipient.Address));
            }
            else
            {
                // Validation allows only recipients, groups and the built-in log recipient here.
                deliveries.Add(new NewDelivery(AlertOptions.LogRecipient, RecipientOptions.Log, AlertOptions.LogRecipient));
            }
        }
        return deliveries;
    }
}
