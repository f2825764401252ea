namespace MedVision.Cloud.Broker;

/// <summary>Hub → device messages (QoS 1; a device with a persistent session gets them when it is back).</summary>
public interface IDeviceChannel
{
    /// <param name="retain">Kept by the broker for the next subscriber (desired properties).</param>
    Task PublishAsync(string topic, byte[] payload, CancellationToken cancellationToken, bool retain = false);
}
