using System.Text.Json;
using MedVision.Cloud.Fleet;
using MedVision.Contracts;
using Microsoft.Extensions.Options;

namespace MedVision.Cloud.Api;

/// <summary>The hub's REST API and dashboard.</summary>
public static class HubApi
{
    public static void MapHubApi(this WebApplication app)
    {
        var started = DateTimeOffset.UtcNow;
        app.MapGet("/healthz", () => Results.Ok(new { status = "ok", service = "medvision-cloud", uptimeSeconds = (DateTimeOffset.UtcNow - started).TotalSeconds }));

        app.MapPost("/api/enrolments", async (EnrolmentTokenRequest request, HttpContext http, EnrolmentService enrolment, IOptions<HubOptions> options, CancellationToken ct) =>
        {
            if (!OperatorAccess.MayChange(http, options.Value))
            {
                return Results.Unauthorized();
            }
            try
            {
                return Results.Ok(await enrolment.CreateTokenAsync(request, ct));
            }
            catch (ArgumentException ex)
            {
                return Results.BadRequest(new { error = ex.Message });
            }
        });

        app.MapPost("/api/enrol", async (EnrolmentRequest request, EnrolmentService enrolment, CancellationToken ct) =>
        {
            var response = await enrolment.EnrolAsync(request, ct);
            // One answer for unknown, used and expired tokens: nothing to learn by guessing.
            return response is null ? Results.Json(new { error = "enrolment token invalid, used or expired" }, statusCode: StatusCodes.Status403Forbidden) : Results.Ok(response);
        });

        app.MapGet("/api/fleet", async (FleetView fleet, CancellationToken ct) => Results.Ok(await fleet.GetFleetAsync(ct)));

        app.MapGet("/api/findings", (IHubStore store, string? device, int? limit, CancellationToken ct) =>
            ListMessagesAsync(store, MessageTypes.Finding, "finding", device, limit, ct));

        // Radiologists' verdicts (active learning), in the same shape as /api/findings; feedback.findingMessageId joins
        // a verdict to the finding's messageId. Guarded by the read key like every other read.
        app.MapGet("/api/feedback", (IHubStore store, string? device, int? limit, CancellationToken ct) =>
            ListMessagesAsync(store, MessageTypes.Feedback, "feedback", device, limit, ct));

        app.MapPut("/api/fleet/{deviceId}/desired", async (string deviceId, JsonElement properties, HttpContext http, IHubStore store, MedVision.Cloud.Broker.IDeviceChannel devices, IOptions<HubOptions> options, CancellationToken ct) =>
        {
            if (!OperatorAccess.MayChange(http, options.Value))
            {
                return Results.Unauthorized();
            }
            if (properties.ValueKind != JsonValueKind.Object)
            {
                return Results.BadRequest(new { error = "desired properties must be a JSON object" });
            }
            var version = await store.SetDesiredAsync(deviceId, properties.GetRawText(), ct);
            if (version is null)
            {
                return Results.NotFound();
            }
            var desired = new DesiredPropertiesV1(version.Value, properties.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone()));
            await devices.PublishAsync(Topics.Desired(deviceId), ContractJson.Serialize(desired), ct, retain: true);
            return Results.Ok(desired);
        });

        app.MapGet("/api/fleet/{deviceId}/heartbeats", async (string deviceId, IHubStore store, int? minutes, CancellationToken ct) =>
        {
            var since = DateTimeOffset.UtcNow.AddMinutes(-Math.Clamp(minutes ?? 60, 1, 24 * 60));
            var rows = await store.ListMessagesAsync(MessageTypes.Heartbeat, deviceId, since, 2000, ct);
            return Results.Ok(rows.OrderBy(r => r.CreatedUtc).Select(r => new { createdUtc = r.CreatedUtc, heartbeat = JsonSerializer.Deserialize<JsonElement>(r.BodyJson) }));
        });

        app.MapGet("/", () => Results.Redirect("/dashboard"));
        app.MapGet("/dashboard", () =>
        {
            using var stream = typeof(HubApi).Assembly.GetManifestResourceStream("MedVision.Cloud.Dashboard.index.html")!;
            using var reader = new StreamReader(stream);
            return Results.Content(reader.ReadToEnd(), "text/html; charset=utf-8");
        });
    }

    /// <summary>Stored messages of one type, newest first; the body under <paramref name="bodyName"/>.</summary>
    private static async Task<IResult> ListMessagesAsync(IHubStore store, string type, string bodyName, string? device, int? limit, CancellationToken ct)
    {
        var rows = await store.ListMessagesAsync(type, device, null, Math.Clamp(limit ?? 1000, 1, 100_000), ct);
        return Results.Ok(rows.Select(r => new Dictionary<string, object?>
        {
            ["deviceId"] = r.DeviceId,
            ["messageId"] = r.MessageId,
            ["schemaVersion"] = r.SchemaVersion,
            ["createdUtc"] = r.CreatedUtc,
            ["receivedUtc"] = r.ReceivedUtc,
            [bodyName] = JsonSerializer.Deserialize<JsonElement>(r.BodyJson),
        }));
    }
}
