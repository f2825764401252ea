using System.Text.Json;
using Microsoft.Extensions.Options;

namespace MedVision.Cloud.Fleet;

public sealed record ApplianceStatus(
    string DeviceId,
    string SiteId,
    string? Hostname,
    string Status,
    DateTimeOffset EnrolledUtc,
    DateTimeOffset? LastSeenUtc,
    DateTimeOffset? LastHeartbeatUtc,
    long MessagesReceived,
    JsonElement? Heartbeat,
    long DesiredVersion,
    JsonElement? Desired,
    long? ReportedVersion,
    JsonElement? Reported);

/// <summary>
/// Appliance status from the time of its last message: <c>online</c>, <c>stale</c> after StaleAfterSeconds,
/// <c>offline</c> after OfflineAfterSeconds, <c>enrolled</c> before the first message. Derived on read from the
/// database, so every hub instance gives the same answer.
/// </summary>
public sealed class FleetView(IHubStore store, TimeProvider time, IOptions<HubOptions> options)
{
    public async Task<IReadOnlyList<ApplianceStatus>> GetFleetAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var devices = await store.ListDevicesAsync(cancellationToken).ConfigureAwait(false);
        return devices.Select(d => new ApplianceStatus(
            d.DeviceId,
            d.SiteId,
            d.Hostname,
            StatusOf(d.LastSeenUtc, now),
            d.EnrolledUtc,
            d.LastSeenUtc,
            d.LastHeartbeatUtc,
            d.MessagesReceived,
            d.LastHeartbeatJson is null ? null : JsonSerializer.Deserialize<JsonElement>(d.LastHeartbeatJson),
            d.DesiredVersion,
            d.DesiredJson is null ? null : JsonSerializer.Deserialize<JsonElement>(d.DesiredJson),
            d.ReportedVersion,
            d.ReportedJson is null ? null : JsonSerializer.Deserialize<JsonElement>(d.ReportedJson))).ToList();
    }

    public string StatusOf(DateTimeOffset? lastSeen, DateTimeOffset now)
    {
        if (lastSeen is null)
        {
            return "enrolled";
        }
        var age = now - lastSeen.Value;
        return age.TotalSeconds >= options.Value.OfflineAfterSeconds ? "offline"
            : age.TotalSeconds >= options.Value.StaleAfterSeconds ? "stale"
            : "online";
    }
}
