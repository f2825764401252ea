using MedVision.Edge.Api;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Ingest;

/// <summary>DICOM listener state and ingest counters for /healthz.</summary>
public sealed class DicomHealthContributor(DicomListenerService listener, IngestStatistics statistics, IOptions<DicomOptions> options) : IHealthContributor
{
    public string Name => "dicom";

    public bool Healthy => listener.BoundPort != 0;

    public object Describe() => new
    {
        aeTitle = options.Value.AeTitle,
        port = listener.BoundPort,
        tlsPort = listener.BoundTlsPort,
        activeAssociations = listener.ActiveAssociations,
        associationsTotal = listener.AssociationsTotal,
        rejectedAssociations = listener.RejectedAssociations,
        instancesStored = statistics.Instances,
        bytesStored = statistics.Bytes,
        duplicates = statistics.Duplicates,
        rejectedInstances = statistics.RejectsByReason,
    };
}
