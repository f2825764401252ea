using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using MedVision.Contracts;
using MedVision.Dicom.Deidentification;
using MedVision.Edge.Storage;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Sync;

/// <summary>
/// The site's keyed pseudonyms (HMAC-SHA256 under the site secret, the DICOM library's <see cref="DeidentificationKey"/>):
/// the same study always maps to the same pseudonym at this site, and nobody without the secret can map it back.
/// The UIDs match what the PS3.15 de-identifier makes of the same study with the same key.
/// </summary>
public sealed class SitePseudonyms
{
    private readonly Lazy<DeidentificationKey> _key;

    public SitePseudonyms(IOptions<CloudOptions> options, IOptions<StorageOptions> storage, ILogger<SitePseudonyms> logger)
    {
        var path = options.Value.SiteSecretPath is { Length: > 0 } configured
            ? Path.GetFullPath(configured)
            : Path.Combine(storage.Value.Root, "cloud", "site.key");
        _key = new Lazy<DeidentificationKey>(() => LoadOrCreate(path, logger), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public string Uid(string uid) => _key.Value.MapUid(uid);

    public string Patient(string patientId) => _key.Value.Pseudonym("MV", patientId);

    /// <summary>A deterministic message id from already-pseudonymous parts, so re-processing sends the same id.</summary>
    public static string MessageId(string prefix, params string[] parts) =>
        prefix + "-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', parts))))[..32];

    private static DeidentificationKey LoadOrCreate(string path, ILogger logger)
    {
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var temp = path + ".tmp";
            File.WriteAllBytes(temp, RandomNumberGenerator.GetBytes(32));
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            File.Move(temp, path);
            SyncLog.SiteSecretCreated(logger, path);
        }
        return DeidentificationKey.FromFile(path);
    }
}

/// <summary>The credentials the hub issued at enrolment, kept in a 0600 file under the storage root.</summary>
public sealed record DeviceCredentials(string DeviceId, string SiteId, string Password);

public sealed class DeviceCredentialStore(IOptions<CloudOptions> options, IOptions<StorageOptions> storage)
{
    public string Path { get; } = options.Value.CredentialsPath is { Length: > 0 } configured
        ? System.IO.Path.GetFullPath(configured)
        : System.IO.Path.Combine(storage.Value.Root, "cloud", "device.json");

    public async Task<DeviceCredentials?> LoadAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(Path))
        {
            return null;
        }
        await using var stream = File.OpenRead(Path);
        return await JsonSerializer.DeserializeAsync<DeviceCredentials>(stream, ContractJson.Options, cancellationToken).ConfigureAwait(false);
    }

    public async Task SaveAsync(DeviceCredentials credentials, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        var temp = Path + ".tmp";
        await File.WriteAllBytesAsync(temp, ContractJson.Serialize(credentials), cancellationToken).ConfigureAwait(false);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        File.Move(temp, Path, overwrite: true);
    }
}
