using System.Security.Cryptography;
using MedVision.Cloud.Broker;
using MedVision.Contracts;

namespace MedVision.Cloud.Fleet;

/// <summary>
/// Device identity: the operator creates a one-time enrolment token for a site; the appliance exchanges it for its own
/// MQTT password. Only hashes are stored (SHA-256 of the high-entropy token, PBKDF2 of the password).
/// </summary>
public sealed class EnrolmentService
{
    private readonly IHubStore _store;
    private readonly TimeProvider _time;
    private readonly IBrokerCredentialSink _sink;
    private readonly ILogger<EnrolmentService> _logger;

    public EnrolmentService(IHubStore store, TimeProvider time, IBrokerCredentialSink sink, ILogger<EnrolmentService> logger)
    {
        _store = store;
        _time = time;
        _sink = sink;
        _logger = logger;
    }

    public async Task<EnrolmentTokenResponse> CreateTokenAsync(EnrolmentTokenRequest request, CancellationToken cancellationToken)
    {
        if (!Topics.IsValidDeviceId(request.SiteId))
        {
            throw new ArgumentException("siteId must be 1-64 letters, digits, '-' or '_'.");
        }
        var deviceId = request.DeviceId ?? $"{request.SiteId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
        if (!Topics.IsValidDeviceId(deviceId))
        {
            throw new ArgumentException("deviceId must be 1-64 letters, digits, '-' or '_'.");
        }
        var hours = request.ValidHours ?? 72;
        if (hours is < 1 or > 24 * 90)
        {
            throw new ArgumentException("validHours must be 1-2160.");
        }
        var token = RandomToken();
        var now = _time.GetUtcNow();
        var expires = now.AddHours(hours);
        await _store.CreateEnrolmentTokenAsync(HashToken(token), request.SiteId, deviceId, now, expires, cancellationToken).ConfigureAwait(false);
        HubLog.TokenCreated(_logger, deviceId, request.SiteId);
        return new EnrolmentTokenResponse(token, deviceId, request.SiteId, expires);
    }

    public async Task<EnrolmentResponse?> EnrolAsync(EnrolmentRequest request, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(request.Token) || request.Token.Length > 256)
        {
            HubLog.EnrolmentRefused(_logger, "no token");
            return null;
        }
        var password = RandomToken();
        var outcome = await _store.RedeemEnrolmentTokenAsync(
            HashToken(request.Token), MosquittoPasswordHash.Create(password), request.Hostname?[..Math.Min(request.Hostname.Length, 128)], _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        if (!outcome.Success)
        {
            HubLog.EnrolmentRefused(_logger, outcome.Error!);
            return null;
        }
        await _sink.CredentialsChangedAsync(cancellationToken).ConfigureAwait(false);
        HubLog.DeviceEnrolled(_logger, outcome.DeviceId!, outcome.SiteId!);
        return new EnrolmentResponse(outcome.DeviceId!, outcome.SiteId!, password);
    }

    /// <summary>Checks a device's MQTT credentials against the stored hash.</summary>
    public async Task<bool> AuthenticateAsync(string? deviceId, string? password, CancellationToken cancellationToken)
    {
        if (!Topics.IsValidDeviceId(deviceId) || string.IsNullOrEmpty(password))
        {
            return false;
        }
        var hash = await _store.GetPasswordHashAsync(deviceId!, cancellationToken).ConfigureAwait(false);
        return hash is not null && MosquittoPasswordHash.Verify(password, hash);
    }

    private static string RandomToken() => Base64Url(RandomNumberGenerator.GetBytes(32));

    private static string HashToken(string token) => Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
