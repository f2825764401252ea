namespace MedVision.Edge.Api;

/// <summary>
/// A part of the appliance that reports itself in <c>GET /healthz</c>: <see cref="Describe"/> is serialised under
/// <see cref="Name"/> (e.g. "dicom"), and an unhealthy contributor turns the status to "degraded".
/// Register with <c>services.AddSingleton&lt;IHealthContributor, ...&gt;()</c>.
/// </summary>
public interface IHealthContributor
{
    /// <summary>JSON property name in the health document; camelCase, unique.</summary>
    string Name { get; }

    bool Healthy { get; }

    /// <summary>A small JSON-serialisable snapshot (anonymous object, record or dictionary).</summary>
    object Describe();
}
