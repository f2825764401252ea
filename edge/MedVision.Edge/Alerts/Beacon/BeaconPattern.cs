using System.Globalization;

namespace MedVision.Edge.Alerts.Beacon;

public enum BeaconPatternKind
{
    Off,
    Steady,
    Blink,
}

/// <summary>
/// What one beacon output does: <c>off</c>, <c>steady</c>, or <c>blink:ON_MS/OFF_MS</c> (<c>blink:MS</c> for an even
/// blink). A blink starts in the on phase so the beacon lights the moment an alert is shown.
/// </summary>
public readonly record struct BeaconPattern(BeaconPatternKind Kind, TimeSpan On, TimeSpan Off)
{
    /// <summary>Below this a relay or buzzer cannot follow, and the blink loop would only burn CPU.</summary>
    public const int MinPhaseMilliseconds = 20;

    public static BeaconPattern Dark { get; } = new(BeaconPatternKind.Off, TimeSpan.Zero, TimeSpan.Zero);

    public static BeaconPattern Lit { get; } = new(BeaconPatternKind.Steady, TimeSpan.Zero, TimeSpan.Zero);

    public bool IsLitAtStart => Kind != BeaconPatternKind.Off;

    public static BeaconPattern Blinking(int onMilliseconds, int offMilliseconds) =>
        new(BeaconPatternKind.Blink, TimeSpan.FromMilliseconds(onMilliseconds), TimeSpan.FromMilliseconds(offMilliseconds));

    public static bool TryParse(string? text, out BeaconPattern pattern, out string? error)
    {
        pattern = Dark;
        error = null;
        var value = text?.Trim().ToLowerInvariant();
        switch (value)
        {
            case null or "" or "off":
                return true;
            case "steady" or "on":
                pattern = Lit;
                return true;
        }
        if (!value.StartsWith("blink:", StringComparison.Ordinal))
        {
            error = $"'{text}' is not a beacon pattern (off, steady, blink:ON_MS/OFF_MS).";
            return false;
        }
        var parts = value["blink:".Length..].Split('/');
        if (parts.Length > 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var on)
            || !int.TryParse(parts[^1], NumberStyles.None, CultureInfo.InvariantCulture, out var off))
        {
            error = $"'{text}' is not a blink pattern (blink:ON_MS/OFF_MS or blink:MS).";
            return false;
        }
        if (on < MinPhaseMilliseconds || off < MinPhaseMilliseconds)
        {
            error = $"'{text}': blink phases must be at least {MinPhaseMilliseconds} ms.";
            return false;
        }
        pattern = Blinking(on, off);
        return true;
    }

    public static BeaconPattern Parse(string? text) =>
        TryParse(text, out var pattern, out var error) ? pattern : throw new FormatException(error);

    public override string ToString() => Kind switch
    {
        BeaconPatternKind.Off => "off",
        BeaconPatternKind.Steady => "steady",
        _ => string.Create(CultureInfo.InvariantCulture, $"blink:{On.TotalMilliseconds:0}/{Off.TotalMilliseconds:0}"),
    };
}
