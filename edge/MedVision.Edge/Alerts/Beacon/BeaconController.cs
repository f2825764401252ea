using System.Device.Gpio;
using System.Globalization;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Alerts.Beacon;

/// <summary>
/// The on-site beacon: light pins and a buzzer on GPIO, driven with the pattern of the most severe active alert and
/// switched off when none is left. It is local: it works with the network down, and whatever pages do.
/// </summary>
public sealed class BeaconController : IHostedService, IDisposable
{
    private readonly Lock _gate = new();
    private readonly BeaconOptions _options;
    private readonly bool _enabled;
    private readonly TimeProvider _clock;
    private readonly ILogger<BeaconController> _logger;
    private readonly Func<IReadOnlyList<string>>? _listChips;
    private readonly List<Task> _blinkers = [];
    private BeaconDriverChoice? _choice;
    private GpioController? _gpio;
    private AlertSeverity? _severity;
    private DateTimeOffset? _since;
    private int _generation;
    private CancellationTokenSource? _blinking;
    private long _writeErrors;
    private string? _lastWriteError;
    private bool _stopped;

    public BeaconController(IOptions<AlertOptions> options, TimeProvider clock, ILogger<BeaconController> logger)
        : this(options, clock, logger, null)
    {
    }

    /// <param name="listChips">Lists GPIO chip devices; tests pass their own to exercise <c>auto</c>.</param>
    internal BeaconController(IOptions<AlertOptions> options, TimeProvider clock, ILogger<BeaconController> logger, Func<IReadOnlyList<string>>? listChips)
    {
        _options = options.Value.Beacon;
        _enabled = options.Value.Enabled;
        _clock = clock;
        _logger = logger;
        _listChips = listChips;
    }

    public IReadOnlyList<int> LightPins => _options.LightPins;

    public int? BuzzerPin => _options.BuzzerPin >= 0 ? _options.BuzzerPin : null;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_enabled)
        {
            // Alerting switched off: leave the GPIO lines to whoever else wants them.
            return Task.CompletedTask;
        }
        lock (_gate)
        {
            EnsureOpen();
        }
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Task[] blinkers;
        lock (_gate)
        {
            // Leave the outputs dark: a beacon stuck on after shutdown would be read as an alert.
            SwitchTo(null);
            _stopped = true;
            blinkers = [.. _blinkers];
        }
        await Task.WhenAll(blinkers).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Shows the pattern of <paramref name="severity"/> (null: off). Pins are written before this returns, so the
    /// answer (when the beacon began showing this state) is when it really lit.
    /// </summary>
    public DateTimeOffset? Show(AlertSeverity? severity)
    {
        lock (_gate)
        {
            if (_stopped)
            {
                return null;
            }
            EnsureOpen();
            if (severity != _severity || _since is null)
            {
                SwitchTo(severity);
            }
            return severity is null ? null : _since;
        }
    }

    public BeaconSnapshot Snapshot(int maxChanges)
    {
        lock (_gate)
        {
            var choice = _choice;
            var pattern = _severity is { } s ? _options.Patterns.For(s) : null;
            var simulated = choice?.Driver as SimulatedGpioDriver;
            var pins = new List<BeaconPinDto>();
            foreach (var (pin, role) in Outputs())
            {
                bool? on = null;
                if (simulated is not null)
                {
                    on = simulated.ValueOf(pin) == OnValue;
                }
                pins.Add(new BeaconPinDto(pin, role, on));
            }
            return new BeaconSnapshot(
                Driver: choice?.Name ?? "not started",
                Simulated: choice?.Simulated ?? false,
                Reason: choice?.Reason,
                Healthy: IsHealthy(),
                Chip: _options.Chip,
                ActiveLow: _options.ActiveLow,
                State: _severity?.ToWire() ?? "off",
                SinceUtc: _since,
                Light: pattern is null ? "off" : BeaconPattern.Parse(pattern.Light).ToString(),
                Buzzer: pattern is null || BuzzerPin is null ? "off" : BeaconPattern.Parse(pattern.Buzzer).ToString(),
                Pins: pins,
                WriteErrors: _writeErrors,
                LastWriteError: _lastWriteError,
                Changes: simulated?.Changes(maxChanges).Select(c => new PinChangeDto(c.Utc, c.Pin, RoleOf(c.Pin), c.Value == PinValue.High ? "high" : "low", c.Value == OnValue)).ToList(),
                DroppedChanges: simulated?.DroppedChanges);
        }
    }

    /// <summary>False when hardware was expected but is not driven, or a pin write failed.</summary>
    public bool Healthy
    {
        get
        {
            lock (_gate)
            {
                return IsHealthy();
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _stopped = true;
            _blinking?.Cancel();
            _blinking?.Dispose();
            _blinking = null;
            _gpio?.Dispose();
            _gpio = null;
        }
    }

    private bool IsHealthy() => _choice is not { Degraded: true } && _writeErrors == 0;

    private PinValue OnValue => _options.ActiveLow ? PinValue.Low : PinValue.High;

    private PinValue OffValue => _options.ActiveLow ? PinValue.High : PinValue.Low;

    private IEnumerable<(int Pin, string Role)> Outputs()
    {
        foreach (var pin in _options.LightPins)
        {
            yield return (pin, "light");
        }
        if (BuzzerPin is { } buzzer)
        {
            yield return (buzzer, "buzzer");
        }
    }

    private string RoleOf(int pin) => pin == _options.BuzzerPin ? "buzzer" : "light";

    private void EnsureOpen()
    {
        if (_gpio is not null)
        {
            return;
        }
        var choice = BeaconDriverFactory.Create(_options, _clock, _logger, _listChips);
        try
        {
            _gpio = Open(choice.Driver);
        }
        catch (Exception ex) when (!choice.Simulated)
        {
            // Pins busy or beyond the chip: keep the state visible on the simulated driver and say so in /healthz.
            AlertLog.BeaconDriverFailed(_logger, choice.Name, ex);
            choice = new BeaconDriverChoice(new SimulatedGpioDriver(_clock, history: _options.SimulatedHistory),
                BeaconOptions.Simulated, $"{choice.Name} could not open the beacon pins: {ex.Message}", true);
            _gpio = Open(choice.Driver);
        }
        _choice = choice;
        if (choice.Simulated)
        {
            AlertLog.BeaconSimulated(_logger, choice.Reason ?? "simulated");
        }
        else
        {
            AlertLog.BeaconHardware(_logger, _options.Chip, choice.Name,
                string.Join(",", _options.LightPins.Select(p => p.ToString(CultureInfo.InvariantCulture))), _options.BuzzerPin);
        }
    }

    private GpioController Open(GpioDriver driver)
    {
        var controller = new GpioController(driver);
        try
        {
            foreach (var (pin, _) in Outputs())
            {
                controller.OpenPin(pin, PinMode.Output, OffValue);
            }
            return controller;
        }
        catch
        {
            controller.Dispose();
            throw;
        }
    }

    /// <summary>Called under the lock.</summary>
    private void SwitchTo(AlertSeverity? severity)
    {
        _blinking?.Cancel();
        _blinking?.Dispose();
        _blinking = null;
        _blinkers.RemoveAll(t => t.IsCompleted);
        _generation++;
        _severity = severity;
        _since = _clock.GetUtcNow();
        if (_gpio is null)
        {
            return;
        }

        var plan = Plan(severity);
        foreach (var (pin, pattern) in plan)
        {
            WritePin(pin, pattern.IsLitAtStart);
        }
        var blinking = plan.Where(p => p.Pattern.Kind == BeaconPatternKind.Blink).ToList();
        if (blinking.Count > 0)
        {
            _blinking = new CancellationTokenSource();
            var token = _blinking.Token;
            var generation = _generation;
            var start = _since.Value;
            foreach (var (pin, pattern) in blinking)
            {
                _blinkers.Add(Task.Run(() => BlinkAsync(pin, pattern, start, generation, token), CancellationToken.None));
            }
        }
        AlertLog.BeaconState(_logger, severity?.ToWire() ?? "off");
    }

    private List<(int Pin, BeaconPattern Pattern)> Plan(AlertSeverity? severity)
    {
        var plan = new List<(int, BeaconPattern)>();
        var patterns = severity is { } s ? _options.Patterns.For(s) : null;
        var light = patterns is null ? BeaconPattern.Dark : BeaconPattern.Parse(patterns.Light);
        foreach (var pin in _options.LightPins)
        {
            var used = patterns is not null && (patterns.LightPins.Count == 0 || patterns.LightPins.Contains(pin));
            plan.Add((pin, used ? light : BeaconPattern.Dark));
        }
        if (BuzzerPin is { } buzzer)
        {
            plan.Add((buzzer, patterns is null ? BeaconPattern.Dark : BeaconPattern.Parse(patterns.Buzzer)));
        }
        return plan;
    }

    private async Task BlinkAsync(int pin, BeaconPattern pattern, DateTimeOffset start, int generation, CancellationToken token)
    {
        // Phases are scheduled from the start time so the blink does not drift with scheduling delays.
        var lit = true;
        var due = start;
        try
        {
            while (!token.IsCancellationRequested)
            {
                due += lit ? pattern.On : pattern.Off;
                var wait = due - _clock.GetUtcNow();
                if (wait < -(pattern.On + pattern.Off))
                {
                    // Stalled for more than a whole period (a suspended VM): restart the phase rather than flicker.
                    due = _clock.GetUtcNow();
                }
                else if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, _clock, token).ConfigureAwait(false);
                }
                lock (_gate)
                {
                    if (generation != _generation || token.IsCancellationRequested)
                    {
                        return;
                    }
                    lit = !lit;
                    WritePin(pin, lit);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The beacon moved to another state.
        }
    }

    /// <summary>Called under the lock.</summary>
    private void WritePin(int pin, bool on)
    {
        try
        {
            _gpio!.Write(pin, on ? OnValue : OffValue);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            _writeErrors++;
            _lastWriteError = $"pin {pin}: {ex.Message}";
            AlertLog.BeaconWriteFailed(_logger, pin, ex);
        }
    }
}

public sealed record BeaconSnapshot(
    string Driver,
    bool Simulated,
    string? Reason,
    bool Healthy,
    int Chip,
    bool ActiveLow,
    string State,
    DateTimeOffset? SinceUtc,
    string Light,
    string Buzzer,
    IReadOnlyList<BeaconPinDto> Pins,
    long WriteErrors,
    string? LastWriteError,
    IReadOnlyList<PinChangeDto>? Changes,
    long? DroppedChanges);

/// <summary>An output pin; <see cref="On"/> is known only on the simulated driver (real outputs are not read back).</summary>
public sealed record BeaconPinDto(int Pin, string Role, bool? On);

public sealed record PinChangeDto(DateTimeOffset Utc, int Pin, string Role, string Value, bool On);
