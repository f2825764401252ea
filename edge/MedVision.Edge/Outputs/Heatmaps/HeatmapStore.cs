using System.Text;
using MedVision.Dicom;
using MedVision.Dicom.Imaging;
using MedVision.Edge.Inference;
using MedVision.Edge.Storage;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Outputs.Heatmaps;

/// <summary>
/// Keeps heat maps under <c>{storage root}/heatmaps/{study}/{instance}/</c>: per (model, version, label) a float32 map at the
/// source geometry (<c>.f32</c>: little-endian, row-major, 0..1) and a colour overlay PNG, rendered from the CAM recorded with the
/// finding when outputs are made. Files are written to a temporary name and
/// renamed, but not fsync'd: a heat map is derived data, and three fsyncs per instance made the pipeline six times slower. After a
/// crash a map may be short or empty, so readers check <see cref="IsIntact"/> and report the finding without it.
/// </summary>
public sealed class HeatmapStore(IOptions<StorageOptions> storage, UidGenerator uids, IDiskSpace disk, ILogger<HeatmapStore> logger)
{
    public const string FolderName = "heatmaps";

    public const string FloatMapExtension = ".f32";

    public const string OverlayExtension = ".png";

    /// <summary>Absolute path of a path stored relative to the storage root.</summary>
    public string Resolve(string relativePath) => Path.GetFullPath(Path.Combine(storage.Value.Root, relativePath));

    /// <summary>
    /// Records where the heat map of <paramref name="cam"/> for an image of <paramref name="columns"/> × <paramref name="rows"/> will be
    /// rendered and reserves the UID of the Parametric Map that will carry it. No file is written here: the pipeline stays as fast as
    /// the model, and <see cref="MaterializeAsync"/> renders the map when outputs are made.
    /// </summary>
    public HeatmapRecord Plan(string studyUid, string sopInstanceUid, string modelId, string modelVersion, CamMap cam, int columns, int rows)
    {
        ArgumentNullException.ThrowIfNull(cam);
        var folder = Path.Combine(FolderName, SafeName(studyUid), SafeName(sopInstanceUid));
        var stem = $"{SafeName(modelId)}_{SafeName(modelVersion)}_{SafeName(cam.Label)}";
        return new HeatmapRecord(uids.NewUid(), columns, rows, Path.Combine(folder, stem + FloatMapExtension), Path.Combine(folder, stem + OverlayExtension),
            cam.Width, cam.Height, cam.Values);
    }

    /// <summary>
    /// Makes the files of <paramref name="heatmap"/> unless they are intact already: the CAM upsampled bilinearly to the source's
    /// Columns × Rows (float map) and the source, rendered in its own VOI window, with the map blended on top (overlay PNG). False
    /// (logged) when that would take free disk below the ingest watermark: the space is kept for receiving images, which must never
    /// be refused for the sake of a picture.
    /// </summary>
    public async Task<bool> MaterializeAsync(HeatmapRecord heatmap, string sourcePath, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(heatmap);
        if (IsIntact(heatmap))
        {
            return true;
        }
        // Float map plus an uncompressed-size bound for the RGB overlay.
        var needed = (long)heatmap.Columns * heatmap.Rows * (sizeof(float) + 3);
        if (!disk.HasRoomFor(needed))
        {
            OutputsLog.HeatmapSkippedLowDisk(logger, heatmap.FloatMapPath, needed / (1024 * 1024));
            return false;
        }
        var background = DicomImage.Open(DicomFile.Open(sourcePath)).Render(0);
        if (background.Width != heatmap.Columns || background.Height != heatmap.Rows)
        {
            throw new InvalidDataException($"Source {sourcePath} is {background.Width}x{background.Height}; the heat map was planned for {heatmap.Columns}x{heatmap.Rows}.");
        }
        var map = HeatmapResampler.Bilinear(heatmap.Cam, heatmap.CamWidth, heatmap.CamHeight, heatmap.Columns, heatmap.Rows);
        Directory.CreateDirectory(Path.GetDirectoryName(Resolve(heatmap.FloatMapPath))!);
        await WriteAndRenameAsync(Resolve(heatmap.FloatMapPath), HeatmapRecordEncoding.ToBytes(map), cancellationToken).ConfigureAwait(false);
        using (var png = new MemoryStream())
        {
            PngWriter.Write(png, background.Width, background.Height, 3, HeatmapOverlay.Blend(background, map));
            await WriteAndRenameAsync(Resolve(heatmap.OverlayPngPath), png.ToArray(), cancellationToken).ConfigureAwait(false);
        }
        OutputsLog.HeatmapStored(logger, heatmap.FloatMapPath, heatmap.Columns, heatmap.Rows);
        return true;
    }

    /// <summary>Reads a stored float map (see <see cref="SaveAsync"/>) back into row-major values.</summary>
    public static async Task<float[]> ReadFloatMapAsync(string path, int columns, int rows, CancellationToken cancellationToken)
    {
        var bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        if (bytes.Length != (long)columns * rows * sizeof(float))
        {
            throw new InvalidDataException($"Heat map {path} has {bytes.Length} bytes; {columns}x{rows} float32 needs {(long)columns * rows * sizeof(float)}.");
        }
        return HeatmapRecordEncoding.FromBytes(bytes);
    }

    /// <summary>Whether both files of a stored heat map are complete: the float map has exactly its size, the PNG ends with IEND.</summary>
    public bool IsIntact(HeatmapRecord heatmap)
    {
        ArgumentNullException.ThrowIfNull(heatmap);
        var floatMap = new FileInfo(Resolve(heatmap.FloatMapPath));
        if (!floatMap.Exists || floatMap.Length != (long)heatmap.Columns * heatmap.Rows * sizeof(float))
        {
            return false;
        }
        var pngPath = Resolve(heatmap.OverlayPngPath);
        if (!File.Exists(pngPath))
        {
            return false;
        }
        using var png = new FileStream(pngPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        if (png.Length < PngEnd.Length)
        {
            return false;
        }
        Span<byte> tail = stackalloc byte[PngEnd.Length];
        png.Seek(-PngEnd.Length, SeekOrigin.End);
        png.ReadExactly(tail);
        return tail.SequenceEqual(PngEnd);
    }

    /// <summary>The IEND chunk every PNG ends with: zero length, type, CRC.</summary>
    private static ReadOnlySpan<byte> PngEnd => [0, 0, 0, 0, (byte)'I', (byte)'E', (byte)'N', (byte)'D', 0xAE, 0x42, 0x60, 0x82];

    private static async Task WriteAndRenameAsync(string path, byte[] content, CancellationToken cancellationToken)
    {
        // Temporary name + rename: a reader never sees a file being written, and a rewrite replaces the old map whole.
        var temporary = path + ".partial";
        await using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
        {
            await stream.WriteAsync(content, cancellationToken).ConfigureAwait(false);
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
