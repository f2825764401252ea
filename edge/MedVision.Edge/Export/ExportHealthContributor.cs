using MedVision.Edge.Api;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Export;

/// <summary>
/// <c>export</c> in /healthz: per destination the outbox depth (pending + delivering), dead letters, delivered count and the
/// last error. Dead letters turn the appliance <c>degraded</c>: results are not reaching the PACS or EHR.
/// </summary>
public sealed class ExportHealthContributor(ExportStatus status, ExportMetrics metrics, ExportDestinations destinations, IOptions<ExportOptions> options)
    : IHealthContributor
{
    public string Name => "export";

    public bool Healthy => !status.Current.Counts.ByDestination.Keys.Any(d => status.Current.Counts.Count(d, DeliveryStates.Dead) > 0);

    public object Describe()
    {
        var snapshot = status.Current;
        var counts = snapshot.Counts;
        var names = destinations.All.Select(d => d.Name).Union(counts.ByDestination.Keys, StringComparer.Ordinal);
        return new
        {
            enabled = options.Value.Enabled,
            countedUtc = snapshot.CountedUtc,
            pendingGenerations = counts.PendingGenerations,
            destinations = names.ToDictionary(n => n, n =>
            {
                var configured = destinations.All.FirstOrDefault(d => d.Name == n);
                metrics.Destinations.TryGetValue(n, out var state);
                return new
                {
                    type = configured?.Options.NormalizedType ?? "not configured",
                    depth = counts.Count(n, DeliveryStates.Pending) + counts.Count(n, DeliveryStates.Delivering),
                    pending = counts.Count(n, DeliveryStates.Pending),
                    delivering = counts.Count(n, DeliveryStates.Delivering),
                    delivered = counts.Count(n, DeliveryStates.Delivered),
                    dead = counts.Count(n, DeliveryStates.Dead),
                    lastSuccessUtc = state?.LastSuccessUtc,
                    lastFailureUtc = state?.LastFailureUtc,
                    lastError = state?.LastError,
                };
            }),
        };
    }
}
