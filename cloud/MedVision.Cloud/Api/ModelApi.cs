using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using MedVision.Cloud.Fleet;
using MedVision.Contracts;
using Microsoft.Extensions.Options;

namespace MedVision.Cloud.Api;

public sealed record ModelOfferRequest(IReadOnlyList<string> DeviceIds);

/// <summary>Model delivery routes: upload and offer (operator), chunked download (devices), results.</summary>
public static class ModelApi
{
    public static void MapModelApi(this WebApplication app)
    {
        app.MapPost("/api/models", async (HttpContext http, string name, ModelPackages packages, IOptions<HubOptions> options, CancellationToken ct) =>
        {
            if (!IsOperator(http, options.Value))
            {
                return Results.Unauthorized();
            }
            using var buffer = new MemoryStream();
            await http.Request.Body.CopyToAsync(buffer, ct);
            if (buffer.Length == 0 || buffer.Length > ModelPackages.MaxPackageBytes)
            {
                return Results.BadRequest(new { error = $"package must be 1 byte to {ModelPackages.MaxPackageBytes} bytes" });
            }
            try
            {
                return Results.Ok(await packages.UploadAsync(name, buffer.ToArray(), ct));
            }
            catch (ArgumentException ex)
            {
                return Results.BadRequest(new { error = ex.Message });
            }
        });

        app.MapPost("/api/models/{packageId}/offer", async (string packageId, ModelOfferRequest request, HttpContext http, ModelPackages packages, IOptions<HubOptions> options, CancellationToken ct) =>
        {
            if (!IsOperator(http, options.Value))
            {
                return Results.Unauthorized();
            }
            try
            {
                var offer = await packages.OfferAsync(packageId, request.DeviceIds ?? [], ct);
                return offer is null ? Results.NotFound() : Results.Ok(offer);
            }
            catch (ArgumentException ex)
            {
                return Results.BadRequest(new { error = ex.Message });
            }
        });

        // Devices only, with their MQTT credentials; Range requests give the chunks.
        app.MapGet("/api/models/{packageId}/content", async (string packageId, HttpContext http, IHubStore store, EnrolmentService enrolment, CancellationToken ct) =>
        {
            var (user, password) = BasicCredentials(http);
            if (!await enrolment.AuthenticateAsync(user, password, ct))
            {
                return Results.Unauthorized();
            }
            var package = await store.GetPackageAsync(packageId, ct);
            return package is null
                ? Results.NotFound()
                : Results.Bytes(package.Value.Content, "application/zip", package.Value.Package.Name + ".zip", enableRangeProcessing: true);
        });

        app.MapGet("/api/model-updates", async (IHubStore store, string? device, CancellationToken ct) =>
        {
            var rows = await store.ListMessagesAsync(MessageTypes.ModelUpdate, device, null, 1000, ct);
            return Results.Ok(rows.Select(r => new { deviceId = r.DeviceId, receivedUtc = r.ReceivedUtc, update = JsonSerializer.Deserialize<JsonElement>(r.BodyJson) }));
        });
    }

    private static bool IsOperator(HttpContext http, HubOptions options) => OperatorAccess.MayChange(http, options);

    private static (string? User, string? Password) BasicCredentials(HttpContext http)
    {
        if (!AuthenticationHeaderValue.TryParse(http.Request.Headers.Authorization, out var header)
            || !string.Equals(header.Scheme, "Basic", StringComparison.OrdinalIgnoreCase) || header.Parameter is null)
        {
            return (null, null);
        }
        try
        {
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(header.Parameter));
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            return colon < 0 ? (null, null) : (text[..colon], text[(colon + 1)..]);
        }
        catch (FormatException)
        {
            return (null, null);
        }
    }
}
