using MedVision.Cloud.Fleet;
using MedVision.Contracts;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;

namespace MedVision.Cloud.Broker;

/// <summary>
/// With an external broker the hub is an MQTT 5 client in a shared subscription group: each device message goes to one
/// hub instance. Messages are acknowledged only once stored (manual acknowledgement), so a hub that dies mid-batch
/// leaves them with the broker for another instance; acknowledging asynchronously keeps many in flight.
/// </summary>
public sealed class ExternalBrokerClient : BackgroundService, IDeviceChannel
{
    private readonly ExternalBrokerOptions _options;
    private readonly MessageIngestor _ingestor;
    private readonly IBrokerCredentialSink _credentials;
    private readonly ILogger<ExternalBrokerClient> _logger;

    public ExternalBrokerClient(IOptions<HubOptions> options, MessageIngestor ingestor, IBrokerCredentialSink credentials, ILogger<ExternalBrokerClient> logger)
    {
        _options = options.Value.External;
        _ingestor = ingestor;
        _credentials = credentials;
        _logger = logger;
    }

    private IMqttClient? _client;

    public async Task PublishAsync(string topic, byte[] payload, CancellationToken cancellationToken, bool retain = false)
    {
        var client = _client is { IsConnected: true } c ? c : throw new InvalidOperationException("not connected to the external broker");
        var result = await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithRetainFlag(retain)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(), cancellationToken).ConfigureAwait(false);
        if (!result.IsSuccess && result.ReasonCode != MqttClientPublishReasonCode.NoMatchingSubscribers)
        {
            throw new InvalidOperationException($"broker refused {topic}: {result.ReasonCode}");
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The broker must know every enrolled device even after it was rebuilt.
        await _credentials.CredentialsChangedAsync(stoppingToken).ConfigureAwait(false);
        using var client = new MqttClientFactory(new MedVision.Contracts.Mqtt.MqttLogBridge(_logger)).CreateMqttClient();
        _client = client;
        client.ApplicationMessageReceivedAsync += e => OnMessageAsync(e, stoppingToken);
        var filter = Topics.HubEventsFilter(_options.ShareGroup);
        var delay = TimeSpan.FromMilliseconds(250);
        while (!stoppingToken.IsCancellationRequested)
        {
            if (!_credentials.UpToDate)
            {
                // A failed write (folder not writable yet, database not up yet) is retried here rather than ending the host.
                await _credentials.CredentialsChangedAsync(stoppingToken).ConfigureAwait(false);
            }
            if (!client.IsConnected)
            {
                try
                {
                    var options = new MqttClientOptionsBuilder()
                        .WithTcpServer(_options.Host, _options.Port)
                        .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
                        .WithClientId(_options.ClientId)
                        .WithCredentials(_options.Username, _options.Password)
                        .WithCleanStart(false)
                        .WithSessionExpiryInterval(7 * 24 * 3600)
                        .WithReceiveMaximum(1000)
                        .WithTimeout(TimeSpan.FromSeconds(5))
                        .Build();
                    await client.ConnectAsync(options, stoppingToken).ConfigureAwait(false);
                    var subscribe = new MqttClientSubscribeOptionsBuilder()
                        .WithTopicFilter(f => f.WithTopic(filter).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce))
                        .Build();
                    var result = await client.SubscribeAsync(subscribe, stoppingToken).ConfigureAwait(false);
                    var code = result.Items.First().ResultCode;
                    if (code > MqttClientSubscribeResultCode.GrantedQoS2)
                    {
                        throw new InvalidOperationException($"subscription to {filter} refused: {code}");
                    }
                    HubLog.ExternalConnected(_logger, _options.Host, _options.Port, filter);
                    delay = TimeSpan.FromMilliseconds(250);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    HubLog.ExternalConnectFailed(_logger, _options.Host, _options.Port, ex.Message, delay.TotalMilliseconds);
                    await Task.Delay(delay, stoppingToken).ConfigureAwait(false);
                    delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 10_000));
                    continue;
                }
            }
            await Task.Delay(500, stoppingToken).ConfigureAwait(false);
        }
    }

    private Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e, CancellationToken stoppingToken)
    {
        e.AutoAcknowledge = false;
        var topic = e.ApplicationMessage.Topic;
        var payload = System.Buffers.BuffersExtensions.ToArray(e.ApplicationMessage.Payload);
        _ = StoreThenAcknowledgeAsync(e, topic, payload, stoppingToken);
        return Task.CompletedTask;
    }

    private async Task StoreThenAcknowledgeAsync(MqttApplicationMessageReceivedEventArgs e, string topic, byte[] payload, CancellationToken stoppingToken)
    {
        try
        {
            // A rejected message is logged and acknowledged too: it would only be redelivered and rejected again.
            await _ingestor.IngestAsync(topic, payload, authenticatedDeviceId: null, stoppingToken).ConfigureAwait(false);
            await e.AcknowledgeAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Not acknowledged: the broker redelivers it after the next reconnect.
            HubLog.MessageRejected(_logger, topic, "not stored: " + ex.Message);
        }
    }
}
