using System.Text.Json;
using MedVision.Contracts;
using MedVision.Edge.Storage;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Sync;

/// <summary>
/// Remote configuration: the hub's desired properties (<c>devices/{id}/twin/desired</c>) applied on top of the local
/// <c>MedVision:Cloud</c> settings, kept in <c>&lt;storage root&gt;/cloud/desired.json</c> so they hold after a restart,
/// and reported back (event <c>reported</c>) with the version applied and each refused key with its reason.
/// </summary>
public sealed class RemoteSettings
{
    public const string HeartbeatSecondsKey = "heartbeatSeconds";
    public const string MaxOutboxMessagesKey = "maxOutboxMessages";

    private readonly CloudOptions _options;
    private readonly string _path;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ILogger<RemoteSettings> _logger;
    private State _state;

    public RemoteSettings(IOptions<CloudOptions> options, IOptions<StorageOptions> storage, ILogger<RemoteSettings> logger)
    {
        _options = options.Value;
        _logger = logger;
        _path = Path.Combine(storage.Value.Root, "cloud", "desired.json");
        _state = new State(0, _options.HeartbeatSeconds, _options.MaxOutboxMessages);
        if (File.Exists(_path))
        {
            var saved = JsonSerializer.Deserialize<DesiredPropertiesV1>(File.ReadAllBytes(_path), ContractJson.Options);
            if (saved is not null)
            {
                _state = Evaluate(saved).State;
            }
        }
    }

    /// <summary>Raised after a new desired document was applied.</summary>
    public event Action? Changed;

    public long Version => _state.Version;

    public int HeartbeatSeconds => _state.HeartbeatSeconds;

    public int MaxOutboxMessages => _state.MaxOutboxMessages;

    /// <summary>Applies a newer desired document and returns what to report; null when it is not newer.</summary>
    public async Task<ReportedPropertiesV1?> ApplyAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        DesiredPropertiesV1? desired;
        try
        {
            desired = JsonSerializer.Deserialize<DesiredPropertiesV1>(payload.Span, ContractJson.Options);
        }
        catch (JsonException)
        {
            desired = null;
        }
        if (desired?.Properties is null)
        {
            SyncLog.BadDesired(_logger);
            return null;
        }
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (desired.Version <= _state.Version)
            {
                return null;
            }
            var (state, applied, rejected) = Evaluate(desired);
            Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
            await File.WriteAllBytesAsync(_path + ".tmp", payload.ToArray(), cancellationToken).ConfigureAwait(false);
            File.Move(_path + ".tmp", _path, overwrite: true);
            _state = state;
            Changed?.Invoke();
            SyncLog.DesiredApplied(_logger, desired.Version, applied.Count, rejected.Count);
            return new ReportedPropertiesV1(desired.Version, applied, rejected);
        }
        finally
        {
            _gate.Release();
        }
    }

    private (State State, Dictionary<string, JsonElement> Applied, Dictionary<string, string> Rejected) Evaluate(DesiredPropertiesV1 desired)
    {
        var heartbeat = _options.HeartbeatSeconds;
        var maxOutbox = _options.MaxOutboxMessages;
        var applied = new Dictionary<string, JsonElement>();
        var rejected = new Dictionary<string, string>();
        foreach (var (key, value) in desired.Properties)
        {
            switch (key)
            {
                case HeartbeatSecondsKey when value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var s) && s is >= 1 and <= 86_400:
                    heartbeat = s;
                    applied[key] = value;
                    break;
                case MaxOutboxMessagesKey when value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var m) && m >= 100:
                    maxOutbox = m;
                    applied[key] = value;
                    break;
                case HeartbeatSecondsKey:
                    rejected[key] = "must be an integer from 1 to 86400";
                    break;
                case MaxOutboxMessagesKey:
                    rejected[key] = "must be an integer of at least 100";
                    break;
                default:
                    rejected[key] = "unknown setting";
                    break;
            }
        }
        return (new State(desired.Version, heartbeat, maxOutbox), applied, rejected);
    }

    private sealed record State(long Version, int HeartbeatSeconds, int MaxOutboxMessages);
}
