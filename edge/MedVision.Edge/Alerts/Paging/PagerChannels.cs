using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text;
using MailKit.Net.Smtp;
using Microsoft.Extensions.Options;
using MimeKit;

namespace MedVision.Edge.Alerts.Paging;

/// <summary>One page, ready to send to one recipient.</summary>
public sealed record PageMessage(AlertRecord Alert, DeliveryRecord Delivery, string Subject, string Body, string AckUrl);

/// <summary>A way of paging someone. <see cref="SendAsync"/> returns once the page is handed over, and throws otherwise.</summary>
public interface IPagerChannel
{
    /// <summary><c>email</c>, <c>webhook</c> or <c>log</c>, as named in <see cref="RecipientOptions.Channel"/>.</summary>
    string Name { get; }

    Task SendAsync(PageMessage message, CancellationToken cancellationToken);
}

/// <summary>Writes the page text for an alert and one recipient, with that recipient's signed acknowledgement link.</summary>
public sealed class PageComposer(AckLinks links)
{
    public PageMessage Compose(AlertRecord alert, DeliveryRecord delivery)
    {
        ArgumentNullException.ThrowIfNull(alert);
        ArgumentNullException.ThrowIfNull(delivery);
        var ackUrl = links.Create(alert.Id, delivery.Recipient);
        var severity = alert.Severity.ToWire().ToUpperInvariant();
        var study = alert.AccessionNumber is { Length: > 0 } accession ? "accession " + accession : "study " + alert.StudyUid;
        var subject = string.Create(CultureInfo.InvariantCulture,
            $"[{severity}] MedVision alert #{alert.Id}: {alert.Label} p={alert.Probability:0.00} ({alert.Modality ?? "?"}, {study})");
        var body = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"MedVision Edge raised a {alert.Severity.ToWire()} alert (rule {alert.Rule}).")
            .AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"Finding:    {alert.Label} by model {alert.ModelId}, probability {alert.Probability:0.000} (threshold {alert.Threshold:0.000})")
            .AppendLine(CultureInfo.InvariantCulture, $"Study UID:  {alert.StudyUid}")
            .AppendLine(CultureInfo.InvariantCulture, $"Accession:  {alert.AccessionNumber ?? "-"}")
            .AppendLine(CultureInfo.InvariantCulture, $"Modality:   {alert.Modality ?? "-"}    Priority: {alert.Priority ?? "unknown"}")
            .AppendLine(CultureInfo.InvariantCulture, $"Raised:     {alert.RaisedUtc.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC")
            .AppendLine(CultureInfo.InvariantCulture, $"You are paged as {delivery.Recipient} (escalation step {delivery.Step + 1}, round {delivery.Round + 1}).")
            .AppendLine()
            .AppendLine("Acknowledge (stops the beacon and further pages):")
            .AppendLine(ackUrl)
            .AppendLine()
            .AppendLine("Research model, not a medical device: confirm every finding on the images.")
            .ToString();
        return new PageMessage(alert, delivery, subject, body, ackUrl);
    }
}

/// <summary>Pages by e-mail through the configured SMTP relay (MailKit); one connection per page.</summary>
public sealed class SmtpPagerChannel(IOptions<AlertOptions> options) : IPagerChannel
{
    private readonly SmtpOptions _smtp = options.Value.Smtp;

    public string Name => RecipientOptions.Email;

    public async Task SendAsync(PageMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        var mail = new MimeMessage();
        mail.From.Add(MailboxAddress.Parse(_smtp.From));
        mail.To.Add(new MailboxAddress(message.Delivery.Recipient, message.Delivery.Address));
        mail.Subject = message.Subject;
        mail.Headers.Add("X-MedVision-Alert-Id", message.Alert.Id.ToString(CultureInfo.InvariantCulture));
        mail.Headers.Add("X-MedVision-Severity", message.Alert.Severity.ToWire());
        mail.Body = new TextPart("plain") { Text = message.Body };
        if (message.Alert.Severity == AlertSeverity.Critical)
        {
            mail.Priority = MessagePriority.Urgent;
            mail.Importance = MessageImportance.High;
        }

        using var client = new SmtpClient();
        var host = _smtp.Host ?? throw new InvalidOperationException($"{AlertOptions.Section}:Smtp:Host is not set.");
        await client.ConnectAsync(host, _smtp.Port, _smtp.Security, cancellationToken).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(_smtp.Username))
        {
            await client.AuthenticateAsync(_smtp.Username, _smtp.Password ?? "", cancellationToken).ConfigureAwait(false);
        }
        await client.SendAsync(mail, cancellationToken).ConfigureAwait(false);
        await client.DisconnectAsync(quit: true, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Pages by POSTing the alert as JSON to the recipient's URL; any 2xx answer counts as delivered.</summary>
public sealed class WebhookPagerChannel(IHttpClientFactory clients, IOptions<AlertOptions> options) : IPagerChannel
{
    public const string HttpClientName = "MedVision.Alerts.Webhook";

    private readonly WebhookOptions _webhook = options.Value.Webhook;

    public string Name => RecipientOptions.Webhook;

    public async Task SendAsync(PageMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        var alert = message.Alert;
        var payload = new WebhookPayload(
            alert.Id, alert.Severity.ToWire(), alert.Rule, alert.State, alert.StudyUid, alert.AccessionNumber, alert.Modality,
            alert.Priority, alert.ModelId, alert.Label, alert.Probability, alert.Threshold, alert.RaisedUtc,
            message.Delivery.Recipient, message.Delivery.Step, message.Delivery.Round, message.Subject, message.AckUrl);
        // Buffered with a Content-Length: simple receivers (and some proxies) do not take chunked request bodies.
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(payload, JsonSerializerOptions.Web));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        using var request = new HttpRequestMessage(HttpMethod.Post, message.Delivery.Address) { Content = content };
        foreach (var (name, value) in _webhook.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        using var client = clients.CreateClient(HttpClientName);
        using var response = await client.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException(
                string.Create(CultureInfo.InvariantCulture, $"webhook answered {(int)response.StatusCode} {response.ReasonPhrase}"),
                null,
                response.StatusCode);
        }
    }

    private sealed record WebhookPayload(
        long AlertId,
        string Severity,
        string Rule,
        string State,
        string StudyInstanceUid,
        string? AccessionNumber,
        string? Modality,
        string? Priority,
        string ModelId,
        string Label,
        double Probability,
        double Threshold,
        DateTimeOffset RaisedUtc,
        string Recipient,
        int Step,
        int Round,
        string Subject,
        string AckUrl);
}

/// <summary>
/// Pages into the service log (journald under systemd), for sites without mail or as the last resort on a list. The
/// acknowledgement link is left out: whoever reads the log can use the HTTP API.
/// </summary>
public sealed class LogPagerChannel(ILogger<LogPagerChannel> logger) : IPagerChannel
{
    public string Name => RecipientOptions.Log;

    public Task SendAsync(PageMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        AlertLog.LogPage(logger, message.Alert.Severity.ToWire(), message.Alert.Id, message.Delivery.Recipient, message.Subject);
        return Task.CompletedTask;
    }
}
