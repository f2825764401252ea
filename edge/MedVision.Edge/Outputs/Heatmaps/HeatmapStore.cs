using System.Buffers.Binary;
using System.Text;
using MedVision.Dicom.Imaging;
using MedVision.Edge.Inference;
using MedVision.Edge.Storage;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Outputs.Heatmaps;

/// <summary>
/// Keeps heat maps under <c>{storage root}/heatmaps/{study}/{instance}/</c>: per (model, version, label) a float32 map at the
/// source geometry (<c>.f32</c>: little-endian, row-major, 0..1) and a colour overlay PNG. Files are written to a temporary name,
/// fsync'd and renamed, so a crash leaves either the old or the new map, never half of one.
/// </summary>
public sealed class HeatmapStore(IOptions<StorageOptions> storage, UidGenerator uids, IDiskSpace disk, ILogger<HeatmapStore> logger)
{
    public const string FolderName = "heatmaps";

    public const string FloatMapExtension = ".f32";

    public const string OverlayExtension = ".png";

    /// <summary>Absolute path of a path stored relative to the storage root.</summary>
    public string Resolve(string relativePath) => Path.GetFullPath(Path.Combine(storage.Value.Root, relativePath));

    /// <summary>
    /// Upsamples <paramref name="cam"/> to <paramref name="background"/>'s geometry (the source's Columns × Rows), writes the float map
    /// and the overlay, and reserves the UID of the Parametric Map that will carry it. Null (logged) when the maps would take free disk
    /// below the ingest watermark: the space is kept for receiving images, which must never be refused for the sake of a picture.
    /// </summary>
    public async Task<HeatmapRecord?> SaveAsync(
        string studyUid, string sopInstanceUid, string modelId, string modelVersion, CamMap cam, RenderedImage background, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(cam);
        ArgumentNullException.ThrowIfNull(background);
        // Float map plus an uncompressed-size bound for the RGB overlay.
        var needed = (long)background.Width * background.Height * (sizeof(float) + 3);
        if (!disk.HasRoomFor(needed))
        {
            OutputsLog.HeatmapSkippedLowDisk(logger, sopInstanceUid, modelId, cam.Label, needed / (1024 * 1024));
            return null;
        }
        var map = HeatmapResampler.Bilinear(cam.Values, cam.Width, cam.Height, background.Width, background.Height);
        var folder = Path.Combine(FolderName, SafeName(studyUid), SafeName(sopInstanceUid));
        var stem = $"{SafeName(modelId)}_{SafeName(modelVersion)}_{SafeName(cam.Label)}";
        var floatPath = Path.Combine(folder, stem + FloatMapExtension);
        var pngPath = Path.Combine(folder, stem + OverlayExtension);
        Directory.CreateDirectory(Resolve(folder));

        var floats = new byte[map.Length * sizeof(float)];
        for (var i = 0; i < map.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(floats.AsSpan(i * sizeof(float)), map[i]);
        }
        await WriteDurablyAsync(Resolve(floatPath), floats, cancellationToken).ConfigureAwait(false);

        using (var png = new MemoryStream())
        {
            PngWriter.Write(png, background.Width, background.Height, 3, HeatmapOverlay.Blend(background, map));
            await WriteDurablyAsync(Resolve(pngPath), png.ToArray(), cancellationToken).ConfigureAwait(false);
        }
        Ingest.Durability.FsyncDirectory(Resolve(folder));
        OutputsLog.HeatmapStored(logger, sopInstanceUid, modelId, cam.Label, background.Width, background.Height, floatPath);
        return new HeatmapRecord(uids.NewUid(), background.Width, background.Height, floatPath, pngPath);
    }

    /// <summary>Reads a stored float map (see <see cref="SaveAsync"/>) back into row-major values.</summary>
    public static async Task<float[]> ReadFloatMapAsync(string path, int columns, int rows, CancellationToken cancellationToken)
    {
        var bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        if (bytes.Length != (long)columns * rows * sizeof(float))
        {
            throw new InvalidDataException($"Heat map {path} has {bytes.Length} bytes; {columns}x{rows} float32 needs {(long)columns * rows * sizeof(float)}.");
        }
        var values = new float[columns * rows];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * sizeof(float)));
        }
        return values;
    }

    private static async Task WriteDurablyAsync(string path, byte[] content, CancellationToken cancellationToken)
    {
        var temporary = path + ".partial";
        await using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
        {
            await stream.WriteAsync(content, cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>UIDs, model ids and versions are safe already; labels come from a manifest, so anything else becomes '_'.</summary>
    private static string SafeName(string value)
    {
        var builder = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '_');
        }
        var name = builder.ToString();
        return name is "" or "." or ".." ? "_" : name;
    }
}
