using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MedVision.Edge.Tests.EndToEnd;
using MedVision.Testing;

namespace MedVision.Edge.Tests.Alerts;

/// <summary>
/// Critical-finding alerting end to end: dcmtk's storescu sends a chest X-ray, the shipped model scores it, the alert
/// lights the simulated beacon and pages through a real SMTP server (aiosmtpd) on loopback.
/// </summary>
public sealed class AlertEndToEndTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Positive_study_lights_the_beacon_and_pages_the_first_recipient()
    {
        await using var smtp = await SmtpSink.StartAsync();
        await using var appliance = await RunningAppliance.StartAsync(AlertScenario.Args(smtp.Port));
        using var files = new TempDirectory();
        var sample = AlertScenario.ClearlyPositive;

        var studyUid = await AlertScenario.SendAsync(appliance, sample, files);

        var alert = await AlertScenario.WaitForAlertAsync(appliance, studyUid,
            a => a.GetProperty("deliveries").EnumerateArray().Any(d => d.GetProperty("state").GetString() == "sent"), Timeout);
        Assert.Equal("active", alert.GetProperty("state").GetString());
        Assert.Equal("critical", alert.GetProperty("severity").GetString());
        Assert.Equal("pneumonia-critical", alert.GetProperty("rule").GetString());
        Assert.Equal("CR", alert.GetProperty("modality").GetString());
        var finding = alert.GetProperty("finding");
        Assert.Equal("pneumonia", finding.GetProperty("label").GetString());
        Assert.InRange(finding.GetProperty("probability").GetDouble(), sample.Probability - 1e-4, sample.Probability + 1e-4);
        var delivery = alert.GetProperty("deliveries").EnumerateArray().Single();
        Assert.Equal("dr-a", delivery.GetProperty("recipient").GetString());
        Assert.Equal(0, delivery.GetProperty("step").GetInt32());

        // Time to alert: from the study's last instance and from the finding, to the beacon and to the first page.
        var time = alert.GetProperty("timeToAlert");
        var studyToBeacon = time.GetProperty("studyToBeaconMs").GetDouble();
        var findingToBeacon = time.GetProperty("findingToBeaconMs").GetDouble();
        var studyToPage = time.GetProperty("studyToFirstPageMs").GetDouble();
        Assert.InRange(studyToBeacon, 0, 10_000);
        Assert.InRange(findingToBeacon, 0, studyToBeacon);
        Assert.InRange(studyToPage, 0, 10_000);
        Assert.InRange(time.GetProperty("findingToFirstPageMs").GetDouble(), 0, studyToPage);

        var mail = await smtp.WaitForMessageToAsync(AlertScenario.DrA, Timeout);
        Assert.StartsWith("[CRITICAL] MedVision alert #" + alert.GetProperty("id").GetInt64(), mail.Subject, StringComparison.Ordinal);
        Assert.Contains(studyUid, mail.TextBody, StringComparison.Ordinal);
        var link = AlertScenario.AckLink(mail.TextBody);
        Assert.Contains("by=dr-a", link.Query, StringComparison.Ordinal);
        Assert.Empty(smtp.MessagesTo(AlertScenario.DrB));

        // The beacon blinks the critical pattern: the light at 100 ms, the buzzer at 300 ms.
        var beacon = await appliance.WaitForAsync("/api/beacon",
            b => AlertScenario.PinChanges(b, AlertScenario.LightPin).Count >= 10 && AlertScenario.PinChanges(b, AlertScenario.BuzzerPin).Count >= 5, Timeout);
        Assert.Equal("critical", beacon.GetProperty("state").GetString());
        Assert.True(beacon.GetProperty("simulated").GetBoolean());
        var light = AlertScenario.AssertBlinks(AlertScenario.PinChanges(beacon, AlertScenario.LightPin), AlertScenario.LightBlinkMs, minChanges: 10);
        var buzzer = AlertScenario.AssertBlinks(AlertScenario.PinChanges(beacon, AlertScenario.BuzzerPin), AlertScenario.BuzzerBlinkMs, minChanges: 5);
        Assert.True(buzzer > light * 1.5, $"buzzer phase {buzzer:F0} ms should be about 3x the light's {light:F0} ms");
        var litAt = AlertScenario.PinChanges(beacon, AlertScenario.LightPin)[0].Utc;
        Assert.InRange((alert.GetProperty("beaconOnUtc").GetDateTimeOffset() - litAt).TotalMilliseconds, 0, 1000);

        // The first page's time is counted just after its delivery is recorded as sent, which the wait above saw.
        var health = await appliance.WaitForAsync("/healthz",
            h => h.GetProperty("alerts").GetProperty("timeToAlert").GetProperty("studyToFirstPage").GetProperty("count").GetInt64() > 0, Timeout);
        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.True(health.GetProperty("beacon").GetProperty("simulated").GetBoolean());
        var alertsHealth = health.GetProperty("alerts");
        Assert.Equal(1, alertsHealth.GetProperty("active").GetInt32());
        Assert.Equal(1, alertsHealth.GetProperty("timeToAlert").GetProperty("studyToBeacon").GetProperty("count").GetInt64());
        Assert.Equal(1, alertsHealth.GetProperty("timeToAlert").GetProperty("studyToFirstPage").GetProperty("count").GetInt64());
    }

    [Fact]
    public async Task Below_threshold_study_raises_nothing()
    {
        await using var smtp = await SmtpSink.StartAsync();
        await using var appliance = await RunningAppliance.StartAsync(AlertScenario.Args(smtp.Port));
        using var files = new TempDirectory();

        var studyUid = await AlertScenario.SendAsync(appliance, AlertScenario.ClearlyNegative, files);

        var findings = await appliance.WaitForAsync($"/api/findings?study={studyUid}", f => f.GetArrayLength() == 1, Timeout);
        Assert.False(findings[0].GetProperty("positive").GetBoolean());
        // The listener runs before the instance is marked processed; once the study is processed it has had its say.
        await appliance.WaitForAsync($"/api/studies/{studyUid}", s => s.GetProperty("status").GetString() == "processed", Timeout);
        await Task.Delay(500);
        Assert.Empty((await appliance.GetJsonAsync("/api/alerts")).EnumerateArray());
        var beacon = await appliance.GetJsonAsync("/api/beacon");
        Assert.Equal("off", beacon.GetProperty("state").GetString());
        Assert.Empty(beacon.GetProperty("changes").EnumerateArray());
        Assert.Empty(smtp.Messages());
    }

    [Fact]
    public async Task Unacknowledged_alert_escalates_and_the_link_acknowledges_it()
    {
        // Long enough that a loaded 2-core CI machine clicks the link before the next step is due.
        const double escalateAfter = 4;
        await using var smtp = await SmtpSink.StartAsync();
        await using var appliance = await RunningAppliance.StartAsync(AlertScenario.Args(smtp.Port, escalateAfter));
        using var files = new TempDirectory();

        var studyUid = await AlertScenario.SendAsync(appliance, AlertScenario.ClearlyPositive, files);
        var first = await smtp.WaitForMessageToAsync(AlertScenario.DrA, Timeout);
        var second = await smtp.WaitForMessageToAsync(AlertScenario.DrB, Timeout);
        var alert = await AlertScenario.WaitForAlertAsync(appliance, studyUid, a => a.GetProperty("escalation").GetProperty("step").GetInt32() == 1, Timeout);
        var deliveries = alert.GetProperty("deliveries").EnumerateArray().ToList();
        Assert.Equal(["dr-a", "dr-b"], deliveries.Select(d => d.GetProperty("recipient").GetString()));
        var gap = deliveries[1].GetProperty("createdUtc").GetDateTimeOffset() - deliveries[0].GetProperty("createdUtc").GetDateTimeOffset();
        Assert.InRange(gap.TotalSeconds, escalateAfter - 0.1, escalateAfter + 1.5);

        // A link whose recipient was changed fails the signature check and acknowledges nothing.
        using var browser = new HttpClient();
        var forged = new Uri(AlertScenario.AckLink(first.TextBody).ToString().Replace("by=dr-a", "by=mallory", StringComparison.Ordinal));
        using (var refused = await browser.GetAsync(forged))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        using (var clicked = await browser.GetAsync(AlertScenario.AckLink(second.TextBody)))
        {
            Assert.Equal(HttpStatusCode.OK, clicked.StatusCode);
            Assert.Contains("acknowledged", await clicked.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        }
        var acknowledged = await AlertScenario.WaitForAlertAsync(appliance, studyUid, a => a.GetProperty("state").GetString() == "acknowledged", Timeout);
        var ack = acknowledged.GetProperty("acknowledgement");
        Assert.Equal("dr-b", ack.GetProperty("by").GetString());
        Assert.Equal("link", ack.GetProperty("via").GetString());
        Assert.Equal(JsonValueKind.Null, acknowledged.GetProperty("escalation").GetProperty("nextUtc").ValueKind);

        var beacon = await appliance.WaitForAsync("/api/beacon", b => b.GetProperty("state").GetString() == "off", Timeout);
        foreach (var pin in new[] { AlertScenario.LightPin, AlertScenario.BuzzerPin })
        {
            Assert.False(AlertScenario.PinChanges(beacon, pin)[^1].On, $"pin {pin} must be off after acknowledgement");
        }

        // Nothing more: no page after two more escalation periods, and the beacon stays dark.
        var mails = smtp.Messages().Count;
        await Task.Delay(TimeSpan.FromSeconds(escalateAfter * 2 + 0.5));
        Assert.Equal(mails, smtp.Messages().Count);
        var after = await appliance.GetJsonAsync($"/api/alerts/{acknowledged.GetProperty("id").GetInt64()}");
        Assert.Equal(2, after.GetProperty("deliveries").GetArrayLength());
        var later = await appliance.GetJsonAsync("/api/beacon");
        Assert.Equal(beacon.GetProperty("changes").GetArrayLength(), later.GetProperty("changes").GetArrayLength());

        // A second click reports the first acknowledgement and changes nothing.
        using var again = await browser.GetAsync(AlertScenario.AckLink(first.TextBody));
        Assert.Contains("already", await again.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal("dr-b", (await appliance.GetJsonAsync($"/api/alerts/{after.GetProperty("id").GetInt64()}")).GetProperty("acknowledgement").GetProperty("by").GetString());
    }

    [Fact]
    public async Task Restart_with_an_active_alert_resumes_beacon_and_escalation()
    {
        await using var smtp = await SmtpSink.StartAsync();
        using var data = new TempDirectory("medvision-edge");
        using var files = new TempDirectory();
        var args = AlertScenario.Args(smtp.Port, escalateAfterSeconds: 3);

        var first = await RunningAppliance.StartAsync(data, args);
        var studyUid = await AlertScenario.SendAsync(first, AlertScenario.ClearlyPositive, files);
        await smtp.WaitForMessageToAsync(AlertScenario.DrA, Timeout);
        var before = await AlertScenario.WaitForAlertAsync(first, studyUid, a => a.GetProperty("beaconOnUtc").ValueKind == JsonValueKind.String, Timeout);
        await first.StopAsync();
        Assert.Empty(smtp.MessagesTo(AlertScenario.DrB));

        await using var second = await RunningAppliance.StartAsync(data, args);
        // A fresh process, a fresh simulated chip: the beacon is lit again from the database, not left over.
        var beacon = await second.WaitForAsync("/api/beacon", b => b.GetProperty("state").GetString() == "critical", Timeout);
        Assert.True(AlertScenario.PinChanges(beacon, AlertScenario.LightPin)[0].On);

        // The escalation carries on where it was: dr-b is paged, not dr-a again.
        await smtp.WaitForMessageToAsync(AlertScenario.DrB, Timeout);
        var after = await AlertScenario.WaitForAlertAsync(second, studyUid, a => a.GetProperty("escalation").GetProperty("step").GetInt32() == 1, Timeout);
        Assert.Equal(before.GetProperty("id").GetInt64(), after.GetProperty("id").GetInt64());
        Assert.Equal(before.GetProperty("beaconOnUtc").GetDateTimeOffset(), after.GetProperty("beaconOnUtc").GetDateTimeOffset());
        Assert.Single(smtp.MessagesTo(AlertScenario.DrA));

        // And acknowledging over HTTP in the new life ends it.
        using var response = await second.Http.PostAsJsonAsync($"/api/alerts/{after.GetProperty("id").GetInt64()}/ack", new { by = "dr-b" });
        response.EnsureSuccessStatusCode();
        var acked = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("acknowledged", acked.GetProperty("state").GetString());
        Assert.Equal("api", acked.GetProperty("acknowledgement").GetProperty("via").GetString());
        await second.WaitForAsync("/api/beacon", b => b.GetProperty("state").GetString() == "off", Timeout);
    }

    [Fact]
    public async Task Findings_stored_without_their_alert_are_caught_up_at_start()
    {
        await using var smtp = await SmtpSink.StartAsync();
        using var data = new TempDirectory("medvision-edge");
        using var files = new TempDirectory();

        // First life: the finding is stored but no alert is raised (as when the appliance stops right after the commit).
        var first = await RunningAppliance.StartAsync(data, AlertScenario.Args(smtp.Port, 60, "--MedVision:Alerts:Enabled=false"));
        var studyUid = await AlertScenario.SendAsync(first, AlertScenario.ClearlyPositive, files);
        await first.WaitForAsync($"/api/studies/{studyUid}", s => s.GetProperty("status").GetString() == "processed", Timeout);
        Assert.Empty((await first.GetJsonAsync("/api/alerts")).EnumerateArray());
        await first.StopAsync();

        await using var second = await RunningAppliance.StartAsync(data, AlertScenario.Args(smtp.Port));
        var alert = await AlertScenario.WaitForAlertAsync(second, studyUid, a => a.GetProperty("beaconOnUtc").ValueKind == JsonValueKind.String, Timeout);
        Assert.Equal("critical", alert.GetProperty("severity").GetString());
        await smtp.WaitForMessageToAsync(AlertScenario.DrA, Timeout);
        Assert.Equal("critical", (await second.GetJsonAsync("/api/beacon")).GetProperty("state").GetString());
    }

    [Fact]
    public async Task Smtp_down_the_beacon_still_fires_and_the_page_is_retried_visibly()
    {
        var port = PeerProcess.FreePort();
        await using var appliance = await RunningAppliance.StartAsync(AlertScenario.Args(port, 60,
            "--MedVision:Alerts:Delivery:MaxAttempts=8",
            "--MedVision:Alerts:Delivery:InitialBackoffSeconds=0.5",
            "--MedVision:Alerts:Delivery:MaxBackoffSeconds=1.5"));
        using var files = new TempDirectory();

        var studyUid = await AlertScenario.SendAsync(appliance, AlertScenario.ClearlyPositive, files);

        // The beacon does not wait for the network.
        var beacon = await appliance.WaitForAsync("/api/beacon", b => b.GetProperty("state").GetString() == "critical", Timeout);
        Assert.True(AlertScenario.PinChanges(beacon, AlertScenario.LightPin)[0].On);

        var failing = await AlertScenario.WaitForAlertAsync(appliance, studyUid,
            a => a.GetProperty("deliveries").EnumerateArray().Any(d => d.GetProperty("attempts").GetInt32() >= 2), Timeout);
        Assert.Equal(JsonValueKind.String, failing.GetProperty("beaconOnUtc").ValueKind);
        Assert.Equal(JsonValueKind.Null, failing.GetProperty("firstPageUtc").ValueKind);
        var page = failing.GetProperty("deliveries")[0];
        Assert.Equal("retrying", page.GetProperty("state").GetString());
        Assert.Contains("refused", page.GetProperty("lastError").GetString(), StringComparison.OrdinalIgnoreCase);
        var health = await appliance.GetJsonAsync("/healthz");
        Assert.Equal("degraded", health.GetProperty("status").GetString());
        Assert.Contains("email", health.GetProperty("alerts").GetProperty("failingChannels").EnumerateArray().Select(c => c.GetString()));

        // The relay comes back: a later retry gets through.
        await using var smtp = await SmtpSink.StartAsync(port);
        await smtp.WaitForMessageToAsync(AlertScenario.DrA, Timeout);
        var sent = await AlertScenario.WaitForAlertAsync(appliance, studyUid,
            a => a.GetProperty("deliveries")[0].GetProperty("state").GetString() == "sent", Timeout);
        var detail = await appliance.GetJsonAsync($"/api/alerts/{sent.GetProperty("id").GetInt64()}");
        var attempts = detail.GetProperty("deliveries")[0].GetProperty("attemptLog").EnumerateArray().ToList();
        Assert.True(attempts.Count >= 3, $"{attempts.Count} attempts");
        Assert.All(attempts[..^1], a => Assert.False(a.GetProperty("succeeded").GetBoolean()));
        Assert.True(attempts[^1].GetProperty("succeeded").GetBoolean());
        Assert.Equal(JsonValueKind.String, detail.GetProperty("firstPageUtc").ValueKind);
        Assert.Equal("ok", (await appliance.GetJsonAsync("/healthz")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Quiet_hours_defer_a_normal_alert_but_never_a_critical_one()
    {
        await using var smtp = await SmtpSink.StartAsync();
        var now = DateTime.UtcNow;
        // Quiet from an hour ago to an hour from now, in UTC.
        await using var appliance = await RunningAppliance.StartAsync(
        [
            "--MedVision:Alerts:Rules:0:Name=dx-pneumonia",
            "--MedVision:Alerts:Rules:0:Label=pneumonia",
            "--MedVision:Alerts:Rules:0:Modalities:0=DX",
            "--MedVision:Alerts:Rules:0:Severity=critical",
            "--MedVision:Alerts:Rules:1:Name=possible-pneumonia",
            "--MedVision:Alerts:Rules:1:Label=pneumonia",
            "--MedVision:Alerts:Rules:1:Severity=normal",
            "--MedVision:Alerts:QuietHours:Start=" + now.AddHours(-1).ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture),
            "--MedVision:Alerts:QuietHours:End=" + now.AddHours(1).ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture),
            "--MedVision:Alerts:QuietHours:TimeZone=UTC",
            "--MedVision:Alerts:Beacon:Driver=simulated",
        ]);
        using var files = new TempDirectory();

        // The same positive image as CR matches only the normal rule, as DX the critical one.
        var normalStudy = await AlertScenario.SendAsync(appliance, AlertScenario.ClearlyPositive, files);
        var deferred = await AlertScenario.WaitForAlertAsync(appliance, normalStudy, _ => true, Timeout);
        Assert.Equal("deferred", deferred.GetProperty("state").GetString());
        Assert.Equal("normal", deferred.GetProperty("severity").GetString());
        await Task.Delay(500);
        Assert.Equal("off", (await appliance.GetJsonAsync("/api/beacon")).GetProperty("state").GetString());
        Assert.Empty((await appliance.GetJsonAsync($"/api/alerts/{deferred.GetProperty("id").GetInt64()}")).GetProperty("deliveries").EnumerateArray());

        var criticalStudy = await AlertScenario.SendAsync(appliance, AlertScenario.ClearlyPositive, files, modality: "DX");
        var critical = await AlertScenario.WaitForAlertAsync(appliance, criticalStudy,
            a => a.GetProperty("deliveries").EnumerateArray().Any(d => d.GetProperty("state").GetString() == "sent"), Timeout);
        Assert.Equal("active", critical.GetProperty("state").GetString());
        Assert.Equal("log", critical.GetProperty("deliveries")[0].GetProperty("channel").GetString());
        Assert.Equal("critical", (await appliance.GetJsonAsync("/api/beacon")).GetProperty("state").GetString());
    }

    [Fact]
    public async Task A_group_step_pages_a_webhook_and_the_log_together()
    {
        await using var webhook = await WebhookSink.StartAsync();
        await using var appliance = await RunningAppliance.StartAsync(
        [
            "--MedVision:Alerts:Rules:0:Name=pneumonia",
            "--MedVision:Alerts:Rules:0:Label=pneumonia",
            "--MedVision:Alerts:Rules:0:Severity=high",
            "--MedVision:Alerts:Recipients:ris:Channel=webhook",
            "--MedVision:Alerts:Recipients:ris:Address=" + webhook.Url,
            "--MedVision:Alerts:Groups:radiology:0=ris",
            "--MedVision:Alerts:Groups:radiology:1=log",
            "--MedVision:Alerts:Routing:High:Steps:0=radiology",
            "--MedVision:Alerts:Beacon:Driver=simulated",
        ]);
        using var files = new TempDirectory();

        var studyUid = await AlertScenario.SendAsync(appliance, AlertScenario.ClearlyPositive, files);
        var alert = await AlertScenario.WaitForAlertAsync(appliance, studyUid,
            a => a.GetProperty("deliveries").GetArrayLength() == 2
                 && a.GetProperty("deliveries").EnumerateArray().All(d => d.GetProperty("state").GetString() == "sent"), Timeout);
        Assert.Equal(["log", "webhook"], alert.GetProperty("deliveries").EnumerateArray().Select(d => d.GetProperty("channel").GetString()).Order());

        var body = JsonDocument.Parse(Assert.Single(webhook.Bodies())).RootElement;
        Assert.Equal(alert.GetProperty("id").GetInt64(), body.GetProperty("alertId").GetInt64());
        Assert.Equal("high", body.GetProperty("severity").GetString());
        Assert.Equal(studyUid, body.GetProperty("studyInstanceUid").GetString());
        Assert.Equal("ris", body.GetProperty("recipient").GetString());
        Assert.Contains($"/api/alerts/{alert.GetProperty("id").GetInt64()}/ack?by=ris", body.GetProperty("ackUrl").GetString(), StringComparison.Ordinal);
        // High: the light blinks slowly, the buzzer stays quiet.
        var beacon = await appliance.GetJsonAsync("/api/beacon");
        Assert.Equal("high", beacon.GetProperty("state").GetString());
        Assert.Equal("blink:1000/1000", beacon.GetProperty("light").GetString());
        Assert.Empty(AlertScenario.PinChanges(beacon, 27));

        // Bad requests get clear answers; resolving closes the alert and darkens the beacon.
        var id = alert.GetProperty("id").GetInt64();
        using (var nobody = await appliance.Http.PostAsJsonAsync($"/api/alerts/{id}/ack", new { by = " " }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, nobody.StatusCode);
        }
        using (var unknown = await appliance.Http.PostAsJsonAsync($"/api/alerts/{id + 1000}/ack", new { by = "dr-a" }))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }
        using (var badFilter = await appliance.Http.GetAsync("/api/alerts?state=loud"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, badFilter.StatusCode);
        }
        using var resolve = await appliance.Http.PostAsJsonAsync($"/api/alerts/{id}/resolve", new { by = "dr-c" });
        resolve.EnsureSuccessStatusCode();
        var resolved = await resolve.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("resolved", resolved.GetProperty("state").GetString());
        Assert.Equal("dr-c", resolved.GetProperty("resolution").GetProperty("by").GetString());
        await appliance.WaitForAsync("/api/beacon", b => b.GetProperty("state").GetString() == "off", Timeout);
        Assert.Single((await appliance.GetJsonAsync("/api/alerts?state=resolved")).EnumerateArray());
    }
}
