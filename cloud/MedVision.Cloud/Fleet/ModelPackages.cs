using System.IO.Compression;
using System.Security.Cryptography;
using MedVision.Cloud.Broker;
using MedVision.Contracts;

namespace MedVision.Cloud.Fleet;

/// <summary>
/// Model delivery: the operator uploads a package (zip of the package folder) and offers it to chosen appliances;
/// each downloads it in chunks, verifies hash and signature, hot-swaps it in and reports back (type <c>modelUpdate</c>).
/// </summary>
public sealed class ModelPackages(IHubStore store, IDeviceChannel devices, TimeProvider time)
{
    public const int ChunkBytes = 256 * 1024;
    public const long MaxPackageBytes = 512L * 1024 * 1024;

    public async Task<ModelPackageRecord> UploadAsync(string name, byte[] zip, CancellationToken cancellationToken)
    {
        if (!Topics.IsValidDeviceId(name) && !IsPackageName(name))
        {
            throw new ArgumentException("name must be letters, digits, '.', '-' or '_' (the package folder name, e.g. cxr-pneumonia-3.0.0).");
        }
        try
        {
            using var archive = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read);
            if (archive.GetEntry("manifest.json") is null)
            {
                throw new ArgumentException("the zip holds no manifest.json at its top level.");
            }
        }
        catch (InvalidDataException ex)
        {
            throw new ArgumentException("not a zip file: " + ex.Message);
        }
        var record = new ModelPackageRecord(
            "pkg-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)), name, Convert.ToHexStringLower(SHA256.HashData(zip)), zip.LongLength, time.GetUtcNow());
        await store.SavePackageAsync(record, zip, cancellationToken).ConfigureAwait(false);
        return record;
    }

    /// <summary>Publishes the offer to each device's <c>models/offer</c> topic.</summary>
    public async Task<ModelOfferV1?> OfferAsync(string packageId, IReadOnlyList<string> deviceIds, CancellationToken cancellationToken)
    {
        var package = await store.GetPackageAsync(packageId, cancellationToken).ConfigureAwait(false);
        if (package is null)
        {
            return null;
        }
        var p = package.Value.Package;
        var offer = new ModelOfferV1(p.PackageId, p.Name, p.Sha256, p.SizeBytes, $"/api/models/{p.PackageId}/content", ChunkBytes);
        var payload = ContractJson.Serialize(offer);
        foreach (var deviceId in deviceIds)
        {
            if (!Topics.IsValidDeviceId(deviceId))
            {
                throw new ArgumentException($"'{deviceId}' is not a device id.");
            }
            await devices.PublishAsync(Topics.ModelOffer(deviceId), payload, cancellationToken).ConfigureAwait(false);
        }
        return offer;
    }

    private static bool IsPackageName(string name) =>
        name.Length is > 0 and <= 128 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') && !name.StartsWith('.');
}
