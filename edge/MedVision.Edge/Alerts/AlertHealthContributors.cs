using MedVision.Edge.Alerts.Beacon;
using MedVision.Edge.Api;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Alerts;

/// <summary><c>alerts</c> in /healthz: open alerts, paging counters, failing channels and time-to-alert.</summary>
public sealed class AlertsHealthContributor(AlertMetrics metrics, AlertStatus status, IOptions<AlertOptions> options) : IHealthContributor
{
    public string Name => "alerts";

    /// <summary>Unhealthy while a channel's latest attempt failed: pages may not be reaching anyone.</summary>
    public bool Healthy => metrics.FailingChannels.Count == 0;

    public object Describe()
    {
        var counts = status.Current;
        return new
        {
            enabled = options.Value.Enabled,
            rules = options.Value.Rules.Select(r => r.Name).ToList(),
            active = counts.Active,
            deferred = counts.Deferred,
            beacon = counts.Beacon,
            lastPassUtc = counts.LastPassUtc,
            raised = metrics.Raised,
            closed = metrics.Closed,
            pagesSent = metrics.PagesSent,
            pageAttemptsFailed = metrics.AttemptsFailed,
            pagesFailed = metrics.PagesFailed,
            failingChannels = metrics.FailingChannels,
            channels = metrics.Channels,
            timeToAlert = new
            {
                studyToBeacon = metrics.StudyToBeacon.Snapshot(),
                findingToBeacon = metrics.FindingToBeacon.Snapshot(),
                studyToFirstPage = metrics.StudyToFirstPage.Snapshot(),
                findingToFirstPage = metrics.FindingToFirstPage.Snapshot(),
            },
        };
    }
}

/// <summary><c>beacon</c> in /healthz: driver (simulated or libgpiod, and why), pins and state.</summary>
public sealed class BeaconHealthContributor(BeaconController beacon) : IHealthContributor
{
    public string Name => "beacon";

    public bool Healthy => beacon.Healthy;

    public object Describe() => beacon.Snapshot(0) with { Changes = null };
}
