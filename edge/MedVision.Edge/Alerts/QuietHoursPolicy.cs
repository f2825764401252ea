using System.Globalization;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Alerts;

/// <summary>
/// Decides whether an alert waits for the end of quiet hours. Critical alerts never do, whatever the configuration
/// says (the validator also refuses such a configuration).
/// </summary>
public sealed class QuietHoursPolicy
{
    private readonly QuietHoursOptions _options;
    private readonly TimeOnly _start;
    private readonly TimeOnly _end;
    private readonly TimeZoneInfo _zone;

    public QuietHoursPolicy(IOptions<AlertOptions> options)
    {
        _options = options.Value.QuietHours;
        IsConfigured = _options.IsConfigured
            && TryParseTime(_options.Start, out _start)
            && TryParseTime(_options.End, out _end)
            && _start != _end;
        _zone = !string.IsNullOrWhiteSpace(_options.TimeZone) && TryFindTimeZone(_options.TimeZone, out var zone)
            ? zone
            : TimeZoneInfo.Local;
    }

    public bool IsConfigured { get; }

    /// <summary>Whether an alert of <paramref name="severity"/> raised at <paramref name="utc"/> waits.</summary>
    public bool Defers(AlertSeverity severity, DateTimeOffset utc) =>
        severity != AlertSeverity.Critical && _options.DeferSeverities.Contains(severity) && IsQuiet(utc);

    public bool IsQuiet(DateTimeOffset utc)
    {
        if (!IsConfigured)
        {
            return false;
        }
        var local = TimeOnly.FromTimeSpan(TimeZoneInfo.ConvertTime(utc, _zone).TimeOfDay);
        // A window that wraps midnight (22:00-07:00) is the complement of the day window (07:00-22:00).
        return _start < _end ? local >= _start && local < _end : local >= _start || local < _end;
    }

    public static bool TryParseTime(string? text, out TimeOnly time) =>
        TimeOnly.TryParseExact(text?.Trim(), ["HH:mm", "H:mm", "HH:mm:ss"], CultureInfo.InvariantCulture, DateTimeStyles.None, out time);

    public static bool TryFindTimeZone(string id, out TimeZoneInfo zone)
    {
        try
        {
            zone = TimeZoneInfo.FindSystemTimeZoneById(id);
            return true;
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            zone = TimeZoneInfo.Utc;
            return false;
        }
    }
}
