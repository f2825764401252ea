using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using MedVision.Edge.Storage;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Alerts;

/// <summary>
/// The HMAC key that signs one-click acknowledgement links: <c>MedVision:Alerts:Ack:SigningKey</c>, or a random key
/// generated once and kept under the storage root (<c>alerts/ack-signing.key</c>, mode 0600) so links stay valid across
/// restarts.
/// </summary>
public sealed class AckSigningKey
{
    public const int MinKeyBytes = 32;

    private readonly Lazy<byte[]> _key;

    public AckSigningKey(IOptions<AlertOptions> options, IOptions<StorageOptions> storage, ILogger<AckSigningKey> logger)
    {
        var configured = options.Value.Ack.SigningKey;
        KeyPath = Path.Combine(storage.Value.Root, "alerts", "ack-signing.key");
        _key = new Lazy<byte[]>(() => !string.IsNullOrWhiteSpace(configured) && TryDecode(configured, out var key)
            ? key
            : LoadOrCreate(KeyPath, logger));
    }

    public string KeyPath { get; }

    public byte[] Key => _key.Value;

    public static bool TryDecode(string text, out byte[] key)
    {
        key = [];
        try
        {
            key = Convert.FromBase64String(text.Trim());
        }
        catch (FormatException)
        {
            return false;
        }
        return key.Length >= MinKeyBytes;
    }

    private static byte[] LoadOrCreate(string path, ILogger logger)
    {
        if (File.Exists(path))
        {
            return Read(path);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var stream = new FileStream(temporary, options))
        {
            stream.Write(Encoding.ASCII.GetBytes(Convert.ToBase64String(RandomNumberGenerator.GetBytes(MinKeyBytes))));
            stream.Flush(flushToDisk: true);
        }
        try
        {
            File.Move(temporary, path, overwrite: false);
            AlertLog.SigningKeyGenerated(logger, path);
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another process got there first: its key wins, so links it signed stay valid.
            File.Delete(temporary);
        }
        return Read(path);
    }

    private static byte[] Read(string path) =>
        TryDecode(File.ReadAllText(path), out var key)
            ? key
            : throw new InvalidOperationException($"The acknowledgement signing key {path} is not base64 of at least {MinKeyBytes} bytes; delete it to generate a new one.");
}

/// <summary>Signs and checks one-click acknowledgement links: HMAC-SHA256 over alert id, recipient and expiry.</summary>
public sealed class AckLinks(AckSigningKey key, IOptions<AlertOptions> options, IServer server, TimeProvider clock)
{
    private readonly AckOptions _options = options.Value.Ack;

    /// <summary>The link <paramref name="recipient"/> clicks to acknowledge alert <paramref name="alertId"/>.</summary>
    public string Create(long alertId, string recipient)
    {
        var expires = clock.GetUtcNow().AddHours(_options.LinkValidHours).ToUnixTimeSeconds();
        var signature = Sign(alertId, recipient, expires);
        var path = string.Create(CultureInfo.InvariantCulture, $"/api/alerts/{alertId}/ack");
        var query = new Dictionary<string, string?>
        {
            ["by"] = recipient,
            ["exp"] = expires.ToString(CultureInfo.InvariantCulture),
            ["sig"] = signature,
        };
        return QueryHelpers.AddQueryString(BaseUrl().TrimEnd('/') + path, query);
    }

    public string Sign(long alertId, string recipient, long expiresUnixSeconds)
    {
        var message = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{alertId}\n{recipient}\n{expiresUnixSeconds}"));
        return WebEncoders.Base64UrlEncode(HMACSHA256.HashData(key.Key, message));
    }

    /// <summary>Null when the link is genuine and unexpired, else why not.</summary>
    public string? Check(long alertId, string? recipient, long? expiresUnixSeconds, string? signature)
    {
        if (string.IsNullOrWhiteSpace(recipient) || expiresUnixSeconds is null || string.IsNullOrWhiteSpace(signature))
        {
            return "the link lacks by, exp or sig";
        }
        byte[] given;
        try
        {
            given = WebEncoders.Base64UrlDecode(signature);
        }
        catch (FormatException)
        {
            return "the signature is not base64url";
        }
        var expected = WebEncoders.Base64UrlDecode(Sign(alertId, recipient, expiresUnixSeconds.Value));
        // Checked before the expiry so a forged link learns nothing about timing.
        if (!CryptographicOperations.FixedTimeEquals(given, expected))
        {
            return "the signature does not match";
        }
        return clock.GetUtcNow().ToUnixTimeSeconds() > expiresUnixSeconds.Value ? "the link has expired" : null;
    }

    private string BaseUrl()
    {
        if (!string.IsNullOrWhiteSpace(_options.PublicBaseUrl))
        {
            return _options.PublicBaseUrl;
        }
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? "http://localhost:8080";
        // A wildcard listen address is not something a recipient can click; the host name usually is.
        var host = System.Net.Dns.GetHostName();
        address = address.Replace("://+", "://" + host, StringComparison.Ordinal).Replace("://*", "://" + host, StringComparison.Ordinal);
        var uri = new UriBuilder(address);
        if (uri.Host is "0.0.0.0" or "[::]" or "::")
        {
            uri.Host = host;
        }
        return uri.Uri.GetLeftPart(UriPartial.Authority);
    }
}
