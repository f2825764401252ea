using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using MedVision.Edge.Inference;
using MedVision.Edge.Tests.EndToEnd;
using MedVision.Testing;

namespace MedVision.Edge.Tests.Alerts;

/// <summary>Shared pieces of the alert end-to-end tests: configuration, chest X-rays that score high or low, storescu.</summary>
internal static partial class AlertScenario
{
    public const string DrA = "dr-a@hospital.test";
    public const string DrB = "dr-b@hospital.test";
    public const int LightPin = 17;
    public const int BuzzerPin = 27;
    public const int LightBlinkMs = 100;
    public const int BuzzerBlinkMs = 300;

    private static readonly Lazy<ModelManifest> Manifest = new(() =>
        ModelManifest.Parse(File.ReadAllBytes(Path.Combine(RepoPaths.PneumoniaPackage, "manifest.json"))));

    private static readonly Lazy<NpyArray> Images = new(() => Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images"));

    public static double Threshold => Manifest.Value.Labels[0].Threshold;

    /// <summary>The golden test image the model is surest shows pneumonia.</summary>
    public static GoldenSample ClearlyPositive => Manifest.Value.Golden!.MaxBy(g => g.Probability)!;

    /// <summary>The golden test image the model is surest does not.</summary>
    public static GoldenSample ClearlyNegative => Manifest.Value.Golden!.Where(g => g.Probability < Threshold).MinBy(g => g.Probability)!;

    /// <summary>Critical alerts on pneumonia, paged by e-mail to dr-a then dr-b, on the simulated beacon.</summary>
    public static string[] Args(int smtpPort, double escalateAfterSeconds = 60, params string[] extra) =>
    [
        "--MedVision:Alerts:Rules:0:Name=pneumonia-critical",
        "--MedVision:Alerts:Rules:0:Label=pneumonia",
        "--MedVision:Alerts:Rules:0:Severity=critical",
        "--MedVision:Alerts:Recipients:dr-a:Channel=email",
        "--MedVision:Alerts:Recipients:dr-a:Address=" + DrA,
        "--MedVision:Alerts:Recipients:dr-b:Channel=email",
        "--MedVision:Alerts:Recipients:dr-b:Address=" + DrB,
        "--MedVision:Alerts:Routing:Critical:Steps:0=dr-a",
        "--MedVision:Alerts:Routing:Critical:Steps:1=dr-b",
        "--MedVision:Alerts:Routing:Critical:EscalateAfterSeconds=" + escalateAfterSeconds.ToString(CultureInfo.InvariantCulture),
        "--MedVision:Alerts:Smtp:Host=127.0.0.1",
        "--MedVision:Alerts:Smtp:Port=" + smtpPort.ToString(CultureInfo.InvariantCulture),
        "--MedVision:Alerts:Smtp:Security=None",
        "--MedVision:Alerts:Beacon:Driver=simulated",
        "--MedVision:Alerts:Beacon:LightPins:0=" + LightPin.ToString(CultureInfo.InvariantCulture),
        "--MedVision:Alerts:Beacon:BuzzerPin=" + BuzzerPin.ToString(CultureInfo.InvariantCulture),
        $"--MedVision:Alerts:Beacon:Patterns:Critical:Light=blink:{LightBlinkMs}",
        $"--MedVision:Alerts:Beacon:Patterns:Critical:Buzzer=blink:{BuzzerBlinkMs}",
        .. extra,
    ];

    /// <summary>Makes a CR study of one golden image and sends it with dcmtk's storescu; returns the Study Instance UID.</summary>
    public static async Task<string> SendAsync(RunningAppliance appliance, GoldenSample sample, TempDirectory files, string modality = "CR")
    {
        // Scale 1: the appliance sees exactly the pixels the golden probability was computed from.
        var (path, studyUid, _) = ChestXrayDicom.Create(files.Path, Images.Value.Image(sample.Index), scale: 1, modality: modality);
        var store = await ExternalTool.RunAsync("storescu", ["-aec", "MEDVISION", "127.0.0.1", appliance.DicomPortText, path]);
        Assert.True(store.ExitCode == 0, store.Combined);
        return studyUid;
    }

    /// <summary>Polls <c>GET /api/alerts?study=</c> until the study's one alert satisfies <paramref name="predicate"/>.</summary>
    public static async Task<JsonElement> WaitForAlertAsync(RunningAppliance appliance, string studyUid, Func<JsonElement, bool> predicate, TimeSpan timeout)
    {
        var alerts = await appliance.WaitForAsync($"/api/alerts?study={studyUid}", a => a.GetArrayLength() == 1 && predicate(a[0]), timeout);
        return alerts[0];
    }

    /// <summary>The acknowledgement link in a page's text.</summary>
    public static Uri AckLink(string? body) => new(AckLinkPattern().Match(body ?? "") is { Success: true } m
        ? m.Value
        : throw new Xunit.Sdk.XunitException("No acknowledgement link in the page:\n" + body));

    /// <summary>(time, on) of each recorded change of one pin.</summary>
    public static List<(DateTimeOffset Utc, bool On)> PinChanges(JsonElement beacon, int pin) =>
        beacon.GetProperty("changes").EnumerateArray()
            .Where(c => c.GetProperty("pin").GetInt32() == pin)
            .Select(c => (c.GetProperty("utc").GetDateTimeOffset(), c.GetProperty("on").GetBoolean()))
            .ToList();

    /// <summary>
    /// The pin lit first, then alternated, a typical phase lasting <paramref name="phaseMs"/>. The blink is scheduled
    /// from its start, so on average it never runs fast; a stall of the machine (2 shared cores) stretches the phase it
    /// falls in, and the beacon then restarts its rhythm rather than flicker to catch up. So the typical phase is the
    /// median, which one stall does not move. Returns it.
    /// </summary>
    public static double AssertBlinks(List<(DateTimeOffset Utc, bool On)> changes, int phaseMs, int minChanges)
    {
        Assert.True(changes.Count >= minChanges, $"only {changes.Count} change(s) recorded");
        Assert.True(changes[0].On, "the beacon must light first");
        for (var i = 1; i < changes.Count; i++)
        {
            Assert.NotEqual(changes[i - 1].On, changes[i].On);
        }
        var phases = changes.Zip(changes.Skip(1), (a, b) => (b.Utc - a.Utc).TotalMilliseconds).Order().ToList();
        var median = phases[phases.Count / 2];
        var mean = phases.Average();
        var all = string.Join(", ", phases.Select(p => p.ToString("F0", CultureInfo.InvariantCulture)));
        Assert.True(mean >= phaseMs * 0.8, $"blinks faster than {phaseMs} ms on average: {all} ms");
        Assert.True(median >= phaseMs * 0.8 && median <= phaseMs * 2.0, $"typical phase {median:F0} ms, configured {phaseMs} ms: {all} ms");
        return median;
    }

    [GeneratedRegex(@"https?://\S+/api/alerts/\d+/ack\?\S+")]
    private static partial Regex AckLinkPattern();
}
