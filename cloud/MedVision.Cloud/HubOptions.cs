using Microsoft.Extensions.Options;

namespace MedVision.Cloud;

public enum BrokerMode
{
    /// <summary>An MQTTnet broker in the hub's process (one hub instance).</summary>
    Embedded,

    /// <summary>An external MQTT 5 broker (Mosquitto); the hub joins a shared subscription.</summary>
    External,
}

/// <summary>Hub settings, bound from <c>MedVision:Hub</c> (environment <c>MEDVISION__HUB__KEY</c>).</summary>
public sealed class HubOptions
{
    public const string Section = "MedVision:Hub";
    public const int DefaultMqttPort = 1883;
    public const string DefaultDatabasePath = "data/hub.db";
    public const int DefaultStaleAfterSeconds = 90;
    public const int DefaultOfflineAfterSeconds = 300;

    public BrokerMode Broker { get; set; } = BrokerMode.Embedded;

    /// <summary>Embedded broker port (0 = any free port, for tests).</summary>
    public int MqttPort { get; set; } = DefaultMqttPort;

    public string MqttBindAddress { get; set; } = "0.0.0.0";

    /// <summary>SQLite file, relative to the working folder.</summary>
    public string DatabasePath { get; set; } = DefaultDatabasePath;

    /// <summary>
    /// When set, the fleet database is this PostgreSQL database (Npgsql connection string) instead of SQLite, so several
    /// hub instances can share it.
    /// </summary>
    public string? PostgresConnectionString { get; set; }

    /// <summary>An appliance without a message for this long is <c>stale</c>.</summary>
    public int StaleAfterSeconds { get; set; } = DefaultStaleAfterSeconds;

    /// <summary>An appliance without a message for this long is <c>offline</c>.</summary>
    public int OfflineAfterSeconds { get; set; } = DefaultOfflineAfterSeconds;

    /// <summary>
    /// When set, operator changes (enrolment tokens, desired settings, model packages and offers) need this key, and so
    /// do reads unless <see cref="ReadApiKey"/> is set (see <see cref="Api.OperatorAccess"/>).
    /// </summary>
    public string? AdminApiKey { get; set; }

    /// <summary>When set, a key that may read the fleet, findings and dashboard but change nothing.</summary>
    public string? ReadApiKey { get; set; }

    /// <summary>Largest message body accepted, in bytes.</summary>
    public int MaxMessageBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// Heartbeats older than this are deleted (hourly): they feed the fleet charts, and every appliance sends one a minute, so kept
    /// for ever they would dwarf the findings. Findings, model updates and reported settings are kept. 0 keeps everything.
    /// </summary>
    public int HeartbeatRetentionDays { get; set; } = 30;

    public ExternalBrokerOptions External { get; set; } = new();
}

/// <summary>How the hub reaches an external broker and keeps its credentials in step (Mosquitto password file).</summary>
public sealed class ExternalBrokerOptions
{
    public string Host { get; set; } = "localhost";

    public int Port { get; set; } = DefaultPort;

    public const int DefaultPort = 1883;

    public string Username { get; set; } = "medvision-hub";

    public string? Password { get; set; }

    /// <summary>
    /// MQTT client id of this hub instance; unique per instance. The session is persistent, so messages the broker
    /// accepted while this hub was away wait for it (with broker persistence, across a broker restart too).
    /// </summary>
    public string ClientId { get; set; } = "medvision-hub-1";

    /// <summary>Shared subscription group, so several hub instances split the device messages.</summary>
    public string ShareGroup { get; set; } = "medvision-hub";

    /// <summary>Mosquitto <c>password_file</c> the hub rewrites from its database after each enrolment.</summary>
    public string? PasswordFile { get; set; }

    /// <summary>File holding Mosquitto's process id; the hub sends it SIGHUP so it re-reads the password file.</summary>
    public string? PidFile { get; set; }
}

internal sealed class HubOptionsValidator : IValidateOptions<HubOptions>
{
    public ValidateOptionsResult Validate(string? name, HubOptions options)
    {
        var errors = new List<string>();
        if (options.MqttPort is < 0 or > 65535)
        {
            errors.Add($"MedVision:Hub:MqttPort must be 0-65535, not {options.MqttPort}.");
        }
        if (string.IsNullOrWhiteSpace(options.DatabasePath))
        {
            errors.Add("MedVision:Hub:DatabasePath must be set.");
        }
        if (options.StaleAfterSeconds <= 0 || options.OfflineAfterSeconds <= options.StaleAfterSeconds)
        {
            errors.Add("MedVision:Hub:StaleAfterSeconds must be > 0 and OfflineAfterSeconds greater than it.");
        }
        if (!string.IsNullOrWhiteSpace(options.PostgresConnectionString))
        {
            try
            {
                var builder = new Npgsql.NpgsqlConnectionStringBuilder(options.PostgresConnectionString);
                if (string.IsNullOrEmpty(builder.Host))
                {
                    errors.Add("MedVision:Hub:PostgresConnectionString names no Host.");
                }
            }
            catch (ArgumentException ex)
            {
                errors.Add($"MedVision:Hub:PostgresConnectionString is not a valid connection string: {ex.Message}");
            }
        }
        if (options.MaxMessageBytes < 1024)
        {
            errors.Add("MedVision:Hub:MaxMessageBytes must be at least 1024.");
        }
        if (options.Broker == BrokerMode.External)
        {
            if (string.IsNullOrWhiteSpace(options.External.Host) || options.External.Port is <= 0 or > 65535)
            {
                errors.Add("MedVision:Hub:External:Host and Port (1-65535) must be set for the external broker.");
            }
            if (string.IsNullOrEmpty(options.External.Password))
            {
                errors.Add("MedVision:Hub:External:Password must be set for the external broker.");
            }
            if (string.IsNullOrWhiteSpace(options.External.ShareGroup) || options.External.ShareGroup.IndexOfAny(['/', '+', '#']) >= 0)
            {
                errors.Add("MedVision:Hub:External:ShareGroup must be a name without '/', '+' or '#'.");
            }
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
