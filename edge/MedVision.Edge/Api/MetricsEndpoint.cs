using System.Diagnostics.Metrics;
using Prometheus;

namespace MedVision.Edge.Api;

/// <summary>
/// GET /metrics in the Prometheus text format, from this host's own registry. prometheus-net's default registry is process-wide, so two
/// hosts in one process (tests, or a future side-by-side upgrade) would report each other's counters; each host therefore exports only
/// the meters its own <see cref="IMeterFactory"/> created, plus the runtime's.
/// </summary>
public static class MetricsEndpoint
{
    public static void MapHostMetrics(this WebApplication app, string pattern = "/metrics")
    {
        var registry = Metrics.NewCustomRegistry();
        var meterFactory = app.Services.GetRequiredService<IMeterFactory>();
        var adapter = MeterAdapter.StartListening(new MeterAdapterOptions
        {
            Registry = registry,
            // The default factory writes to the process-wide registry whatever Registry says.
            MetricFactory = Metrics.WithCustomRegistry(registry),
            InstrumentFilterPredicate = instrument => ReferenceEquals(instrument.Meter.Scope, meterFactory) || instrument.Meter.Name == "System.Runtime",
        });
        app.Lifetime.ApplicationStopped.Register(adapter.Dispose);
        app.MapMetrics(pattern, registry);
    }
}
