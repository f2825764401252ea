namespace MedVision.Cloud.Broker;

/// <summary>Hub → device messages (QoS 1; a device with a persistent session gets them when it is back).</summary>
public interface IDeviceChannel
{
    Task PublishAsync(string topic, byte[] payload, CancellationToken cancellationToken);
}
