using System.Net;
using MedVision.Cloud.Fleet;
using MedVision.Contracts;
using Microsoft.Extensions.Options;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace MedVision.Cloud.Broker;

/// <summary>
/// The in-process MQTTnet broker of the default single-hub set-up. It authenticates each connection against the
/// fleet database (client id = user name = device id), confines every device to <c>devices/{its id}/…</c> and
/// hands device events to the <see cref="MessageIngestor"/>; the PUBACK is sent only after the message is stored.
/// </summary>
public sealed class EmbeddedBroker : IHostedService, IAsyncDisposable, IDeviceChannel
{
    private readonly HubOptions _options;
    private readonly EnrolmentService _enrolment;
    private readonly MessageIngestor _ingestor;
    private readonly ILogger<EmbeddedBroker> _logger;
    private readonly MqttServer _server;

    public EmbeddedBroker(IOptions<HubOptions> options, EnrolmentService enrolment, MessageIngestor ingestor, ILogger<EmbeddedBroker> logger)
    {
        _options = options.Value;
        _enrolment = enrolment;
        _ingestor = ingestor;
        _logger = logger;
        var port = _options.MqttPort == 0 ? FreePort() : _options.MqttPort;
        var serverOptions = new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(IPAddress.Parse(_options.MqttBindAddress))
            .WithDefaultEndpointPort(port)
            .WithPersistentSessions()
            .Build();
        Port = port;
        _server = new MqttServerFactory(new MedVision.Contracts.Mqtt.MqttLogBridge(logger)).CreateMqttServer(serverOptions);
        _server.ValidatingConnectionAsync += ValidateConnectionAsync;
        _server.InterceptingPublishAsync += InterceptPublishAsync;
        _server.InterceptingSubscriptionAsync += InterceptSubscriptionAsync;
    }

    public int Port { get; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _server.StartAsync().ConfigureAwait(false);
        HubLog.BrokerStarted(_logger, Port);
    }

    public Task StopAsync(CancellationToken cancellationToken) => _server.StopAsync();

    public Task PublishAsync(string topic, byte[] payload, CancellationToken cancellationToken, bool retain = false) =>
        _server.InjectApplicationMessage(
            new InjectedMqttApplicationMessage(new MQTTnet.MqttApplicationMessageBuilder()
                .WithTopic(topic)
                .WithPayload(payload)
                .WithRetainFlag(retain)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .Build())
            { SenderClientId = "medvision-hub" },
            cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _server.StopAsync().ConfigureAwait(false);
        _server.Dispose();
    }

    private async Task ValidateConnectionAsync(ValidatingConnectionEventArgs e)
    {
        // The client id must be the user name, so one device can never take over another's persistent session.
        if (e.ClientId != e.UserName)
        {
            e.ReasonCode = MqttConnectReasonCode.ClientIdentifierNotValid;
            HubLog.ConnectionRefused(_logger, e.ClientId, e.UserName, "client id differs from user name");
            return;
        }
        if (!await _enrolment.AuthenticateAsync(e.UserName, e.Password, CancellationToken.None).ConfigureAwait(false))
        {
            e.ReasonCode = MqttConnectReasonCode.BadUserNameOrPassword;
            HubLog.ConnectionRefused(_logger, e.ClientId, e.UserName, "bad user name or password");
        }
    }

    private Task InterceptSubscriptionAsync(InterceptingSubscriptionEventArgs e)
    {
        var filter = e.TopicFilter.Topic;
        if (!Topics.IsDeviceTopic(e.UserName ?? "", filter) || filter.Contains("/messages/events", StringComparison.Ordinal))
        {
            // A device may read only what the hub sends it (its twin and model topics), never any events, its own included.
            e.ProcessSubscription = false;
            e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
            HubLog.AclDenied(_logger, e.UserName ?? e.ClientId, "subscribe", filter);
        }
        return Task.CompletedTask;
    }

    private async Task InterceptPublishAsync(InterceptingPublishEventArgs e)
    {
        var topic = e.ApplicationMessage.Topic;
        if (e.ClientId is null || e.UserName is null)
        {
            // Published by the hub itself (InjectApplicationMessage): always allowed.
            return;
        }
        if (!Topics.IsDeviceTopic(e.UserName, topic))
        {
            e.ProcessPublish = false;
            e.Response.ReasonCode = MqttPubAckReasonCode.NotAuthorized;
            HubLog.AclDenied(_logger, e.UserName, "publish", topic);
            return;
        }
        if (!Topics.TryParseEvent(topic, out _, out _))
        {
            return;
        }
        // Device events are for the hub only: stored here, never routed to other subscribers.
        e.ProcessPublish = false;
        var payload = e.ApplicationMessage.Payload;
        var bytes = payload.IsSingleSegment ? payload.First : System.Buffers.BuffersExtensions.ToArray(payload);
        try
        {
            var result = await _ingestor.IngestAsync(topic, bytes, e.UserName, e.CancellationToken).ConfigureAwait(false);
            if (result.Status == IngestStatus.Rejected)
            {
                e.Response.ReasonCode = MqttPubAckReasonCode.PayloadFormatInvalid;
                e.Response.ReasonString = result.Reason;
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Not stored: tell the device so it keeps the message and sends it again.
            e.Response.ReasonCode = MqttPubAckReasonCode.UnspecifiedError;
            e.Response.ReasonString = "not stored: " + ex.GetType().Name;
        }
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
