using System.Text.Json;
using System.Threading.Channels;
using MedVision.Contracts;
using Microsoft.Extensions.Options;

namespace MedVision.Cloud.Fleet;

public enum IngestStatus
{
    Stored,
    Duplicate,
    Rejected,
}

public sealed record IngestResult(IngestStatus Status, string? Reason = null)
{
    public static IngestResult Stored { get; } = new(IngestStatus.Stored);

    public static IngestResult Duplicate { get; } = new(IngestStatus.Duplicate);
}

/// <summary>
/// Turns a device publish into a stored message. Callers await the result and acknowledge the publish only after it,
/// so a message the broker acknowledged is always on disk. Concurrent messages are written in one transaction per
/// batch, which is what lets one hub store thousands per second with synchronous=FULL.
/// </summary>
public sealed class MessageIngestor : BackgroundService
{
    private const int MaxBatch = 512;

    private readonly Channel<Pending> _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(20_000)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });

    private readonly IHubStore _store;
    private readonly HubMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly HubOptions _options;
    private readonly ILogger<MessageIngestor> _logger;

    public MessageIngestor(IHubStore store, HubMetrics metrics, TimeProvider time, IOptions<HubOptions> options, ILogger<MessageIngestor> logger)
    {
        _store = store;
        _metrics = metrics;
        _time = time;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>
    /// Validates and stores one publish. <paramref name="authenticatedDeviceId"/> is the broker's user name for the
    /// publisher (null on an external broker, whose ACLs already tie topics to users).
    /// </summary>
    public async Task<IngestResult> IngestAsync(string topic, ReadOnlyMemory<byte> payload, string? authenticatedDeviceId, CancellationToken cancellationToken)
    {
        var parsed = Parse(topic, payload, authenticatedDeviceId);
        if (parsed.Message is null)
        {
            _metrics.Rejected();
            HubLog.MessageRejected(_logger, topic, parsed.Reason!);
            return new IngestResult(IngestStatus.Rejected, parsed.Reason);
        }
        var pending = new Pending(parsed.Message, new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
        await _queue.Writer.WriteAsync(pending, cancellationToken).ConfigureAwait(false);
        var inserted = await pending.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        return inserted ? IngestResult.Stored : IngestResult.Duplicate;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Pending>(MaxBatch);
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                batch.Clear();
                while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var next))
                {
                    batch.Add(next);
                }
                await WriteAsync(batch, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        // Whatever is still queued was never acknowledged; the device sends it again.
        while (_queue.Reader.TryRead(out var left))
        {
            left.Done.TrySetCanceled(stoppingToken);
        }
    }

    private async Task WriteAsync(List<Pending> batch, CancellationToken cancellationToken)
    {
        try
        {
            var messages = batch.Select(p => p.Message).ToList();
            var inserted = await _store.StoreAsync(messages, cancellationToken).ConfigureAwait(false);
            var now = _time.GetUtcNow();
            for (var i = 0; i < batch.Count; i++)
            {
                if (inserted[i])
                {
                    _metrics.Stored(messages[i].Type, (now - messages[i].CreatedUtc).TotalSeconds);
                }
                else
                {
                    _metrics.Duplicate();
                }
                batch[i].Done.TrySetResult(inserted[i]);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Not acknowledged, so the device keeps the messages and retries; the hub carries on.
            HubLog.BatchFailed(_logger, batch.Count, ex);
            foreach (var pending in batch)
            {
                pending.Done.TrySetException(ex);
            }
        }
    }

    private (IncomingMessage? Message, string? Reason) Parse(string topic, ReadOnlyMemory<byte> payload, string? authenticatedDeviceId)
    {
        if (!Topics.TryParseEvent(topic, out var topicDevice, out var topicType))
        {
            return (null, "not a device event topic");
        }
        if (authenticatedDeviceId is not null && authenticatedDeviceId != topicDevice)
        {
            return (null, "topic belongs to another device");
        }
        if (payload.Length > _options.MaxMessageBytes)
        {
            return (null, $"message of {payload.Length} bytes exceeds {_options.MaxMessageBytes}");
        }
        MessageEnvelope? envelope;
        try
        {
            envelope = JsonSerializer.Deserialize<MessageEnvelope>(payload.Span, ContractJson.Options);
        }
        catch (JsonException ex)
        {
            return (null, "invalid JSON: " + ex.Message);
        }
        if (envelope is null || string.IsNullOrEmpty(envelope.MessageId) || envelope.MessageId.Length > 128)
        {
            return (null, "missing or oversized messageId");
        }
        if (envelope.DeviceId != topicDevice || envelope.Type != topicType)
        {
            return (null, "envelope device or type differs from the topic");
        }
        if (envelope.SchemaVersion != MessageEnvelope.CurrentSchemaVersion)
        {
            return (null, $"unknown schema version {envelope.SchemaVersion}");
        }
        if (envelope.Body.ValueKind != JsonValueKind.Object)
        {
            return (null, "body is not a JSON object");
        }
        try
        {
            // Known types must match their contract, so the API never serves something the dashboard cannot read.
            switch (envelope.Type)
            {
                case MessageTypes.Finding:
                    _ = envelope.Body.Deserialize<FindingV1>(ContractJson.Options) ?? throw new JsonException("empty finding");
                    break;
                case MessageTypes.Heartbeat:
                    _ = envelope.Body.Deserialize<HeartbeatV1>(ContractJson.Options) ?? throw new JsonException("empty heartbeat");
                    break;
                case MessageTypes.Reported:
                    _ = envelope.Body.Deserialize<ReportedPropertiesV1>(ContractJson.Options) ?? throw new JsonException("empty reported properties");
                    break;
                case MessageTypes.Feedback:
                    var feedback = envelope.Body.Deserialize<FeedbackV1>(ContractJson.Options) ?? throw new JsonException("empty feedback");
                    if (!FeedbackDecisions.IsKnown(feedback.Decision))
                    {
                        throw new JsonException($"decision '{feedback.Decision}' is neither confirmed nor rejected");
                    }
                    break;
                case MessageTypes.ModelUpdate:
                    _ = envelope.Body.Deserialize<ModelUpdateV1>(ContractJson.Options) ?? throw new JsonException("empty model update");
                    break;
                default:
                    return (null, $"unknown message type '{envelope.Type}'");
            }
        }
        catch (JsonException ex)
        {
            return (null, $"{envelope.Type} body does not match its contract: {ex.Message}");
        }
        return (new IncomingMessage(topicDevice, envelope.MessageId, envelope.Type, envelope.SchemaVersion, envelope.CreatedUtc, _time.GetUtcNow(), envelope.Body.GetRawText()), null);
    }

    private sealed record Pending(IncomingMessage Message, TaskCompletionSource<bool> Done);
}
