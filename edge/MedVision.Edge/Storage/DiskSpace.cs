using Microsoft.Extensions.Options;

namespace MedVision.Edge.Storage;

/// <summary>Free space on the storage root's filesystem, against the low-disk watermark.</summary>
public interface IDiskSpace
{
    /// <summary>Bytes available to this process on the filesystem holding the storage root.</summary>
    long FreeBytes { get; }

    /// <summary>The watermark, <see cref="StorageOptions.MinFreeDiskMegabytes"/>, in bytes.</summary>
    long MinFreeBytes { get; }

    /// <summary>
    /// Whether <paramref name="bytes"/> more can be written and still leave the watermark free. The ingest
    /// asks before accepting an instance: refusing a C-STORE is recoverable, a half-written spool file is not.
    /// </summary>
    bool HasRoomFor(long bytes);

    /// <summary>True when free space is already below the watermark.</summary>
    bool IsBelowWatermark { get; }
}

/// <inheritdoc />
public sealed class DiskSpace(IOptions<StorageOptions> options) : IDiskSpace
{
    private readonly StorageOptions _options = options.Value;

    public string Root => _options.Root;

    public long FreeBytes
    {
        get
        {
            // DriveInfo on Linux calls statfs on the path it is given; the root may not exist before the first
            // migration, so ask about the nearest existing ancestor, which is on the same filesystem.
            var probe = NearestExistingDirectory(_options.Root);
            return new DriveInfo(probe).AvailableFreeSpace;
        }
    }

    public long MinFreeBytes => _options.MinFreeDiskBytes;

    public bool IsBelowWatermark => !HasRoomFor(0);

    public bool HasRoomFor(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        // Not logged here: the caller knows what was refused, and /healthz polls this too.
        return FreeBytes - bytes >= MinFreeBytes;
    }

    private static string NearestExistingDirectory(string path)
    {
        var current = Path.GetFullPath(path);
        while (!Directory.Exists(current))
        {
            var parent = Path.GetDirectoryName(current);
            if (parent is null)
            {
                break;
            }
            current = parent;
        }
        return current;
    }
}
