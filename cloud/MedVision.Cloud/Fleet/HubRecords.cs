namespace MedVision.Cloud.Fleet;

/// <summary>A message as it arrived, before it is stored.</summary>
public sealed record IncomingMessage(
    string DeviceId,
    string MessageId,
    string Type,
    int SchemaVersion,
    DateTimeOffset CreatedUtc,
    DateTimeOffset ReceivedUtc,
    string BodyJson);

public sealed record DeviceRecord(
    string DeviceId,
    string SiteId,
    string? Hostname,
    DateTimeOffset EnrolledUtc,
    DateTimeOffset? LastSeenUtc,
    DateTimeOffset? LastHeartbeatUtc,
    string? LastHeartbeatJson,
    long MessagesReceived,
    long DesiredVersion = 0,
    string? DesiredJson = null,
    long? ReportedVersion = null,
    string? ReportedJson = null);

public sealed record StoredMessage(
    long Seq,
    string DeviceId,
    string MessageId,
    string Type,
    int SchemaVersion,
    DateTimeOffset CreatedUtc,
    DateTimeOffset ReceivedUtc,
    string BodyJson);

public sealed record EnrolmentOutcome(bool Success, string? DeviceId, string? SiteId, string? Error);

/// <summary>The fleet database: SQLite by default, PostgreSQL when configured; every method is one short transaction.</summary>
public interface IHubStore
{
    /// <summary>Where the data lives, for the logs (file path or server and database).</summary>
    string Description { get; }

    Task MigrateAsync(CancellationToken cancellationToken);

    Task CreateEnrolmentTokenAsync(string tokenHash, string siteId, string deviceId, DateTimeOffset createdUtc, DateTimeOffset expiresUtc, CancellationToken cancellationToken);

    /// <summary>Uses a token once: creates (or re-keys) its device with <paramref name="passwordHash"/>.</summary>
    Task<EnrolmentOutcome> RedeemEnrolmentTokenAsync(string tokenHash, string passwordHash, string? hostname, DateTimeOffset nowUtc, CancellationToken cancellationToken);

    Task<string?> GetPasswordHashAsync(string deviceId, CancellationToken cancellationToken);

    Task<IReadOnlyList<(string DeviceId, string PasswordHash)>> ListCredentialsAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Stores a batch in one transaction. A (device, message id) already stored is skipped, so redelivery never
    /// duplicates. Returns, per message, whether it was new.
    /// </summary>
    Task<bool[]> StoreAsync(IReadOnlyList<IncomingMessage> messages, CancellationToken cancellationToken);

    Task<IReadOnlyList<DeviceRecord>> ListDevicesAsync(CancellationToken cancellationToken);

    Task<IReadOnlyList<StoredMessage>> ListMessagesAsync(string? type, string? deviceId, DateTimeOffset? since, int limit, CancellationToken cancellationToken);

    Task<long> CountMessagesAsync(string? type, CancellationToken cancellationToken);

    /// <summary>Deletes messages of <paramref name="type"/> received before <paramref name="receivedBefore"/>; returns how many.</summary>
    Task<long> DeleteMessagesAsync(string type, DateTimeOffset receivedBefore, CancellationToken cancellationToken);

    /// <summary>Replaces a device's desired properties; returns the new version, or null for an unknown device.</summary>
    Task<long?> SetDesiredAsync(string deviceId, string propertiesJson, CancellationToken cancellationToken);

    /// <summary>Keeps a model package (the zip) in the database, so every hub instance can serve it.</summary>
    Task SavePackageAsync(ModelPackageRecord package, byte[] content, CancellationToken cancellationToken);

    Task<(ModelPackageRecord Package, byte[] Content)?> GetPackageAsync(string packageId, CancellationToken cancellationToken);
}

public sealed record ModelPackageRecord(string PackageId, string Name, string Sha256, long SizeBytes, DateTimeOffset CreatedUtc);
