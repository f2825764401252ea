using System.Device.Gpio;
using MedVision.Dicom;
using MedVision.Edge.Alerts;
using MedVision.Edge.Alerts.Beacon;
using MedVision.Edge.Storage;
using MedVision.Edge.Tests.EndToEnd;
using MedVision.Edge.Tests.Inference;
using MedVision.Testing;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Tests.Alerts;

/// <summary>The alerting pieces on their own: rules, quiet hours, signed links, configuration checks, the beacon.</summary>
public sealed class AlertComponentTests
{
    private static FindingRecord Finding(double probability, bool positive, string label = "pneumonia", string model = "cxr-pneumonia") =>
        new("1.2.3", "1.2.3.4", model, "1.0.0", "sha", label, probability, 0.46, positive, "CPU", 1.0, DateTimeOffset.UtcNow);

    private static IOptions<AlertOptions> Configure(Action<AlertOptions>? change = null)
    {
        var options = new AlertOptions();
        change?.Invoke(options);
        new AlertOptionsSetup().PostConfigure(null, options);
        return Options.Create(options);
    }

    [Fact]
    public void Rules_fire_on_the_decision_or_a_probability_and_the_first_match_wins()
    {
        var evaluator = new AlertRuleEvaluator(Configure(o =>
        {
            o.Rules.Add(new AlertRuleOptions { Name = "stat", Label = "pneumonia", Priorities = ["STAT"], Severity = AlertSeverity.Critical });
            o.Rules.Add(new AlertRuleOptions { Name = "sure", MinProbability = 0.9, Modalities = ["CR", "DX"], Severity = AlertSeverity.High });
            o.Rules.Add(new AlertRuleOptions { Name = "any", ModelId = "cxr-pneumonia", Severity = AlertSeverity.Normal });
        }));
        var priorityReads = 0;
        FindingContext Context(string? modality, string? priority) => new(modality, () =>
        {
            priorityReads++;
            return priority;
        });

        Assert.Equal("stat", evaluator.Match(Finding(0.5, true), Context("CR", "STAT"))?.Name);
        Assert.Equal("sure", evaluator.Match(Finding(0.95, true), Context("DX", "ROUTINE"))?.Name);
        Assert.Equal("sure", evaluator.Match(Finding(0.95, false), Context("CR", null))?.Name); // probability rule ignores the decision
        Assert.Equal("any", evaluator.Match(Finding(0.95, true), Context("CT", null))?.Name);
        Assert.Equal("any", evaluator.Match(Finding(0.5, true), Context("CR", "stat-ish"))?.Name);
        Assert.Null(evaluator.Match(Finding(0.3, false), Context("CR", "STAT")));
        Assert.Null(evaluator.Match(Finding(0.95, true, model: "other"), Context("CT", null)));

        priorityReads = 0;
        evaluator.Match(Finding(0.3, false), Context("CR", "STAT"));
        Assert.Equal(0, priorityReads); // a negative finding never reads the file
    }

    [Fact]
    public void Quiet_hours_wrap_midnight_and_never_hold_a_critical_alert()
    {
        var policy = new QuietHoursPolicy(Configure(o =>
        {
            o.QuietHours.Start = "22:00";
            o.QuietHours.End = "07:00";
            o.QuietHours.TimeZone = "UTC";
            o.QuietHours.DeferSeverities.AddRange([AlertSeverity.Normal, AlertSeverity.High]);
        }));
        var night = new DateTimeOffset(2025, 3, 1, 23, 30, 0, TimeSpan.Zero);
        var morning = new DateTimeOffset(2025, 3, 2, 6, 59, 0, TimeSpan.Zero);
        var day = new DateTimeOffset(2025, 3, 2, 7, 0, 0, TimeSpan.Zero);

        Assert.True(policy.Defers(AlertSeverity.Normal, night));
        Assert.True(policy.Defers(AlertSeverity.High, morning));
        Assert.False(policy.Defers(AlertSeverity.Normal, day));
        Assert.False(policy.Defers(AlertSeverity.Critical, night));
        Assert.False(new QuietHoursPolicy(Configure()).Defers(AlertSeverity.Normal, night)); // off unless configured
    }

    [Fact]
    public async Task Invalid_alert_configuration_stops_start_up_with_every_error()
    {
        using var data = new TempDirectory("medvision-edge");
        var app = EdgeApp.Build(
        [
            $"--MedVision:Storage:Root={data.Path}",
            "--MedVision:Dicom:Port=0",
            "--urls=http://127.0.0.1:0",
            "--MedVision:Alerts:Rules:0:Name=a",
            "--MedVision:Alerts:Rules:0:MinProbability=1.5",
            "--MedVision:Alerts:Rules:1:Name=a",
            "--MedVision:Alerts:QuietHours:Start=22:00",
            "--MedVision:Alerts:QuietHours:End=07:00",
            "--MedVision:Alerts:QuietHours:DeferSeverities:0=critical",
            "--MedVision:Alerts:Beacon:Driver=gpio-magic",
            "--MedVision:Alerts:Beacon:Patterns:Critical:Light=blink:5",
            "--MedVision:Alerts:Recipients:dr-a:Channel=email",
            "--MedVision:Alerts:Recipients:dr-a:Address=not-an-address",
            "--MedVision:Alerts:Routing:Critical:Steps:0=nobody",
        ]);
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());
        await app.DisposeAsync();
        var message = string.Join("\n", error.Failures);
        Assert.Contains("MinProbability must be 0-1", message, StringComparison.Ordinal);
        Assert.Contains("'a' is used by another rule", message, StringComparison.Ordinal);
        Assert.Contains("critical alerts are never suppressed", message, StringComparison.Ordinal);
        Assert.Contains("Driver 'gpio-magic'", message, StringComparison.Ordinal);
        Assert.Contains("at least 20 ms", message, StringComparison.Ordinal);
        Assert.Contains("'not-an-address' is not an e-mail address", message, StringComparison.Ordinal);
        Assert.Contains("'nobody' is neither a recipient nor a group", message, StringComparison.Ordinal);
        Assert.Contains("Smtp:Host must be set", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ack_links_are_signed_persist_their_key_and_refuse_tampering_and_expiry()
    {
        using var root = new TempDirectory();
        var storage = Options.Create(new StorageOptions { Root = root.Path });
        var options = Configure(o => o.Ack.PublicBaseUrl = "https://edge01.hospital.test:8443");
        var clock = new ManualClock(new DateTimeOffset(2025, 1, 1, 12, 0, 0, TimeSpan.Zero));
        var key = new AckSigningKey(options, storage, NullLogger<AckSigningKey>.Instance);
        var links = new AckLinks(key, options, new NoServer(), clock);

        var link = new Uri(links.Create(42, "dr-a"));
        Assert.Equal("https://edge01.hospital.test:8443/api/alerts/42/ack", link.GetLeftPart(UriPartial.Path));
        var query = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(link.Query);
        var exp = long.Parse(query["exp"]!, System.Globalization.CultureInfo.InvariantCulture);
        var sig = query["sig"].ToString();
        Assert.Equal(clock.GetUtcNow().AddHours(24).ToUnixTimeSeconds(), exp);

        Assert.Null(links.Check(42, "dr-a", exp, sig));
        Assert.Equal("the signature does not match", links.Check(43, "dr-a", exp, sig));
        Assert.Equal("the signature does not match", links.Check(42, "dr-b", exp, sig));
        Assert.Equal("the signature does not match", links.Check(42, "dr-a", exp + 3600, sig));
        Assert.Equal("the signature is not base64url", links.Check(42, "dr-a", exp, "***"));
        Assert.NotNull(links.Check(42, null, exp, sig));

        // The generated key is private to the service and survives a restart: an old link still verifies.
        var keyFile = Path.Combine(root.Path, "alerts", "ack-signing.key");
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        }
        var restarted = new AckLinks(new AckSigningKey(options, storage, NullLogger<AckSigningKey>.Instance), options, new NoServer(), clock);
        Assert.Null(restarted.Check(42, "dr-a", exp, sig));

        clock.Advance(TimeSpan.FromHours(24) + TimeSpan.FromSeconds(1));
        Assert.Equal("the link has expired", links.Check(42, "dr-a", exp, sig));

        // A configured key replaces the generated one, so links from before no longer verify.
        var configured = Configure(o => o.Ack.SigningKey = Convert.ToBase64String(new byte[32]));
        var other = new AckLinks(new AckSigningKey(configured, storage, NullLogger<AckSigningKey>.Instance), configured, new NoServer(), clock);
        Assert.Equal("the signature does not match", other.Check(42, "dr-a", exp, sig));
    }

    [Theory]
    [InlineData("off", "off")]
    [InlineData("steady", "steady")]
    [InlineData("blink:250", "blink:250/250")]
    [InlineData(" Blink:100/900 ", "blink:100/900")]
    public void Beacon_patterns_parse(string text, string canonical) => Assert.Equal(canonical, BeaconPattern.Parse(text).ToString());

    [Theory]
    [InlineData("blink:10")]
    [InlineData("blink:")]
    [InlineData("blink:100/200/300")]
    [InlineData("strobe")]
    public void Bad_beacon_patterns_are_refused(string text) => Assert.False(BeaconPattern.TryParse(text, out _, out _));

    [Fact]
    public void Simulated_driver_behaves_like_a_gpio_chip_and_records_changes()
    {
        var clock = new ManualClock(DateTimeOffset.UnixEpoch);
        var driver = new SimulatedGpioDriver(clock, pinCount: 32, history: 10);
        using var gpio = new GpioController(driver);
        var rising = 0;
        gpio.OpenPin(5, PinMode.Output, PinValue.Low);
        gpio.RegisterCallbackForPinValueChangedEvent(5, PinEventTypes.Rising, (_, _) => rising++);

        gpio.Write(5, PinValue.High);
        clock.Advance(TimeSpan.FromMilliseconds(250));
        gpio.Write(5, PinValue.High); // no change, nothing recorded
        gpio.Write(5, PinValue.Low);
        for (var i = 0; i < 12; i++)
        {
            gpio.Toggle(5);
        }

        Assert.Equal(PinValue.Low, gpio.Read(5));
        Assert.Equal(7, rising);
        var changes = driver.Changes();
        Assert.Equal(10, changes.Count);
        Assert.Equal(4, driver.DroppedChanges);
        Assert.Throws<ArgumentOutOfRangeException>(() => gpio.OpenPin(40, PinMode.Output));
        gpio.OpenPin(6, PinMode.Input);
        Assert.Equal(PinMode.Input, gpio.GetPinMode(6));
        Assert.Equal(PinValue.Low, gpio.Read(6));
        Assert.All(changes, c => Assert.Equal(5, c.Pin));
    }

    [Fact]
    public async Task Beacon_shows_the_severity_pattern_honours_active_low_and_goes_dark()
    {
        var options = Configure(o =>
        {
            o.Beacon.Driver = "simulated";
            o.Beacon.LightPins.AddRange([17, 22]);
            o.Beacon.BuzzerPin = 27;
            o.Beacon.ActiveLow = true;
            o.Beacon.Patterns.Critical = new SeverityPatternOptions { Light = "steady", Buzzer = "blink:50", LightPins = [22] };
            o.Beacon.Patterns.Normal = new SeverityPatternOptions { Light = "steady", Buzzer = "off" };
        });
        using var beacon = new BeaconController(options, TimeProvider.System, NullLogger<BeaconController>.Instance);
        await beacon.StartAsync(CancellationToken.None);

        // Active-low: outputs idle high.
        var idle = beacon.Snapshot(100);
        Assert.All(idle.Pins, p => Assert.False(p.On));
        Assert.All(idle.Changes!, c => Assert.Equal("high", c.Value));

        var since = beacon.Show(AlertSeverity.Critical);
        Assert.NotNull(since);
        Assert.Equal(since, beacon.Show(AlertSeverity.Critical)); // same state: nothing restarts
        // Polled rather than slept: on a loaded machine a fixed sleep can end inside a stall and see too few phases.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (beacon.Snapshot(1000).Changes!.Count(c => c.Pin == 27 && c.Utc >= since) < 8 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        var critical = beacon.Snapshot(1000);
        Assert.Equal("critical", critical.State);
        var red = Assert.Single(critical.Changes!, c => c.Pin == 22 && c.Utc >= since); // steady: one change, to on
        Assert.True(red.On);
        Assert.Equal("low", red.Value);
        Assert.DoesNotContain(critical.Changes!, c => c.Pin == 17 && c.On); // critical uses the red lamp only
        var buzzer = critical.Changes!.Where(c => c.Pin == 27 && c.Utc >= since).ToList();
        Assert.Equal("low", buzzer[0].Value);
        AlertScenario.AssertBlinks(buzzer.Select(c => (c.Utc, c.On == true)).ToList(), phaseMs: 50, minChanges: 8);

        beacon.Show(AlertSeverity.Normal);
        var normal = beacon.Snapshot(0);
        Assert.Equal([true, true, false], normal.Pins.Select(p => p.On == true));

        Assert.Null(beacon.Show(null));
        await Task.Delay(150);
        var dark = beacon.Snapshot(1000);
        Assert.Equal("off", dark.State);
        Assert.All(dark.Pins, p => Assert.False(p.On));
        var count = dark.Changes!.Count;
        await Task.Delay(150);
        Assert.Equal(count, beacon.Snapshot(1000).Changes!.Count); // the blink loop has stopped
        await beacon.StopAsync(CancellationToken.None);
    }

    [Fact]
    public void Auto_uses_the_simulated_driver_without_a_chip_and_reports_a_chip_it_cannot_drive()
    {
        var logs = new CapturingLoggerProvider();
        var options = new BeaconOptions();
        var none = BeaconDriverFactory.Create(options, TimeProvider.System, logs.CreateLogger<BeaconController>(), () => []);
        Assert.True(none.Simulated);
        Assert.False(none.Degraded);
        Assert.Contains("/dev/gpiochip", none.Reason, StringComparison.Ordinal);

        // A chip number that does not exist here: libgpiod (or its absence) refuses it and the beacon says so.
        options.Chip = 99;
        var broken = BeaconDriverFactory.Create(options, TimeProvider.System, logs.CreateLogger<BeaconController>(), () => ["/dev/gpiochip99"]);
        Assert.True(broken.Simulated);
        Assert.True(broken.Degraded);
        Assert.Contains("/dev/gpiochip99", broken.Reason, StringComparison.Ordinal);
        Assert.Contains(logs.Entries, e => e.EventId.Id == 4032);
    }

    [Fact]
    public void Study_priority_is_read_from_the_request_attributes()
    {
        using var files = new TempDirectory();
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        var (path, studyUid, sop) = ChestXrayDicom.Create(files.Path, images.Image(0), scale: 1);
        var instance = new PendingInstance(sop, studyUid, "CR", "1.2.840.10008.5.1.4.1.1.1", path, DateTimeOffset.UtcNow);
        Assert.Null(FindingsAlertListener.ReadPriority(instance, NullLogger.Instance));

        var file = DicomFile.Open(path);
        var request = new DicomDataset().AddOrUpdate(new DicomTag(0x0040, 0x1003), DicomVR.SH, "stat ");
        file.Dataset.AddOrUpdate(new DicomSequence(new DicomTag(0x0040, 0x0275), [request]));
        file.Save(path);
        Assert.Equal("STAT", FindingsAlertListener.ReadPriority(instance, NullLogger.Instance));

        var missing = instance with { SpoolPath = files.Combine("gone.dcm") };
        Assert.Null(FindingsAlertListener.ReadPriority(missing, NullLogger.Instance));
    }

    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        private DateTimeOffset _now = start;

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }

    private sealed class NoServer : IServer
    {
        public IFeatureCollection Features { get; } = new FeatureCollection();

        public void Dispose()
        {
        }

        public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
            where TContext : notnull => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
