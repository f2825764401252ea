using System.Net.Http.Json;
using MedVision.Contracts;
using MedVision.Edge.Api;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;
using Polly;
using Polly.Retry;

namespace MedVision.Edge.Sync;

/// <summary>
/// Sends the outbox to the hub: enrols once (token → credentials), keeps an MQTT 5 persistent session (client id =
/// device id, clean start off), publishes QoS 1 with up to MaxInFlight messages awaiting PUBACK, and deletes a row
/// only after its PUBACK says success. Connection and enrolment failures are retried with Polly's exponential
/// backoff and jitter, for as long as it takes; the outbox keeps everything meanwhile.
/// </summary>
public sealed class CloudSyncAgent : BackgroundService, IHealthContributor
{
    public const string HttpClientName = "medvision-cloud";

    private static readonly TimeSpan MaxCatchUpDelay = TimeSpan.FromSeconds(5);

    private readonly CloudOutbox _outbox;
    private readonly ModelOfferInbox _offers;
    private readonly RemoteSettings _settings;
    private readonly SitePseudonyms _pseudonyms;
    private readonly CloudSignal _signal;
    private readonly DeviceCredentialStore _credentials;
    private readonly IHttpClientFactory _http;
    private readonly CloudOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<CloudSyncAgent> _logger;
    private readonly ResiliencePipeline _retry;

    private volatile string? _deviceId;
    private volatile bool _connected;
    private volatile string? _lastError;
    private long _sent;
    private long _rejected;

    public CloudSyncAgent(
        CloudOutbox outbox,
        ModelOfferInbox offers,
        RemoteSettings settings,
        SitePseudonyms pseudonyms,
        CloudSignal signal,
        DeviceCredentialStore credentials,
        IHttpClientFactory http,
        IOptions<CloudOptions> options,
        TimeProvider time,
        ILogger<CloudSyncAgent> logger)
    {
        _outbox = outbox;
        _offers = offers;
        _settings = settings;
        _pseudonyms = pseudonyms;
        _signal = signal;
        _credentials = credentials;
        _http = http;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _retry = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                // HttpClient reports its own timeout as a TaskCanceledException: only a cancellation by the stop ends the retries.
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } ex
                    && (ex is not OperationCanceledException || !args.Context.CancellationToken.IsCancellationRequested)),
                MaxRetryAttempts = int.MaxValue,
                Delay = TimeSpan.FromSeconds(_options.ReconnectMinSeconds),
                MaxDelay = TimeSpan.FromSeconds(_options.ReconnectMaxSeconds),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                OnRetry = args =>
                {
                    _lastError = args.Outcome.Exception?.Message;
                    // An unreachable hub is expected (offline for days); the message is enough, no stack trace per attempt.
                    SyncLog.Retrying(_logger, args.AttemptNumber + 1, args.Outcome.Exception?.Message, args.RetryDelay.TotalMilliseconds);
                    return default;
                },
            })
            .Build();
    }

    public string Name => "cloud";

    public bool Healthy => Interlocked.Read(ref _rejected) == 0;

    public object Describe() => new
    {
        deviceId = _deviceId,
        connected = _connected,
        sent = Interlocked.Read(ref _sent),
        rejected = Interlocked.Read(ref _rejected),
        lastError = _lastError,
    };

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await CatchUpAsync(stoppingToken).ConfigureAwait(false);
        var credentials = await _retry.ExecuteAsync(EnsureEnrolledAsync, stoppingToken).ConfigureAwait(false);
        _deviceId = credentials.DeviceId;
        var host = string.IsNullOrEmpty(_options.Host) ? new Uri(_options.HubUrl!).Host : _options.Host;
        var factory = new MqttClientFactory(new MedVision.Contracts.Mqtt.MqttLogBridge(_logger));
        var connections = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            if (connections++ > 0)
            {
                // A finding whose queuing failed holds the mark back (see CloudOutbox.EnqueueAsync); each reconnection
                // queues what lies behind it, as the start did.
                await CatchUpAsync(stoppingToken).ConfigureAwait(false);
            }
            using var client = factory.CreateMqttClient();
            var offerTopic = Topics.ModelOffer(credentials.DeviceId);
            var desiredTopic = Topics.Desired(credentials.DeviceId);
            client.ApplicationMessageReceivedAsync += async e =>
            {
                if (e.ApplicationMessage.Topic == desiredTopic)
                {
                    var report = await _settings.ApplyAsync(System.Buffers.BuffersExtensions.ToArray(e.ApplicationMessage.Payload), stoppingToken).ConfigureAwait(false);
                    if (report is not null)
                    {
                        await _outbox.EnqueueAsync(
                            [($"r-{report.Version}", OutboxPriority.Finding, MessageTypes.Reported, System.Text.Json.JsonSerializer.Serialize(report, ContractJson.Options), _time.GetUtcNow())],
                            stoppingToken).ConfigureAwait(false);
                    }
                    return;
                }
                if (e.ApplicationMessage.Topic != offerTopic)
                {
                    return;
                }
                // Stored before the handler returns, i.e. before the PUBACK: an acknowledged offer is never lost.
                if (await _offers.AcceptAsync(System.Buffers.BuffersExtensions.ToArray(e.ApplicationMessage.Payload), stoppingToken).ConfigureAwait(false))
                {
                    SyncLog.ModelOffered(_logger, e.ApplicationMessage.Topic);
                }
                else
                {
                    SyncLog.BadOffer(_logger, e.ApplicationMessage.Topic);
                }
            };
            client.DisconnectedAsync += e =>
            {
                if (_connected)
                {
                    SyncLog.Disconnected(_logger, e.Reason.ToString());
                }
                _connected = false;
                return Task.CompletedTask;
            };
            await _retry.ExecuteAsync(async ct =>
            {
                var options = new MqttClientOptionsBuilder()
                    .WithTcpServer(host, _options.Port)
                    .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
                    .WithClientId(credentials.DeviceId)
                    .WithCredentials(credentials.DeviceId, credentials.Password)
                    .WithCleanStart(false)
                    .WithSessionExpiryInterval((uint)_options.SessionExpirySeconds)
                    .WithKeepAlivePeriod(TimeSpan.FromSeconds(15))
                    .WithTimeout(TimeSpan.FromSeconds(10))
                    .Build();
                var result = await client.ConnectAsync(options, ct).ConfigureAwait(false);
                if (result.ResultCode != MqttClientConnectResultCode.Success)
                {
                    throw new InvalidOperationException($"broker refused the connection: {result.ResultCode}");
                }
                var subscribed = await client.SubscribeAsync(
                    new MqttClientSubscribeOptionsBuilder()
                        .WithTopicFilter(offerTopic, MqttQualityOfServiceLevel.AtLeastOnce)
                        .WithTopicFilter(desiredTopic, MqttQualityOfServiceLevel.AtLeastOnce)
                        .Build(), ct).ConfigureAwait(false);
                if (subscribed.Items.FirstOrDefault(i => i.ResultCode > MqttClientSubscribeResultCode.GrantedQoS2) is { } refused)
                {
                    throw new InvalidOperationException($"subscription to {refused.TopicFilter.Topic} refused: {refused.ResultCode}");
                }
                _connected = true;
                _lastError = null;
                SyncLog.Connected(_logger, host, _options.Port, credentials.DeviceId, result.IsSessionPresent);
            }, stoppingToken).ConfigureAwait(false);

            try
            {
                await DrainAsync(client, credentials.DeviceId, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                _lastError = ex.Message;
                SyncLog.Disconnected(_logger, ex.Message);
            }
            _connected = false;
            if (client.IsConnected && stoppingToken.IsCancellationRequested)
            {
                await client.DisconnectAsync(new MqttClientDisconnectOptions(), CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Queues the findings behind the mark. A database error (busy, disk) is retried here, the pause growing to
    /// <see cref="MaxCatchUpDelay"/>, rather than ending the host; nothing could be sent meanwhile anyway (same database).
    /// </summary>
    private async Task CatchUpAsync(CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromMilliseconds(500);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var caughtUp = await CloudFindingsListener.CatchUpAsync(_outbox, _pseudonyms, stoppingToken).ConfigureAwait(false);
                if (caughtUp > 0)
                {
                    SyncLog.CaughtUp(_logger, caughtUp);
                }
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                _lastError = ex.Message;
                SyncLog.CatchUpFailed(_logger, attempt, delay.TotalMilliseconds, ex);
            }
            await Task.Delay(delay, _time, stoppingToken).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxCatchUpDelay.Ticks));
        }
    }

    private async Task DrainAsync(IMqttClient client, string deviceId, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested && client.IsConnected)
        {
            var batch = await _outbox.PeekAsync(_options.MaxInFlight, stoppingToken).ConfigureAwait(false);
            if (batch.Count == 0)
            {
                await _signal.WaitAsync(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
                continue;
            }
            var results = await Task.WhenAll(batch.Select(m => PublishAsync(client, deviceId, m, stoppingToken))).ConfigureAwait(false);
            var acked = new List<long>();
            var retryLater = false;
            Exception? connectionError = null;
            for (var i = 0; i < batch.Count; i++)
            {
                var (code, error) = results[i];
                if (error is not null)
                {
                    connectionError ??= error;
                }
                else if (code == MqttClientPublishReasonCode.Success)
                {
                    acked.Add(batch[i].Seq);
                }
                else if (IsPermanent(code!.Value))
                {
                    Interlocked.Increment(ref _rejected);
                    SyncLog.Refused(_logger, batch[i].MessageId, batch[i].Type, code.Value.ToString());
                    await _outbox.MarkFailedAsync(batch[i].Seq, code.Value.ToString(), permanent: true, stoppingToken).ConfigureAwait(false);
                }
                else
                {
                    // E.g. no matching subscribers: the hub is not there to take it yet.
                    retryLater = true;
                    SyncLog.NotTaken(_logger, batch[i].MessageId, code.Value.ToString());
                    await _outbox.MarkFailedAsync(batch[i].Seq, code.Value.ToString(), permanent: false, stoppingToken).ConfigureAwait(false);
                }
            }
            await _outbox.DeleteAsync(acked, stoppingToken).ConfigureAwait(false);
            Interlocked.Add(ref _sent, acked.Count);
            if (connectionError is not null)
            {
                throw new IOException("publishing failed: " + connectionError.Message, connectionError);
            }
            if (retryLater)
            {
                await Task.Delay(TimeSpan.FromSeconds(_options.ReconnectMinSeconds), _time, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private static async Task<(MqttClientPublishReasonCode? Code, Exception? Error)> PublishAsync(IMqttClient client, string deviceId, OutboxMessage message, CancellationToken cancellationToken)
    {
        try
        {
            using var body = System.Text.Json.JsonDocument.Parse(message.BodyJson);
            var envelope = new MessageEnvelope(MessageEnvelope.CurrentSchemaVersion, message.MessageId, deviceId, message.Type, message.CreatedUtc, body.RootElement);
            var mqttMessage = new MqttApplicationMessageBuilder()
                .WithTopic(Topics.Events(deviceId, message.Type))
                .WithPayload(ContractJson.Serialize(envelope))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .WithContentType("application/json")
                .Build();
            var result = await client.PublishAsync(mqttMessage, cancellationToken).ConfigureAwait(false);
            return (result.ReasonCode, null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return (null, ex);
        }
    }

    private static bool IsPermanent(MqttClientPublishReasonCode code) => code is
        MqttClientPublishReasonCode.NotAuthorized or
        MqttClientPublishReasonCode.TopicNameInvalid or
        MqttClientPublishReasonCode.PayloadFormatInvalid;

    private async ValueTask<DeviceCredentials> EnsureEnrolledAsync(CancellationToken cancellationToken)
    {
        var existing = await _credentials.LoadAsync(cancellationToken).ConfigureAwait(false);
        if (existing is not null)
        {
            return existing;
        }
        if (string.IsNullOrEmpty(_options.EnrolmentToken))
        {
            SyncLog.NoEnrolmentToken(_logger);
            throw new InvalidOperationException("not enrolled and no enrolment token configured");
        }
        using var http = _http.CreateClient(HttpClientName);
        http.Timeout = TimeSpan.FromSeconds(30);
        using var response = await http.PostAsJsonAsync(
            new Uri(new Uri(_options.HubUrl!), "/api/enrol"),
            new EnrolmentRequest(_options.EnrolmentToken, Environment.MachineName),
            ContractJson.Options,
            cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"enrolment refused by the hub: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false)}");
        }
        var enrolled = await response.Content.ReadFromJsonAsync<EnrolmentResponse>(ContractJson.Options, cancellationToken).ConfigureAwait(false)
            ?? throw new HttpRequestException("empty enrolment answer");
        var credentials = new DeviceCredentials(enrolled.DeviceId, enrolled.SiteId, enrolled.Password);
        await _credentials.SaveAsync(credentials, cancellationToken).ConfigureAwait(false);
        SyncLog.Enrolled(_logger, credentials.DeviceId, credentials.SiteId);
        return credentials;
    }
}
