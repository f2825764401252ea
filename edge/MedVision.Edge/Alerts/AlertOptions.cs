using System.Globalization;
using MailKit.Security;
using MedVision.Edge.Alerts.Beacon;
using MimeKit;

namespace MedVision.Edge.Alerts;

/// <summary>Section <c>MedVision:Alerts</c>: which findings raise an alert, the on-site beacon and who gets paged.</summary>
public sealed class AlertOptions
{
    public const string Section = "MedVision:Alerts";

    /// <summary>Built-in recipient that writes the page to the service log.</summary>
    public const string LogRecipient = "log";

    public bool Enabled { get; set; } = true;

    /// <summary>Evaluated in order; the first rule a finding matches decides the alert. Empty: <see cref="DefaultRule"/>.</summary>
    public List<AlertRuleOptions> Rules { get; set; } = [];

    public QuietHoursOptions QuietHours { get; set; } = new();

    public BeaconOptions Beacon { get; set; } = new();

    /// <summary>Named recipients (recipient name → channel and address).</summary>
    public Dictionary<string, RecipientOptions> Recipients { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Named groups of recipients; a group in an on-call step pages every member at once.</summary>
    public Dictionary<string, List<string>> Groups { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    public RoutingOptions Routing { get; set; } = new();

    public SmtpOptions Smtp { get; set; } = new();

    public WebhookOptions Webhook { get; set; } = new();

    public DeliveryOptions Delivery { get; set; } = new();

    public AckOptions Ack { get; set; } = new();

    /// <summary>
    /// At start-up, findings of the last this many hours in studies without an alert are checked against the rules
    /// again (the appliance may have stopped between storing them and raising the alert). 0 turns this off.
    /// </summary>
    public double CatchUpHours { get; set; } = 24;

    /// <summary>Used when no rule is configured: any finding the model itself calls positive, severity high.</summary>
    public static AlertRuleOptions DefaultRule() => new() { Name = "positive-finding", Severity = AlertSeverity.High };
}

public sealed class AlertRuleOptions
{
    /// <summary>Unique; alerts are de-duplicated per study and rule.</summary>
    public string Name { get; set; } = "";

    /// <summary>Only findings of this model (any model when empty).</summary>
    public string? ModelId { get; set; }

    /// <summary>Only findings with this label (any label when empty).</summary>
    public string? Label { get; set; }

    /// <summary>Probability at or above which the rule fires; when unset, the finding's own positive decision.</summary>
    public double? MinProbability { get; set; }

    /// <summary>Only these modalities (any when empty).</summary>
    public List<string> Modalities { get; set; } = [];

    /// <summary>
    /// Only studies with one of these priorities (Requested Procedure Priority: STAT, HIGH, ROUTINE, MEDIUM, LOW).
    /// Any when empty; when set, a study whose priority is unknown does not match.
    /// </summary>
    public List<string> Priorities { get; set; } = [];

    public AlertSeverity Severity { get; set; } = AlertSeverity.High;
}

/// <summary>
/// Between <see cref="Start"/> and <see cref="End"/> (local time of <see cref="TimeZone"/>), alerts whose severity is in
/// <see cref="DeferSeverities"/> are recorded but neither beacon nor page until quiet hours end. Critical alerts are
/// never deferred.
/// </summary>
public sealed class QuietHoursOptions
{
    /// <summary>HH:mm; quiet hours are off unless both ends are set.</summary>
    public string? Start { get; set; }

    public string? End { get; set; }

    /// <summary>IANA time zone; the machine's when empty.</summary>
    public string? TimeZone { get; set; }

    /// <summary>Empty: <c>normal</c> only.</summary>
    public List<AlertSeverity> DeferSeverities { get; set; } = [];

    public bool IsConfigured => !string.IsNullOrWhiteSpace(Start) && !string.IsNullOrWhiteSpace(End);
}

public sealed class BeaconOptions
{
    public const string Auto = "auto";
    public const string Simulated = "simulated";
    public const string LibGpiod = "libgpiod";
    public const string LibGpiodV2 = "libgpiodv2";

    /// <summary>
    /// <c>auto</c> (libgpiod when a /dev/gpiochip* exists, else simulated), <c>libgpiod</c> (v1 API),
    /// <c>libgpiodv2</c>, or <c>simulated</c> (records pin changes, shown by <c>GET /api/beacon</c>).
    /// </summary>
    public string Driver { get; set; } = Auto;

    /// <summary>GPIO chip number (/dev/gpiochipN).</summary>
    public int Chip { get; set; }

    /// <summary>Light pins (line offsets on the chip). Empty: pin 17.</summary>
    public List<int> LightPins { get; set; } = [];

    /// <summary>Buzzer pin; negative for none.</summary>
    public int BuzzerPin { get; set; } = 27;

    /// <summary>Outputs switch on when driven low (common for relay boards).</summary>
    public bool ActiveLow { get; set; }

    /// <summary>Pin changes the simulated driver keeps (oldest dropped first).</summary>
    public int SimulatedHistory { get; set; } = 10_000;

    public BeaconPatternsOptions Patterns { get; set; } = new();
}

public sealed class BeaconPatternsOptions
{
    public SeverityPatternOptions Critical { get; set; } = new() { Light = "blink:250/250", Buzzer = "blink:500/500" };

    public SeverityPatternOptions High { get; set; } = new() { Light = "blink:1000/1000", Buzzer = "off" };

    public SeverityPatternOptions Normal { get; set; } = new() { Light = "steady", Buzzer = "off" };

    public SeverityPatternOptions For(AlertSeverity severity) => severity switch
    {
        AlertSeverity.Critical => Critical,
        AlertSeverity.High => High,
        _ => Normal,
    };
}

public sealed class SeverityPatternOptions
{
    public string Light { get; set; } = "steady";

    public string Buzzer { get; set; } = "off";

    /// <summary>Which of the light pins this severity uses (e.g. a red lamp for critical); all when empty.</summary>
    public List<int> LightPins { get; set; } = [];
}

public sealed class RecipientOptions
{
    public const string Email = "email";
    public const string Webhook = "webhook";
    public const string Log = "log";

    /// <summary><c>email</c>, <c>webhook</c> or <c>log</c>.</summary>
    public string Channel { get; set; } = Email;

    /// <summary>E-mail address, or the URL a webhook page is POSTed to.</summary>
    public string Address { get; set; } = "";
}

public sealed class RoutingOptions
{
    public SeverityRouteOptions Critical { get; set; } = new() { EscalateAfterSeconds = 120 };

    public SeverityRouteOptions High { get; set; } = new() { EscalateAfterSeconds = 300 };

    public SeverityRouteOptions Normal { get; set; } = new() { EscalateAfterSeconds = 900 };

    public SeverityRouteOptions For(AlertSeverity severity) => severity switch
    {
        AlertSeverity.Critical => Critical,
        AlertSeverity.High => High,
        _ => Normal,
    };
}

/// <summary>
/// The on-call list of one severity. Step 0 is paged when the alert is raised; each <see cref="EscalateAfterSeconds"/>
/// without acknowledgement pages the next step; after the last step it starts again at step 0 (a new round).
/// </summary>
public sealed class SeverityRouteOptions
{
    /// <summary>Recipient or group names in order. Empty: the built-in <c>log</c> recipient.</summary>
    public List<string> Steps { get; set; } = [];

    public double EscalateAfterSeconds { get; set; } = 300;

    /// <summary>Rounds through the list before paging stops (the beacon goes on); 0 repeats until acknowledged.</summary>
    public int MaxRounds { get; set; }
}

public sealed class SmtpOptions
{
    public string? Host { get; set; }

    public int Port { get; set; } = 25;

    /// <summary>MailKit's SecureSocketOptions: None, Auto, SslOnConnect, StartTls, StartTlsWhenAvailable.</summary>
    public SecureSocketOptions Security { get; set; } = SecureSocketOptions.StartTlsWhenAvailable;

    public string? Username { get; set; }

    public string? Password { get; set; }

    public string From { get; set; } = "MedVision Edge <medvision-edge@localhost>";
}

public sealed class WebhookOptions
{
    /// <summary>Optional header name/value sent with every webhook page (e.g. an API key for the receiver).</summary>
    public Dictionary<string, string> Headers { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>How one page is retried: exponential backoff with jitter, each attempt recorded.</summary>
public sealed class DeliveryOptions
{
    public int MaxAttempts { get; set; } = 6;

    public double InitialBackoffSeconds { get; set; } = 2;

    public double MaxBackoffSeconds { get; set; } = 60;

    public double AttemptTimeoutSeconds { get; set; } = 20;
}

public sealed class AckOptions
{
    /// <summary>Base URL recipients reach the appliance at (for the one-click link); the first HTTP endpoint when empty.</summary>
    public string? PublicBaseUrl { get; set; }

    /// <summary>Base64 HMAC key, at least 32 bytes; generated under the storage root (alerts/ack-signing.key) when empty.</summary>
    public string? SigningKey { get; set; }

    public double LinkValidHours { get; set; } = 24;
}

/// <summary>Fills the defaults that list binding cannot (bound lists are appended to, never replaced).</summary>
internal sealed class AlertOptionsSetup : Microsoft.Extensions.Options.IPostConfigureOptions<AlertOptions>
{
    public const int DefaultLightPin = 17;

    public void PostConfigure(string? name, AlertOptions options)
    {
        if (options.Rules.Count == 0)
        {
            options.Rules.Add(AlertOptions.DefaultRule());
        }
        if (options.Beacon.LightPins.Count == 0)
        {
            options.Beacon.LightPins.Add(DefaultLightPin);
        }
        if (options.QuietHours.DeferSeverities.Count == 0)
        {
            options.QuietHours.DeferSeverities.Add(AlertSeverity.Normal);
        }
        foreach (var route in new[] { options.Routing.Critical, options.Routing.High, options.Routing.Normal })
        {
            if (route.Steps.Count == 0)
            {
                route.Steps.Add(AlertOptions.LogRecipient);
            }
        }
    }
}

/// <summary>Collects every problem in the alerts section, then fails start-up with all of them.</summary>
internal sealed class AlertOptionsValidator : Microsoft.Extensions.Options.IValidateOptions<AlertOptions>
{
    private const string S = AlertOptions.Section;

    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, AlertOptions options)
    {
        var errors = new List<string>();
        ValidateRules(options, errors);
        ValidateQuietHours(options.QuietHours, errors);
        ValidateBeacon(options.Beacon, errors);
        ValidateRecipients(options, errors);
        ValidateDelivery(options, errors);
        return errors.Count == 0
            ? Microsoft.Extensions.Options.ValidateOptionsResult.Success
            : Microsoft.Extensions.Options.ValidateOptionsResult.Fail(errors);
    }

    private static void ValidateRules(AlertOptions options, List<string> errors)
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < options.Rules.Count; i++)
        {
            var rule = options.Rules[i];
            if (string.IsNullOrWhiteSpace(rule.Name))
            {
                errors.Add($"{S}:Rules:{i}:Name must not be empty.");
            }
            else if (!names.Add(rule.Name))
            {
                errors.Add($"{S}:Rules:{i}:Name '{rule.Name}' is used by another rule.");
            }
            if (rule.MinProbability is { } p && (double.IsNaN(p) || p < 0 || p > 1))
            {
                errors.Add($"{S}:Rules:{i}:MinProbability must be 0-1 (was {p.ToString(CultureInfo.InvariantCulture)}).");
            }
            if (!Enum.IsDefined(rule.Severity))
            {
                errors.Add($"{S}:Rules:{i}:Severity must be critical, high or normal.");
            }
        }
    }

    private static void ValidateQuietHours(QuietHoursOptions quiet, List<string> errors)
    {
        if (quiet.DeferSeverities.Contains(AlertSeverity.Critical))
        {
            errors.Add($"{S}:QuietHours:DeferSeverities must not contain critical: critical alerts are never suppressed.");
        }
        var hasStart = !string.IsNullOrWhiteSpace(quiet.Start);
        var hasEnd = !string.IsNullOrWhiteSpace(quiet.End);
        if (hasStart != hasEnd)
        {
            errors.Add($"{S}:QuietHours needs both Start and End (HH:mm), or neither.");
        }
        if (hasStart && hasEnd)
        {
            var startOk = QuietHoursPolicy.TryParseTime(quiet.Start, out var start);
            var endOk = QuietHoursPolicy.TryParseTime(quiet.End, out var end);
            if (!startOk)
            {
                errors.Add($"{S}:QuietHours:Start '{quiet.Start}' is not a time of day (HH:mm).");
            }
            if (!endOk)
            {
                errors.Add($"{S}:QuietHours:End '{quiet.End}' is not a time of day (HH:mm).");
            }
            if (startOk && endOk && start == end)
            {
                errors.Add($"{S}:QuietHours:Start and End must differ.");
            }
        }
        if (!string.IsNullOrWhiteSpace(quiet.TimeZone) && !QuietHoursPolicy.TryFindTimeZone(quiet.TimeZone, out _))
        {
            errors.Add($"{S}:QuietHours:TimeZone '{quiet.TimeZone}' is not a known time zone.");
        }
    }

    private static void ValidateBeacon(BeaconOptions beacon, List<string> errors)
    {
        if (beacon.Driver.ToLowerInvariant() is not (BeaconOptions.Auto or BeaconOptions.Simulated or BeaconOptions.LibGpiod or BeaconOptions.LibGpiodV2))
        {
            errors.Add($"{S}:Beacon:Driver '{beacon.Driver}' must be auto, libgpiod, libgpiodv2 or simulated.");
        }
        if (beacon.Chip < 0)
        {
            errors.Add($"{S}:Beacon:Chip must not be negative.");
        }
        var pins = new HashSet<int>();
        foreach (var pin in beacon.LightPins)
        {
            if (pin < 0)
            {
                errors.Add($"{S}:Beacon:LightPins: {pin} is not a pin number.");
            }
            else if (!pins.Add(pin))
            {
                errors.Add($"{S}:Beacon:LightPins lists pin {pin} twice.");
            }
        }
        if (beacon.BuzzerPin >= 0 && pins.Contains(beacon.BuzzerPin))
        {
            errors.Add($"{S}:Beacon:BuzzerPin {beacon.BuzzerPin} is also a light pin.");
        }
        if (beacon.SimulatedHistory is < 10 or > 1_000_000)
        {
            errors.Add($"{S}:Beacon:SimulatedHistory must be 10-1000000.");
        }
        foreach (var severity in Enum.GetValues<AlertSeverity>())
        {
            var pattern = beacon.Patterns.For(severity);
            var key = $"{S}:Beacon:Patterns:{severity}";
            if (!BeaconPattern.TryParse(pattern.Light, out _, out var lightError))
            {
                errors.Add($"{key}:Light {lightError}");
            }
            if (!BeaconPattern.TryParse(pattern.Buzzer, out _, out var buzzerError))
            {
                errors.Add($"{key}:Buzzer {buzzerError}");
            }
            foreach (var pin in pattern.LightPins.Where(p => !pins.Contains(p)))
            {
                errors.Add($"{key}:LightPins: {pin} is not one of {S}:Beacon:LightPins.");
            }
        }
    }

    private static void ValidateRecipients(AlertOptions options, List<string> errors)
    {
        var usesEmail = false;
        foreach (var (name, recipient) in options.Recipients)
        {
            var key = $"{S}:Recipients:{name}";
            if (options.Groups.ContainsKey(name) || name.Equals(AlertOptions.LogRecipient, StringComparison.OrdinalIgnoreCase))
            {
                errors.Add($"{key}: the name is also a group or the built-in '{AlertOptions.LogRecipient}' recipient.");
            }
            switch (recipient.Channel.ToLowerInvariant())
            {
                case RecipientOptions.Email:
                    usesEmail = true;
                    if (!MailboxAddress.TryParse(recipient.Address, out var mailbox) || !mailbox.Address.Contains('@', StringComparison.Ordinal))
                    {
                        errors.Add($"{key}:Address '{recipient.Address}' is not an e-mail address.");
                    }
                    break;
                case RecipientOptions.Webhook:
                    if (!Uri.TryCreate(recipient.Address, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                    {
                        errors.Add($"{key}:Address '{recipient.Address}' is not an http(s) URL.");
                    }
                    break;
                case RecipientOptions.Log:
                    break;
                default:
                    errors.Add($"{key}:Channel '{recipient.Channel}' must be email, webhook or log.");
                    break;
            }
        }
        foreach (var (group, members) in options.Groups)
        {
            if (members.Count == 0)
            {
                errors.Add($"{S}:Groups:{group} has no members.");
            }
            foreach (var member in members.Where(m => !IsRecipient(options, m)))
            {
                errors.Add($"{S}:Groups:{group}: '{member}' is not a recipient.");
            }
        }
        foreach (var severity in Enum.GetValues<AlertSeverity>())
        {
            var route = options.Routing.For(severity);
            var key = $"{S}:Routing:{severity}";
            foreach (var step in route.Steps.Where(s => !IsRecipient(options, s) && !options.Groups.ContainsKey(s)))
            {
                errors.Add($"{key}:Steps: '{step}' is neither a recipient nor a group.");
            }
            if (double.IsNaN(route.EscalateAfterSeconds) || route.EscalateAfterSeconds < 1)
            {
                errors.Add($"{key}:EscalateAfterSeconds must be at least 1.");
            }
            if (route.MaxRounds < 0)
            {
                errors.Add($"{key}:MaxRounds must not be negative.");
            }
        }
        if (usesEmail)
        {
            if (string.IsNullOrWhiteSpace(options.Smtp.Host))
            {
                errors.Add($"{S}:Smtp:Host must be set: a recipient is paged by e-mail.");
            }
            if (options.Smtp.Port is < 1 or > 65535)
            {
                errors.Add($"{S}:Smtp:Port {options.Smtp.Port} is not a TCP port.");
            }
            if (!MailboxAddress.TryParse(options.Smtp.From, out _))
            {
                errors.Add($"{S}:Smtp:From '{options.Smtp.From}' is not an e-mail address.");
            }
        }
    }

    private static void ValidateDelivery(AlertOptions options, List<string> errors)
    {
        var delivery = options.Delivery;
        if (delivery.MaxAttempts is < 1 or > 100)
        {
            errors.Add($"{S}:Delivery:MaxAttempts must be 1-100.");
        }
        if (!(delivery.InitialBackoffSeconds > 0) || !(delivery.MaxBackoffSeconds >= delivery.InitialBackoffSeconds))
        {
            errors.Add($"{S}:Delivery: InitialBackoffSeconds must be positive and not above MaxBackoffSeconds.");
        }
        if (!(delivery.AttemptTimeoutSeconds >= 1))
        {
            errors.Add($"{S}:Delivery:AttemptTimeoutSeconds must be at least 1.");
        }
        if (double.IsNaN(options.CatchUpHours) || options.CatchUpHours < 0 || options.CatchUpHours > 24 * 30)
        {
            errors.Add($"{S}:CatchUpHours must be 0-720.");
        }
        var ack = options.Ack;
        if (!string.IsNullOrWhiteSpace(ack.PublicBaseUrl)
            && (!Uri.TryCreate(ack.PublicBaseUrl, UriKind.Absolute, out var baseUri) || baseUri.Scheme is not ("http" or "https")))
        {
            errors.Add($"{S}:Ack:PublicBaseUrl '{ack.PublicBaseUrl}' is not an http(s) URL.");
        }
        if (!string.IsNullOrWhiteSpace(ack.SigningKey) && !AckSigningKey.TryDecode(ack.SigningKey, out _))
        {
            errors.Add($"{S}:Ack:SigningKey must be base64 of at least {AckSigningKey.MinKeyBytes} bytes.");
        }
        if (!(ack.LinkValidHours > 0) || ack.LinkValidHours > 24 * 30)
        {
            errors.Add($"{S}:Ack:LinkValidHours must be more than 0 and at most 720.");
        }
    }

    private static bool IsRecipient(AlertOptions options, string name) =>
        options.Recipients.ContainsKey(name) || name.Equals(AlertOptions.LogRecipient, StringComparison.OrdinalIgnoreCase);
}
