using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace MedVision.Edge.Export;

/// <summary>What the delivery loop last counted in the outbox, for /healthz and the depth gauge.</summary>
public sealed class ExportStatus
{
    private volatile Snapshot _current = new(OutboxCounts.Empty, null);

    public Snapshot Current => _current;

    public void Update(OutboxCounts counts, DateTimeOffset at) => _current = new Snapshot(counts, at);

    public sealed record Snapshot(OutboxCounts Counts, DateTimeOffset? CountedUtc);
}

/// <summary>
/// Export counters on the <c>MedVision.Edge.Export</c> meter: outputs stored, deliveries, failed attempts, dead letters,
/// delivery time, and the outbox depth (pending + delivering) and dead count per destination as gauges.
/// </summary>
public sealed class ExportMetrics
{
    public const string MeterName = "MedVision.Edge.Export";

    private readonly Counter<long> _outputs;
    private readonly Counter<long> _outputBytes;
    private readonly Counter<long> _delivered;
    private readonly Counter<long> _attemptsFailed;
    private readonly Counter<long> _dead;
    private readonly Histogram<double> _deliveryTime;
    private readonly ConcurrentDictionary<string, DestinationState> _destinations = new(StringComparer.Ordinal);

    public ExportMetrics(IMeterFactory meters, ExportStatus status)
    {
        ArgumentNullException.ThrowIfNull(meters);
        ArgumentNullException.ThrowIfNull(status);
        var meter = meters.Create(MeterName);
        _outputs = meter.CreateCounter<long>("medvision.export.outputs", description: "Outputs made and stored in the outbox");
        _outputBytes = meter.CreateCounter<long>("medvision.export.output_bytes", "By", "Bytes of outputs stored");
        _delivered = meter.CreateCounter<long>("medvision.export.delivered", description: "Deliveries completed");
        _attemptsFailed = meter.CreateCounter<long>("medvision.export.attempts_failed", description: "Failed delivery attempts");
        _dead = meter.CreateCounter<long>("medvision.export.dead", description: "Deliveries given up (dead letters)");
        _deliveryTime = meter.CreateHistogram<double>("medvision.export.delivery_time", "ms", "Duration of a successful delivery attempt");
        meter.CreateObservableGauge("medvision.export.outbox_depth", () => Gauge(status, DeliveryStates.Pending, DeliveryStates.Delivering),
            description: "Deliveries pending or in flight");
        meter.CreateObservableGauge("medvision.export.dead_letters", () => Gauge(status, DeliveryStates.Dead), description: "Dead deliveries");
    }

    public IReadOnlyDictionary<string, DestinationState> Destinations => _destinations;

    public void OutputStored(string kind, long bytes)
    {
        _outputs.Add(1, new KeyValuePair<string, object?>("kind", kind));
        _outputBytes.Add(bytes, new KeyValuePair<string, object?>("kind", kind));
    }

    public void Delivered(string destination, TimeSpan elapsed)
    {
        _delivered.Add(1, new KeyValuePair<string, object?>("destination", destination));
        _deliveryTime.Record(elapsed.TotalMilliseconds, new KeyValuePair<string, object?>("destination", destination));
        _destinations.AddOrUpdate(destination, _ => new DestinationState(DateTimeOffset.UtcNow, null, null),
            (_, s) => s with { LastSuccessUtc = DateTimeOffset.UtcNow });
    }

    public void AttemptFailed(string destination, DateTimeOffset at, string error)
    {
        _attemptsFailed.Add(1, new KeyValuePair<string, object?>("destination", destination));
        _destinations.AddOrUpdate(destination, _ => new DestinationState(null, at, error), (_, s) => s with { LastFailureUtc = at, LastError = error });
    }

    public void Dead(string destination) => _dead.Add(1, new KeyValuePair<string, object?>("destination", destination));

    private static IEnumerable<Measurement<long>> Gauge(ExportStatus status, params string[] states)
    {
        var counts = status.Current.Counts;
        return counts.ByDestination.Keys.Select(d => new Measurement<long>(
            states.Sum(s => counts.Count(d, s)), new KeyValuePair<string, object?>("destination", d))).ToList();
    }
}

public sealed record DestinationState(DateTimeOffset? LastSuccessUtc, DateTimeOffset? LastFailureUtc, string? LastError);
