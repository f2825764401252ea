using System.Diagnostics.Metrics;
using MedVision.Edge.Storage;

namespace MedVision.Edge.Ingest;

/// <summary>
/// Ingest as instruments of meter "MedVision.Edge.Ingest" (exported as medvision_edge_ingest_*), read at scrape time from the counters the
/// listener and the spool handler already keep, so the hot path pays nothing extra.
/// </summary>
public sealed class IngestMetrics : IDisposable
{
    public const string MeterName = "MedVision.Edge.Ingest";

    private readonly Meter _meter;

    public IngestMetrics(IMeterFactory meterFactory, DicomListenerService listener, IngestStatistics statistics, IStudyStore store)
    {
        _meter = meterFactory.Create(MeterName);
        _meter.CreateObservableCounter("dicom_associations", () => listener.AssociationsTotal, description: "DICOM connections accepted for negotiation");
        _meter.CreateObservableCounter("dicom_associations_rejected", () => listener.RejectedAssociations, description: "Associations rejected or aborted before acceptance");
        _meter.CreateObservableGauge("dicom_associations_active", () => listener.ActiveAssociations, description: "Established associations");
        _meter.CreateObservableCounter("dicom_instances_stored", () => statistics.Instances, description: "Instances made durable and acknowledged");
        _meter.CreateObservableCounter("dicom_bytes_stored", () => statistics.Bytes, unit: "By", description: "Data set bytes received in acknowledged instances");
        _meter.CreateObservableCounter("dicom_instances_duplicate", () => statistics.Duplicates, description: "Re-sent SOP instances that replaced an earlier copy");
        _meter.CreateObservableCounter("dicom_instances_rejected",
            () => statistics.RejectsByReason.Select(r => new Measurement<long>(r.Value, new KeyValuePair<string, object?>("reason", r.Key))),
            description: "Instances refused, by reason");
        // Scrapes are rare (seconds apart) and the count is indexed; blocking the scrape thread briefly is acceptable.
        _meter.CreateObservableGauge("spool_depth",
            () => store.GetStatisticsAsync(CancellationToken.None).GetAwaiter().GetResult().InstancesByState.GetValueOrDefault(InstanceStates.Received),
            description: "Instances received and not yet processed");
    }

    public void Dispose() => _meter.Dispose();
}
