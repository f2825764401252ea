using MedVision.Contracts.Mqtt;
using Microsoft.Extensions.Logging;
using MQTTnet.Diagnostics.Logger;

namespace MedVision.Cloud.Tests;

/// <summary>MQTTnet's log reaches ILogger with a sensible level, formatted, with its exception; chatter below the category's level is dropped.</summary>
public sealed class MqttLogBridgeTests
{
    [Fact]
    public void Warnings_and_errors_arrive_formatted_and_verbose_chatter_does_not()
    {
        var logger = new CollectingLogger(LogLevel.Information);
        var bridge = new MqttLogBridge(logger);
        var failure = new IOException("connection reset");

        bridge.Publish(MqttNetLogLevel.Verbose, "MqttClient", "Sent {0} bytes", [42], null!);
        bridge.Publish(MqttNetLogLevel.Warning, "MqttClient", "Keep alive of {0} s missed", [15], null!);
        bridge.Publish(MqttNetLogLevel.Error, "MqttServer", "Client {0} dropped", ["dev-7"], failure);

        Assert.True(bridge.IsEnabled);
        Assert.Collection(logger.Entries,
            e => Assert.Equal((LogLevel.Warning, "MQTTnet MqttClient: Keep alive of 15 s missed"), (e.Level, e.Text)),
            e =>
            {
                Assert.Equal((LogLevel.Error, "MQTTnet MqttServer: Client dev-7 dropped"), (e.Level, e.Text));
                Assert.Same(failure, e.Exception);
            });
    }

    private sealed class CollectingLogger(LogLevel minimum) : ILogger
    {
        public List<(LogLevel Level, string Text, Exception? Exception)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Add((logLevel, formatter(state, exception), exception));
    }
}
