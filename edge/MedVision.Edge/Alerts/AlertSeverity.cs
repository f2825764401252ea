namespace MedVision.Edge.Alerts;

/// <summary>How urgent an alert is; the order matters (the beacon shows the highest active one).</summary>
public enum AlertSeverity
{
    Normal = 0,
    High = 1,
    Critical = 2,
}

/// <summary>Values of <c>alerts.state</c>.</summary>
public static class AlertStates
{
    /// <summary>Beaconing and paging until someone acknowledges it.</summary>
    public const string Active = "active";

    /// <summary>Raised during quiet hours for a severity that waits for them to end; neither beacons nor pages yet.</summary>
    public const string Deferred = "deferred";

    public const string Acknowledged = "acknowledged";

    public const string Resolved = "resolved";

    public static IReadOnlyList<string> All { get; } = [Active, Deferred, Acknowledged, Resolved];

    public static bool IsOpen(string state) => state is Active or Deferred;
}

/// <summary>Values of <c>alert_deliveries.state</c>.</summary>
public static class DeliveryStates
{
    public const string Pending = "pending";
    public const string Retrying = "retrying";
    public const string Sent = "sent";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";
}

public static class AlertSeverityText
{
    /// <summary>The lower-case name used in the database, the API and messages.</summary>
    public static string ToWire(this AlertSeverity severity) => severity switch
    {
        AlertSeverity.Critical => "critical",
        AlertSeverity.High => "high",
        _ => "normal",
    };

    public static bool TryParse(string? text, out AlertSeverity severity)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "critical":
                severity = AlertSeverity.Critical;
                return true;
            case "high":
                severity = AlertSeverity.High;
                return true;
            case "normal":
                severity = AlertSeverity.Normal;
                return true;
            default:
                severity = AlertSeverity.Normal;
                return false;
        }
    }

    public static AlertSeverity Parse(string text) =>
        TryParse(text, out var severity) ? severity : throw new FormatException($"'{text}' is not an alert severity (critical, high, normal).");
}
