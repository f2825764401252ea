using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace MedVision.Edge.Alerts;

/// <summary>
/// Alerting counters and time-to-alert distributions: published on the <c>MedVision.Edge.Alerts</c> meter (for any
/// metrics exporter) and summarised in <c>/healthz</c> (since start).
/// </summary>
public sealed class AlertMetrics
{
    public const string MeterName = "MedVision.Edge.Alerts";

    private readonly Counter<long> _raised;
    private readonly Counter<long> _pagesSent;
    private readonly Counter<long> _attemptsFailed;
    private readonly Counter<long> _pagesFailed;
    private readonly Histogram<double> _studyToBeacon;
    private readonly Histogram<double> _studyToFirstPage;
    private readonly ConcurrentDictionary<string, ChannelState> _channels = new(StringComparer.Ordinal);
    private long _raisedTotal;
    private long _closedTotal;
    private long _pagesSentTotal;
    private long _attemptsFailedTotal;
    private long _pagesFailedTotal;

    public AlertMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(MeterName);
        _raised = meter.CreateCounter<long>("medvision.alerts.raised", description: "Alerts raised");
        _pagesSent = meter.CreateCounter<long>("medvision.alerts.pages_sent", description: "Pages delivered");
        _attemptsFailed = meter.CreateCounter<long>("medvision.alerts.page_attempts_failed", description: "Failed page attempts");
        _pagesFailed = meter.CreateCounter<long>("medvision.alerts.pages_failed", description: "Pages given up after every retry");
        _studyToBeacon = meter.CreateHistogram<double>("medvision.alerts.study_to_beacon", "ms", "Study's last instance received to beacon on");
        _studyToFirstPage = meter.CreateHistogram<double>("medvision.alerts.study_to_first_page", "ms", "Study's last instance received to first page sent");
    }

    public LatencySummary StudyToBeacon { get; } = new();

    public LatencySummary FindingToBeacon { get; } = new();

    public LatencySummary StudyToFirstPage { get; } = new();

    public LatencySummary FindingToFirstPage { get; } = new();

    public long Raised => Interlocked.Read(ref _raisedTotal);

    public long Closed => Interlocked.Read(ref _closedTotal);

    public long PagesSent => Interlocked.Read(ref _pagesSentTotal);

    public long AttemptsFailed => Interlocked.Read(ref _attemptsFailedTotal);

    public long PagesFailed => Interlocked.Read(ref _pagesFailedTotal);

    /// <summary>Channels whose most recent attempt failed.</summary>
    public IReadOnlyList<string> FailingChannels => _channels.Where(c => c.Value.Failing).Select(c => c.Key).Order(StringComparer.Ordinal).ToList();

    public IReadOnlyDictionary<string, ChannelState> Channels => _channels;

    public void AlertRaised(AlertSeverity severity)
    {
        Interlocked.Increment(ref _raisedTotal);
        _raised.Add(1, new KeyValuePair<string, object?>("severity", severity.ToWire()));
    }

    public void AlertClosed() => Interlocked.Increment(ref _closedTotal);

    public void BeaconOn(AlertRecord alert)
    {
        var time = alert.TimeToAlert;
        if (time.StudyToBeaconMs is { } study)
        {
            StudyToBeacon.Add(study);
            _studyToBeacon.Record(study, new KeyValuePair<string, object?>("severity", alert.Severity.ToWire()));
        }
        if (time.FindingToBeaconMs is { } finding)
        {
            FindingToBeacon.Add(finding);
        }
    }

    public void FirstPage(AlertRecord alert)
    {
        var time = alert.TimeToAlert;
        if (time.StudyToFirstPageMs is { } study)
        {
            StudyToFirstPage.Add(study);
            _studyToFirstPage.Record(study, new KeyValuePair<string, object?>("severity", alert.Severity.ToWire()));
        }
        if (time.FindingToFirstPageMs is { } finding)
        {
            FindingToFirstPage.Add(finding);
        }
    }

    public void PageSent(string channel, DateTimeOffset at)
    {
        Interlocked.Increment(ref _pagesSentTotal);
        _pagesSent.Add(1, new KeyValuePair<string, object?>("channel", channel));
        _channels.AddOrUpdate(channel, _ => new ChannelState(at, null, null, false), (_, s) => s with { LastSuccessUtc = at, Failing = false });
    }

    public void AttemptFailed(string channel, DateTimeOffset at, string error)
    {
        Interlocked.Increment(ref _attemptsFailedTotal);
        _attemptsFailed.Add(1, new KeyValuePair<string, object?>("channel", channel));
        _channels.AddOrUpdate(channel, _ => new ChannelState(null, at, error, true), (_, s) => s with { LastFailureUtc = at, LastError = error, Failing = true });
    }

    public void PageFailed(string channel)
    {
        Interlocked.Increment(ref _pagesFailedTotal);
        _pagesFailed.Add(1, new KeyValuePair<string, object?>("channel", channel));
    }
}

public sealed record ChannelState(DateTimeOffset? LastSuccessUtc, DateTimeOffset? LastFailureUtc, string? LastError, bool Failing);

/// <summary>Count, cumulative buckets and percentiles of the most recent samples (milliseconds).</summary>
public sealed class LatencySummary
{
    public static readonly double[] BucketBounds = [100, 250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000];

    private const int Window = 1024;

    private readonly Lock _gate = new();
    private readonly long[] _buckets = new long[BucketBounds.Length + 1];
    private readonly double[] _recent = new double[Window];
    private long _count;
    private double _sum;

    public void Add(double milliseconds)
    {
        lock (_gate)
        {
            _recent[_count % Window] = milliseconds;
            _count++;
            _sum += milliseconds;
            var bucket = Array.FindIndex(BucketBounds, b => milliseconds <= b);
            _buckets[bucket < 0 ? BucketBounds.Length : bucket]++;
        }
    }

    public LatencySnapshot Snapshot()
    {
        lock (_gate)
        {
            var n = (int)Math.Min(_count, Window);
            var sorted = _recent.AsSpan(0, n).ToArray();
            Array.Sort(sorted);
            var buckets = new Dictionary<string, long>(StringComparer.Ordinal);
            long cumulative = 0;
            for (var i = 0; i < _buckets.Length; i++)
            {
                cumulative += _buckets[i];
                buckets[i < BucketBounds.Length ? "le" + BucketBounds[i].ToString(System.Globalization.CultureInfo.InvariantCulture) : "leInf"] = cumulative;
            }
            return new LatencySnapshot(
                _count,
                _count == 0 ? null : Math.Round(_sum / _count, 1),
                Percentile(sorted, 0.50),
                Percentile(sorted, 0.99),
                n == 0 ? null : sorted[^1],
                buckets);
        }
    }

    /// <summary>Nearest-rank percentile.</summary>
    public static double? Percentile(IReadOnlyList<double> sorted, double fraction)
    {
        if (sorted.Count == 0)
        {
            return null;
        }
        var rank = (int)Math.Ceiling(fraction * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }
}

/// <summary><see cref="LatencySummary"/> as shown in <c>/healthz</c>; percentiles over the last 1024 alerts.</summary>
public sealed record LatencySnapshot(long Count, double? MeanMs, double? P50Ms, double? P99Ms, double? MaxMs, IReadOnlyDictionary<string, long> Buckets);
