using System.IO.Compression;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using MedVision.Contracts;
using MedVision.Edge.Inference;
using MedVision.Edge.Storage;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Sync;

/// <summary>Wakes the model delivery loop when an offer arrived.</summary>
public sealed class ModelOfferSignal : WakeSignal;

/// <summary>
/// Offers from the hub, kept as files until handled, so an offer acknowledged to the broker survives a restart.
/// </summary>
public sealed class ModelOfferInbox(IOptions<StorageOptions> storage, ModelOfferSignal signal)
{
    public string Directory { get; } = Path.Combine(storage.Value.Root, "cloud", "offers");

    /// <summary>Checks an offer and stores it; false (nothing stored) when it is malformed.</summary>
    public async Task<bool> AcceptAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        ModelOfferV1? offer;
        try
        {
            offer = JsonSerializer.Deserialize<ModelOfferV1>(payload.Span, ContractJson.Options);
        }
        catch (JsonException)
        {
            return false;
        }
        if (offer is null || !IsSafeName(offer.PackageId) || !IsSafeName(offer.Name) || offer.Sha256 is not { Length: 64 }
            || !offer.Sha256.All(char.IsAsciiHexDigit) || offer.SizeBytes <= 0 || offer.ChunkBytes is < 1024 or > 16 * 1024 * 1024
            || !offer.ContentPath.StartsWith("/api/models/", StringComparison.Ordinal))
        {
            return false;
        }
        System.IO.Directory.CreateDirectory(Directory);
        var path = Path.Combine(Directory, offer.PackageId + ".json");
        await File.WriteAllBytesAsync(path + ".tmp", payload.ToArray(), cancellationToken).ConfigureAwait(false);
        File.Move(path + ".tmp", path, overwrite: true);
        signal.Notify();
        return true;
    }

    public IReadOnlyList<string> Pending() =>
        System.IO.Directory.Exists(Directory) ? System.IO.Directory.GetFiles(Directory, "*.json").Order(StringComparer.Ordinal).ToList() : [];

    internal static bool IsSafeName(string? name) =>
        name is { Length: > 0 and <= 128 } && name[0] != '.' && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
}

/// <summary>
/// Fetches offered model packages from the hub in chunks (HTTP Range, resumable), checks the SHA-256 of the download
/// and then the package's own signature and ONNX hash (<see cref="ModelPackageLoader"/>), moves it into the models
/// folder for the hot swap (<see cref="ModelWatcherService"/>: golden set, atomic swap) and reports the outcome.
/// </summary>
public sealed class ModelDeliveryService(
    ModelOfferInbox inbox,
    ModelOfferSignal signal,
    DeviceCredentialStore credentials,
    ModelPackageLoader loader,
    ModelRegistry registry,
    CloudOutbox outbox,
    IHttpClientFactory http,
    IOptions<CloudOptions> options,
    IOptions<InferenceOptions> inference,
    IOptions<StorageOptions> storage,
    TimeProvider time,
    ILogger<ModelDeliveryService> logger) : BackgroundService
{
    private static readonly TimeSpan SwapTimeout = TimeSpan.FromMinutes(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            IReadOnlyList<string> pending;
            try
            {
                pending = inbox.Pending();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A disk or permission fault must not end the host: the offers stay on disk for the next pass.
                SyncLog.OffersUnreadable(logger, inbox.Directory, ex);
                pending = [];
            }
            foreach (var file in pending)
            {
                try
                {
                    var offer = JsonSerializer.Deserialize<ModelOfferV1>(await File.ReadAllBytesAsync(file, stoppingToken).ConfigureAwait(false), ContractJson.Options)!;
                    var result = await HandleAsync(offer, stoppingToken).ConfigureAwait(false);
                    if (result is not null)
                    {
                        await ReportAsync(offer, result, stoppingToken).ConfigureAwait(false);
                        File.Delete(file);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    // Network trouble: the offer stays and the download resumes on the next pass.
                    SyncLog.ModelDownloadDeferred(logger, Path.GetFileNameWithoutExtension(file), ex.Message);
                }
            }
            await signal.WaitAsync(TimeSpan.FromSeconds(30), stoppingToken).ConfigureAwait(false);
        }
    }

    /// <summary>The outcome to report, or null to try again later.</summary>
    private async Task<ModelUpdateV1?> HandleAsync(ModelOfferV1 offer, CancellationToken cancellationToken)
    {
        var device = await credentials.LoadAsync(cancellationToken).ConfigureAwait(false);
        if (device is null)
        {
            return null;
        }
        var work = Path.Combine(storage.Value.Root, "cloud", "downloads");
        Directory.CreateDirectory(work);
        var partial = Path.Combine(work, offer.PackageId + ".partial");
        await DownloadAsync(offer, device, partial, cancellationToken).ConfigureAwait(false);

        var sha = await HashAsync(partial, cancellationToken).ConfigureAwait(false);
        if (!sha.Equals(offer.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            File.Delete(partial);
            return Rejected(offer, $"download sha256 {sha} differs from the offered {offer.Sha256}");
        }

        var staging = Path.Combine(work, offer.PackageId);
        if (Directory.Exists(staging))
        {
            Directory.Delete(staging, recursive: true);
        }
        try
        {
            // ExtractToDirectory refuses entries that would land outside the folder.
            ZipFile.ExtractToDirectory(partial, staging);
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException)
        {
            File.Delete(partial);
            return Rejected(offer, "not a valid package archive: " + ex.Message);
        }
        File.Delete(partial);

        ModelManifest manifest;
        try
        {
            using var model = loader.LoadPackage(staging, cancellationToken);
            manifest = model.Manifest;
        }
        catch (ModelPackageException ex)
        {
            Directory.Delete(staging, recursive: true);
            return Rejected(offer, ex.Message);
        }

        var target = Path.Combine(inference.Value.ModelsDirectory, offer.Name);
        if (Directory.Exists(target))
        {
            Directory.Delete(staging, recursive: true);
            return Rejected(offer, $"a package folder {offer.Name} is already installed");
        }
        try
        {
            // One rename when the models folder is on the same file system, so the scanner never sees half a package.
            Directory.Move(staging, target);
        }
        catch (IOException)
        {
            CopyDirectory(staging, target);
            Directory.Delete(staging, recursive: true);
        }
        SyncLog.ModelInstalled(logger, offer.Name, manifest.Id, manifest.Version);

        var deadline = time.GetUtcNow() + SwapTimeout;
        while (time.GetUtcNow() < deadline)
        {
            if (registry.Models.Any(m => m.Id == manifest.Id && m.Version == manifest.Version))
            {
                return new ModelUpdateV1(offer.PackageId, offer.Name, offer.Sha256, "active", null, manifest.Id, manifest.Version);
            }
            if (registry.Errors.FirstOrDefault(e => e.Package == offer.Name) is { } error)
            {
                return new ModelUpdateV1(offer.PackageId, offer.Name, offer.Sha256, "rejected", error.Reason, manifest.Id, manifest.Version);
            }
            await Task.Delay(TimeSpan.FromMilliseconds(250), time, cancellationToken).ConfigureAwait(false);
        }
        return new ModelUpdateV1(offer.PackageId, offer.Name, offer.Sha256, "rejected", "not swapped in within 5 minutes (is MedVision:ModelUpdates:ScanSeconds 0?)", manifest.Id, manifest.Version);
    }

    private async Task DownloadAsync(ModelOfferV1 offer, DeviceCredentials device, string partial, CancellationToken cancellationToken)
    {
        using var client = http.CreateClient(CloudSyncAgent.HttpClientName);
        client.Timeout = TimeSpan.FromSeconds(60);
        var url = new Uri(new Uri(options.Value.HubUrl!), offer.ContentPath);
        var auth = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{device.DeviceId}:{device.Password}")));
        await using var file = new FileStream(partial, FileMode.Append, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
        // Resumes where an earlier attempt stopped.
        while (file.Length < offer.SizeBytes)
        {
            var from = file.Length;
            var to = Math.Min(from + offer.ChunkBytes, offer.SizeBytes) - 1;
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.Authorization = auth;
            request.Headers.Range = new RangeHeaderValue(from, to);
            using var response = await client.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode != System.Net.HttpStatusCode.PartialContent)
            {
                throw new HttpRequestException($"chunk {from}-{to}: HTTP {(int)response.StatusCode}");
            }
            var chunk = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            if (chunk.Length != to - from + 1)
            {
                throw new HttpRequestException($"chunk {from}-{to}: {chunk.Length} bytes");
            }
            await file.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
            await file.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ReportAsync(ModelOfferV1 offer, ModelUpdateV1 result, CancellationToken cancellationToken)
    {
        if (result.Status != "active")
        {
            SyncLog.ModelRejected(logger, offer.Name, result.Reason ?? "");
        }
        await outbox.EnqueueAsync(
            [("m-" + offer.PackageId, OutboxPriority.Finding, MessageTypes.ModelUpdate, JsonSerializer.Serialize(result, ContractJson.Options), time.GetUtcNow())],
            cancellationToken).ConfigureAwait(false);
    }

    private static ModelUpdateV1 Rejected(ModelOfferV1 offer, string reason) => new(offer.PackageId, offer.Name, offer.Sha256, "rejected", reason, null, null);

    private static async Task<string> HashAsync(string path, CancellationToken cancellationToken)
    {
        await using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
    }

    private static void CopyDirectory(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (var file in Directory.GetFiles(source))
        {
            File.Copy(file, Path.Combine(destination, Path.GetFileName(file)));
        }
        foreach (var directory in Directory.GetDirectories(source))
        {
            CopyDirectory(directory, Path.Combine(destination, Path.GetFileName(directory)));
        }
    }
}
