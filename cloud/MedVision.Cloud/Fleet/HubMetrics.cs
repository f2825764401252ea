using System.Diagnostics.Metrics;

namespace MedVision.Cloud.Fleet;

/// <summary>The hub's instruments on the <c>MedVision.Cloud</c> meter (exported at /metrics).</summary>
public sealed class HubMetrics
{
    public const string MeterName = "MedVision.Cloud";

    private readonly Counter<long> _stored;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _rejected;
    private readonly Histogram<double> _latency;

    public HubMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _stored = meter.CreateCounter<long>("hub_messages_stored", description: "Device messages stored (first delivery)");
        _duplicates = meter.CreateCounter<long>("hub_messages_duplicate", description: "Redelivered messages recognised by idempotency key");
        _rejected = meter.CreateCounter<long>("hub_messages_rejected", description: "Messages refused (bad JSON, unknown schema, wrong device)");
        _latency = meter.CreateHistogram<double>("hub_message_latency", unit: "s", description: "Device creation time to stored at the hub");
    }

    public void Stored(string type, double latencySeconds)
    {
        _stored.Add(1, new KeyValuePair<string, object?>("type", type));
        _latency.Record(Math.Max(0, latencySeconds));
    }

    public void Duplicate() => _duplicates.Add(1);

    public void Rejected() => _rejected.Add(1);
}
