using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace MedVision.Cloud.Api;

/// <summary>
/// Who may use the hub's operator surface. With <see cref="HubOptions.AdminApiKey"/> set, changes need it; with
/// <see cref="HubOptions.ReadApiKey"/> (or, unset, the admin key) set, so does reading the fleet, its findings and the
/// dashboard: they describe hospitals' equipment and activity even though findings are de-identified. The key comes as
/// header <c>X-Api-Key</c>, as <c>Authorization: Bearer</c>, or as the password of HTTP Basic (what a browser asks a
/// person for on the dashboard). Keys are compared in constant time.
/// </summary>
public static class OperatorAccess
{
    public const string Realm = "MedVision hub";

    public static bool MayChange(HttpContext http, HubOptions options) => Presents(http, options.AdminApiKey);

    public static bool MayRead(HttpContext http, HubOptions options)
    {
        var readKey = string.IsNullOrEmpty(options.ReadApiKey) ? options.AdminApiKey : options.ReadApiKey;
        return Presents(http, readKey) || (!string.IsNullOrEmpty(options.AdminApiKey) && Presents(http, options.AdminApiKey));
    }

    /// <summary>Routes a device or an unenrolled appliance uses, or a scraper: guarded by their own credentials or public.</summary>
    public static bool IsOpenPath(PathString path) =>
        path.StartsWithSegments("/healthz") || path.StartsWithSegments("/metrics") || path.StartsWithSegments("/api/enrol")
        || (path.StartsWithSegments("/api/models") && path.Value!.EndsWith("/content", StringComparison.Ordinal));

    /// <summary>Refuses reads without the key (401 with a Basic challenge, so a browser asks); changes check their own.</summary>
    public static IApplicationBuilder UseOperatorReadAccess(this IApplicationBuilder app) =>
        app.Use(async (http, next) =>
        {
            var options = http.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<HubOptions>>().Value;
            if ((HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method)) && !IsOpenPath(http.Request.Path) && !MayRead(http, options))
            {
                http.Response.StatusCode = StatusCodes.Status401Unauthorized;
                http.Response.Headers.WWWAuthenticate = $"Basic realm=\"{Realm}\", charset=\"UTF-8\"";
                return;
            }
            await next(http).ConfigureAwait(false);
        });

    private static bool Presents(HttpContext http, string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            return true;
        }
        var expected = Encoding.UTF8.GetBytes(key);
        if (http.Request.Headers.TryGetValue("X-Api-Key", out var header) && Matches(header.ToString(), expected))
        {
            return true;
        }
        if (!AuthenticationHeaderValue.TryParse(http.Request.Headers.Authorization, out var authorization) || authorization.Parameter is null)
        {
            return false;
        }
        if (authorization.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
        {
            return Matches(authorization.Parameter, expected);
        }
        if (authorization.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorization.Parameter));
                var colon = decoded.IndexOf(':', StringComparison.Ordinal);
                return colon >= 0 && Matches(decoded[(colon + 1)..], expected);
            }
            catch (FormatException)
            {
                return false;
            }
        }
        return false;
    }

    private static bool Matches(string presented, byte[] expected) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), expected);
}
