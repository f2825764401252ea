using System.Device.Gpio;

namespace MedVision.Edge.Alerts.Beacon;

/// <summary>One recorded output change of the simulated driver.</summary>
public sealed record PinChange(DateTimeOffset Utc, int Pin, PinValue Value);

/// <summary>
/// A <see cref="GpioDriver"/> without hardware: pins behave like real ones (mode, value, change callbacks) and every
/// change of an output's value is recorded with its time, so the beacon's pattern can be checked from the API and in
/// tests. The beacon falls back to it when no GPIO chip exists.
/// </summary>
public sealed class SimulatedGpioDriver : GpioDriver
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _clock;
    private readonly int _pinCount;
    private readonly int _history;
    private readonly Dictionary<int, SimulatedPin> _pins = [];
    private readonly Queue<PinChange> _changes = new();
    private long _dropped;

    public SimulatedGpioDriver(TimeProvider clock, int pinCount = 256, int history = 10_000)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pinCount);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(history);
        _clock = clock;
        _pinCount = pinCount;
        _history = history;
    }

    /// <summary>Changes dropped because the history was full (oldest first).</summary>
    public long DroppedChanges
    {
        get
        {
            lock (_gate)
            {
                return _dropped;
            }
        }
    }

    /// <summary>Recorded output changes, oldest first; the last <paramref name="max"/> of them.</summary>
    public IReadOnlyList<PinChange> Changes(int max = int.MaxValue)
    {
        lock (_gate)
        {
            return _changes.Skip(Math.Max(0, _changes.Count - max)).ToList();
        }
    }

    /// <summary>Current value of an open pin.</summary>
    public PinValue ValueOf(int pin)
    {
        lock (_gate)
        {
            return Get(pin).Value;
        }
    }

    protected override int PinCount => _pinCount;

    protected override void OpenPin(int pinNumber)
    {
        if (pinNumber < 0 || pinNumber >= _pinCount)
        {
            throw new ArgumentOutOfRangeException(nameof(pinNumber), pinNumber, $"The simulated chip has pins 0-{_pinCount - 1}.");
        }
        lock (_gate)
        {
            _pins.TryAdd(pinNumber, new SimulatedPin());
        }
    }

    protected override void ClosePin(int pinNumber)
    {
        lock (_gate)
        {
            _pins.Remove(pinNumber);
        }
    }

    protected override void SetPinMode(int pinNumber, PinMode mode)
    {
        lock (_gate)
        {
            Get(pinNumber).Mode = mode;
        }
    }

    protected override void SetPinMode(int pinNumber, PinMode mode, PinValue initialValue)
    {
        SetPinMode(pinNumber, mode);
        if (mode == PinMode.Output)
        {
            Write(pinNumber, initialValue);
        }
    }

    protected override PinMode GetPinMode(int pinNumber)
    {
        lock (_gate)
        {
            return Get(pinNumber).Mode;
        }
    }

    protected override bool IsPinModeSupported(int pinNumber, PinMode mode) => mode is PinMode.Input or PinMode.Output;

    protected override PinValue Read(int pinNumber)
    {
        lock (_gate)
        {
            return Get(pinNumber).Value;
        }
    }

    protected override void Toggle(int pinNumber)
    {
        PinValue current;
        lock (_gate)
        {
            current = Get(pinNumber).Value;
        }
        Write(pinNumber, current == PinValue.High ? PinValue.Low : PinValue.High);
    }

    protected override void Write(int pinNumber, PinValue value)
    {
        List<PinChangeEventHandler> handlers;
        PinEventTypes edge;
        lock (_gate)
        {
            var pin = Get(pinNumber);
            if (pin.Mode != PinMode.Output)
            {
                throw new InvalidOperationException($"Pin {pinNumber} is not an output.");
            }
            if (pin.Value == value)
            {
                return;
            }
            pin.Value = value;
            if (_changes.Count == _history)
            {
                _changes.Dequeue();
                _dropped++;
            }
            _changes.Enqueue(new PinChange(_clock.GetUtcNow(), pinNumber, value));
            edge = value == PinValue.High ? PinEventTypes.Rising : PinEventTypes.Falling;
            handlers = pin.Callbacks.Where(c => (c.Events & edge) != 0).Select(c => c.Handler).ToList();
        }
        // Outside the lock: a handler may read the pin.
        foreach (var handler in handlers)
        {
            handler(this, new PinValueChangedEventArgs(edge, pinNumber));
        }
    }

    protected override WaitForEventResult WaitForEvent(int pinNumber, PinEventTypes eventTypes, CancellationToken cancellationToken)
    {
        using var changed = new ManualResetEventSlim();
        PinEventTypes seen = PinEventTypes.None;
        void OnChange(object sender, PinValueChangedEventArgs args)
        {
            seen = args.ChangeType;
            changed.Set();
        }
        AddCallbackForPinValueChangedEvent(pinNumber, eventTypes, OnChange);
        try
        {
            changed.Wait(cancellationToken);
            return new WaitForEventResult { EventTypes = seen, TimedOut = false };
        }
        catch (OperationCanceledException)
        {
            return new WaitForEventResult { EventTypes = PinEventTypes.None, TimedOut = true };
        }
        finally
        {
            RemoveCallbackForPinValueChangedEvent(pinNumber, OnChange);
        }
    }

    protected override void AddCallbackForPinValueChangedEvent(int pinNumber, PinEventTypes eventTypes, PinChangeEventHandler callback)
    {
        lock (_gate)
        {
            Get(pinNumber).Callbacks.Add((eventTypes, callback));
        }
    }

    protected override void RemoveCallbackForPinValueChangedEvent(int pinNumber, PinChangeEventHandler callback)
    {
        lock (_gate)
        {
            Get(pinNumber).Callbacks.RemoveAll(c => c.Handler == callback);
        }
    }

    public override GpioChipInfo GetChipInfo() => new(0, "simulated", "MedVision simulated GPIO", _pinCount);

    private SimulatedPin Get(int pinNumber) =>
        _pins.TryGetValue(pinNumber, out var pin) ? pin : throw new InvalidOperationException($"Pin {pinNumber} is not open.");

    private sealed class SimulatedPin
    {
        public PinMode Mode { get; set; } = PinMode.Input;

        public PinValue Value { get; set; } = PinValue.Low;

        public List<(PinEventTypes Events, PinChangeEventHandler Handler)> Callbacks { get; } = [];
    }
}
