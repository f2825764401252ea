using System.Text.Json;
using MedVision.Cloud.Broker;
using MedVision.Contracts;

namespace MedVision.Cloud.Fleet;

/// <summary>
/// At start, publishes every device's stored desired properties again as retained messages. The database is the
/// source of truth; a broker's retained store is not (the embedded one starts empty, a Mosquitto may have lost its
/// persistence file), and a device that was offline when an operator changed its settings must still get them.
/// </summary>
public sealed partial class DesiredStateRepublisher(IHubStore store, IDeviceChannel devices, ILogger<DesiredStateRepublisher> logger) : BackgroundService
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(2);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The external broker client connects in the background: retry until the channel takes the messages.
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var published = await RepublishAsync(stoppingToken).ConfigureAwait(false);
                LogRepublished(published);
                return;
            }
            // MQTTnet turns a socket aborted under a publish into an OperationCanceledException: only the stop ends the retries.
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogRetry(ex.Message);
                await Task.Delay(RetryDelay, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    public async Task<int> RepublishAsync(CancellationToken cancellationToken)
    {
        var published = 0;
        foreach (var device in await store.ListDevicesAsync(cancellationToken).ConfigureAwait(false))
        {
            if (device.DesiredJson is null)
            {
                continue;
            }
            using var json = JsonDocument.Parse(device.DesiredJson);
            var desired = new DesiredPropertiesV1(device.DesiredVersion, json.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone()));
            await devices.PublishAsync(Topics.Desired(device.DeviceId), ContractJson.Serialize(desired), cancellationToken, retain: true).ConfigureAwait(false);
            published++;
        }
        return published;
    }

    [LoggerMessage(EventId = 7032, Level = LogLevel.Information, Message = "Republished the stored desired properties of {Devices} devices as retained messages")]
    private partial void LogRepublished(int devices);

    [LoggerMessage(EventId = 7033, Level = LogLevel.Warning, Message = "Could not republish desired properties yet ({Reason}); retrying")]
    private partial void LogRetry(string reason);
}
