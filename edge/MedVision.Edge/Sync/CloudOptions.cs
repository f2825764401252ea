using Microsoft.Extensions.Options;

namespace MedVision.Edge.Sync;

/// <summary>
/// Section <c>MedVision:Cloud</c> (environment <c>MEDVISION__CLOUD__KEY</c>): the sync agent that sends de-identified
/// findings and health to the hub. Off by default, so an appliance runs alone on embedded defaults.
/// </summary>
public sealed class CloudOptions
{
    public const string Section = "MedVision:Cloud";
    public const int DefaultPort = 1883;
    public const int DefaultHeartbeatSeconds = 30;
    public const int DefaultMaxOutboxMessages = 100_000;

    public bool Enabled { get; set; }

    /// <summary>The hub's HTTP base address, used once to enrol (e.g. <c>http://hub.example:8090</c>).</summary>
    public string? HubUrl { get; set; }

    /// <summary>MQTT broker host; default: the host of <see cref="HubUrl"/>.</summary>
    public string? Host { get; set; }

    public int Port { get; set; } = DefaultPort;

    /// <summary>One-time token from the hub operator (POST /api/enrolments); needed until the appliance is enrolled.</summary>
    public string? EnrolmentToken { get; set; }

    /// <summary>Where the device credentials are kept after enrolment; default <c>&lt;storage root&gt;/cloud/device.json</c>.</summary>
    public string? CredentialsPath { get; set; }

    /// <summary>
    /// Site secret (≥ 16 bytes) keying the pseudonyms of patients and studies; default
    /// <c>&lt;storage root&gt;/cloud/site.key</c>, generated once. Keep it: a new key gives every study a new pseudonym.
    /// </summary>
    public string? SiteSecretPath { get; set; }

    public int HeartbeatSeconds { get; set; } = DefaultHeartbeatSeconds;

    /// <summary>Outbox bound: above it the oldest telemetry is dropped; findings are never dropped.</summary>
    public int MaxOutboxMessages { get; set; } = DefaultMaxOutboxMessages;

    public double ReconnectMinSeconds { get; set; } = 1;

    public double ReconnectMaxSeconds { get; set; } = 60;

    /// <summary>Messages awaiting PUBACK at once.</summary>
    public int MaxInFlight { get; set; } = 64;

    /// <summary>MQTT session kept by the broker while the appliance is away (QoS 1 messages to it are queued).</summary>
    public int SessionExpirySeconds { get; set; } = 7 * 24 * 3600;
}

internal sealed class CloudOptionsValidator : IValidateOptions<CloudOptions>
{
    public ValidateOptionsResult Validate(string? name, CloudOptions options)
    {
        if (!options.Enabled)
        {
            return ValidateOptionsResult.Success;
        }
        var errors = new List<string>();
        if (!Uri.TryCreate(options.HubUrl, UriKind.Absolute, out var hub) || (hub.Scheme != Uri.UriSchemeHttp && hub.Scheme != Uri.UriSchemeHttps))
        {
            errors.Add("MedVision:Cloud:HubUrl must be an absolute http(s) URL when Enabled is true.");
        }
        if (options.Port is <= 0 or > 65535)
        {
            errors.Add($"MedVision:Cloud:Port must be 1-65535, not {options.Port}.");
        }
        if (options.HeartbeatSeconds < 1)
        {
            errors.Add("MedVision:Cloud:HeartbeatSeconds must be at least 1.");
        }
        if (options.MaxOutboxMessages < 100)
        {
            errors.Add("MedVision:Cloud:MaxOutboxMessages must be at least 100.");
        }
        if (options.ReconnectMinSeconds <= 0 || options.ReconnectMaxSeconds < options.ReconnectMinSeconds)
        {
            errors.Add("MedVision:Cloud:ReconnectMinSeconds must be > 0 and ReconnectMaxSeconds at least as large.");
        }
        if (options.MaxInFlight is < 1 or > 1000)
        {
            errors.Add("MedVision:Cloud:MaxInFlight must be 1-1000.");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
