using System.Device.Gpio;
using System.Device.Gpio.Drivers;

namespace MedVision.Edge.Alerts.Beacon;

/// <summary>The GPIO driver the beacon runs on, and why.</summary>
/// <param name="Driver">The driver; owned by whoever builds a <see cref="GpioController"/> over it.</param>
/// <param name="Name"><c>libgpiod</c>, <c>libgpiodv2</c> or <c>simulated</c>.</param>
/// <param name="Reason">Why the simulated driver is used; null on hardware.</param>
/// <param name="Degraded">True when hardware was expected (configured, or a chip exists) but could not be used.</param>
public sealed record BeaconDriverChoice(GpioDriver Driver, string Name, string? Reason, bool Degraded)
{
    public bool Simulated => Driver is SimulatedGpioDriver;
}

/// <summary>
/// Picks the beacon's GPIO driver from <see cref="BeaconOptions.Driver"/>. <c>auto</c> uses libgpiod (v2 API, then v1)
/// when a <c>/dev/gpiochip*</c> exists and the simulated driver otherwise; a driver that cannot load falls back to the
/// simulated one so the appliance keeps running (health then says degraded).
/// </summary>
public static class BeaconDriverFactory
{
    public static BeaconDriverChoice Create(BeaconOptions options, TimeProvider clock, ILogger logger, Func<IReadOnlyList<string>>? listChips = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        listChips ??= ListChips;
        var requested = options.Driver.Trim().ToLowerInvariant();
        SimulatedGpioDriver Simulated() => new(clock, history: options.SimulatedHistory);

        switch (requested)
        {
            case BeaconOptions.Simulated:
                return new BeaconDriverChoice(Simulated(), BeaconOptions.Simulated, "configured (MedVision:Alerts:Beacon:Driver=simulated)", false);
            case BeaconOptions.LibGpiod or BeaconOptions.LibGpiodV2:
                return TryHardware(requested, options.Chip, logger, out var configured, out var failure)
                    ? configured!
                    : new BeaconDriverChoice(Simulated(), BeaconOptions.Simulated, $"{requested} driver failed: {failure}", true);
        }

        var chips = listChips();
        if (chips.Count == 0)
        {
            return new BeaconDriverChoice(Simulated(), BeaconOptions.Simulated, "no GPIO chip (/dev/gpiochip*) found", false);
        }
        if (TryHardware(BeaconOptions.LibGpiodV2, options.Chip, logger, out var v2, out var v2Failure))
        {
            return v2!;
        }
        if (TryHardware(BeaconOptions.LibGpiod, options.Chip, logger, out var v1, out var v1Failure))
        {
            return v1!;
        }
        return new BeaconDriverChoice(Simulated(), BeaconOptions.Simulated,
            $"{string.Join(", ", chips)} present but libgpiod cannot drive it ({v2Failure}; {v1Failure})", true);
    }

    private static bool TryHardware(string name, int chip, ILogger logger, out BeaconDriverChoice? choice, out string? failure)
    {
        try
        {
            GpioDriver driver = name == BeaconOptions.LibGpiodV2 ? new LibGpiodV2Driver(chip) : new LibGpiodDriver(chip);
            choice = new BeaconDriverChoice(driver, name, null, false);
            failure = null;
            return true;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // DllNotFoundException (library missing), PlatformNotSupportedException, IOException (chip busy or absent)...
            AlertLog.BeaconDriverFailed(logger, name, ex);
            choice = null;
            failure = ex.Message;
            return false;
        }
    }

    private static IReadOnlyList<string> ListChips() =>
        Directory.Exists("/dev") ? Directory.GetFiles("/dev", "gpiochip*").Order(StringComparer.Ordinal).ToList() : [];
}
