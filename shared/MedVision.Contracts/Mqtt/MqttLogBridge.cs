using Microsoft.Extensions.Logging;
using MQTTnet.Diagnostics.Logger;

namespace MedVision.Contracts.Mqtt;

/// <summary>
/// MQTTnet's own logger, forwarded once into <see cref="ILogger"/> (category of the owning component) so broker and client
/// trouble (refused connections, dropped packets, keep-alive timeouts) shows in the appliance's and the hub's logs.
/// MQTTnet's verbose level maps to Trace; its chatter stays off unless that category is turned up.
/// </summary>
public sealed class MqttLogBridge(ILogger logger) : IMqttNetLogger
{
    public bool IsEnabled => logger.IsEnabled(LogLevel.Warning) || logger.IsEnabled(LogLevel.Trace);

    public void Publish(MqttNetLogLevel logLevel, string source, string message, object[] parameters, Exception exception)
    {
        var level = logLevel switch
        {
            MqttNetLogLevel.Verbose => LogLevel.Trace,
            MqttNetLogLevel.Info => LogLevel.Debug,
            MqttNetLogLevel.Warning => LogLevel.Warning,
            _ => LogLevel.Error,
        };
        if (!logger.IsEnabled(level))
        {
            return;
        }
        var text = parameters is { Length: > 0 } ? string.Format(System.Globalization.CultureInfo.InvariantCulture, message, parameters) : message;
#pragma warning disable CA1848, CA2254 // MQTTnet hands over finished text; there is no template to cache.
        logger.Log(level, exception, "MQTTnet {Source}: {Message}", source, text);
#pragma warning restore CA1848, CA2254
    }
}
