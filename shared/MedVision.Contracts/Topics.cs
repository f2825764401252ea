namespace MedVision.Contracts;

/// <summary>
/// The MQTT topic scheme, modelled on Azure IoT Hub's device topics. Every topic a device may touch lies under
/// <c>devices/{deviceId}/</c>, which is what the broker ACLs enforce.
/// </summary>
public static class Topics
{
    public const string DevicesRoot = "devices";

    /// <summary>Device → hub: one message per publish; the last level names the message type.</summary>
    public static string Events(string deviceId, string messageType) => $"{DevicePrefix(deviceId)}messages/events/{messageType}";

    /// <summary>Hub → device: desired properties (remote configuration).</summary>
    public static string Desired(string deviceId) => $"{DevicePrefix(deviceId)}twin/desired";

    /// <summary>Device → hub: reported properties.</summary>
    public static string Reported(string deviceId) => $"{DevicePrefix(deviceId)}twin/reported";

    /// <summary>Hub → device: model package offers.</summary>
    public static string ModelOffer(string deviceId) => $"{DevicePrefix(deviceId)}models/offer";

    public static string DevicePrefix(string deviceId) => $"{DevicesRoot}/{deviceId}/";

    /// <summary>Filter the hub subscribes with on an external broker (shared subscription, so hub instances split the load).</summary>
    public static string HubEventsFilter(string shareGroup) => $"$share/{shareGroup}/{DevicesRoot}/+/messages/events/#";

    /// <summary>
    /// Parses <c>devices/{id}/messages/events/{type}</c>. Returns false for any other topic.
    /// </summary>
    public static bool TryParseEvent(string topic, out string deviceId, out string messageType)
    {
        deviceId = "";
        messageType = "";
        var parts = topic.Split('/');
        if (parts.Length != 5 || parts[0] != DevicesRoot || parts[2] != "messages" || parts[3] != "events"
            || parts[1].Length == 0 || parts[4].Length == 0)
        {
            return false;
        }
        deviceId = parts[1];
        messageType = parts[4];
        return true;
    }

    /// <summary>
    /// True when <paramref name="topicOrFilter"/> lies strictly inside the device's own subtree, without wildcards
    /// above it (so <c>devices/+/…</c> or <c>#</c> never pass).
    /// </summary>
    public static bool IsDeviceTopic(string deviceId, string topicOrFilter)
    {
        var prefix = DevicePrefix(deviceId);
        return topicOrFilter.StartsWith(prefix, StringComparison.Ordinal) && topicOrFilter.Length > prefix.Length;
    }

    /// <summary>Device ids are used in topics and file names: letters, digits, '-' and '_' only.</summary>
    public static bool IsValidDeviceId(string? deviceId) =>
        !string.IsNullOrEmpty(deviceId) && deviceId.Length <= 64 && deviceId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}
