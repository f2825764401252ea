using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Inference;

/// <summary>
/// Runs a loaded package on its manifest's <c>golden</c> samples (uint8 images in an npz under
/// <see cref="ModelUpdateOptions.GoldenDataDirectory"/>) and compares with the recorded probabilities: proof that
/// this appliance's decoder, preprocessing and runtime reproduce what the model was validated with.
/// </summary>
public sealed partial class GoldenSetVerifier(IOptions<ModelUpdateOptions> options)
{
    /// <summary>Largest |Δp| and sample count; throws <see cref="ModelPackageException"/> saying why the package fails.</summary>
    public (double MaxDelta, int Samples) Verify(LoadedModel model, CancellationToken cancellationToken)
    {
        var dataRoot = options.Value.GoldenDataDirectory;
        if (string.IsNullOrWhiteSpace(dataRoot))
        {
            throw new ModelPackageException($"{ModelUpdateOptions.Section}:GoldenDataDirectory is not configured, so the golden set cannot be checked");
        }
        dataRoot = Path.GetFullPath(dataRoot, AppContext.BaseDirectory);
        // The typed manifest has no 'data' member, so the golden list is read from the manifest JSON itself.
        var manifest = JsonNode.Parse(File.ReadAllBytes(Path.Combine(model.PackageDirectory, ModelManifest.FileName)));
        if (manifest?["golden"] is not JsonArray golden || golden.Count == 0)
        {
            throw new ModelPackageException("the manifest has no golden set");
        }
        var arrays = new Dictionary<string, (int[] Shape, byte[] Data)>(StringComparer.Ordinal);
        var maxDelta = 0.0;
        foreach (var sample in golden)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var data = (string?)sample?["data"] ?? throw new ModelPackageException("a golden sample names no 'data' file");
            var split = (string?)sample!["split"] ?? "test";
            var index = (int?)sample["index"] ?? throw new ModelPackageException("a golden sample has no 'index'");
            var expected = (double?)sample["probability"] ?? throw new ModelPackageException("a golden sample has no 'probability'");
            var path = Path.GetFullPath(data, dataRoot);
            if (!arrays.TryGetValue(path + "|" + split, out var array))
            {
                array = ReadUInt8Images(path, split + "_images");
                arrays[path + "|" + split] = array;
            }
            int count = array.Shape[0], height = array.Shape[1], width = array.Shape[2];
            if (index < 0 || index >= count)
            {
                throw new ModelPackageException($"golden index {index} is outside {data} {split} ({count} images)");
            }
            var pixels = new float[width * height];
            var source = array.Data.AsSpan(index * width * height, width * height);
            for (var i = 0; i < pixels.Length; i++)
            {
                pixels[i] = source[i];
            }
            var outputs = model.Predict(new GrayscaleImage(width, height, pixels, Monochrome1: false)).Outputs;
            var delta = Math.Abs(outputs[0].Probability - expected);
            maxDelta = Math.Max(maxDelta, delta);
            if (!(delta <= options.Value.GoldenTolerance))
            {
                throw new ModelPackageException(string.Create(CultureInfo.InvariantCulture,
                    $"golden sample {data} {split}[{index}] gives {outputs[0].Probability:F7}, the manifest records {expected:F7} (tolerance {options.Value.GoldenTolerance})"));
            }
        }
        return (maxDelta, golden.Count);
    }

    /// <summary>Reads one uint8 C-order array of shape [N, H, W] from an npz (numpy's zip of .npy files).</summary>
    internal static (int[] Shape, byte[] Data) ReadUInt8Images(string npzPath, string arrayName)
    {
        if (!File.Exists(npzPath))
        {
            throw new ModelPackageException($"golden data '{npzPath}' does not exist");
        }
        try
        {
            using var zip = ZipFile.OpenRead(npzPath);
            var entry = zip.GetEntry(arrayName + ".npy") ?? throw new ModelPackageException($"golden data '{npzPath}' has no array '{arrayName}'");
            using var stream = entry.Open();
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var bytes = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
            if (bytes.Length < 10 || bytes[0] != 0x93 || !bytes[1..6].SequenceEqual("NUMPY"u8))
            {
                throw new ModelPackageException($"'{arrayName}' in '{npzPath}' is not a .npy array");
            }
            var major = bytes[6];
            var headerLength = major == 1 ? BitConverter.ToUInt16(bytes[8..10]) : (int)BitConverter.ToUInt32(bytes[8..12]);
            var headerStart = major == 1 ? 10 : 12;
            var header = Encoding.ASCII.GetString(bytes.Slice(headerStart, headerLength));
            if (!header.Contains("'|u1'", StringComparison.Ordinal) || header.Contains("'fortran_order': True", StringComparison.Ordinal))
            {
                throw new ModelPackageException($"'{arrayName}' in '{npzPath}' is not a C-order uint8 array ({header.Trim()})");
            }
            var shape = ShapePattern().Match(header) is { Success: true } m
                ? m.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray()
                : [];
            if (shape.Length != 3)
            {
                throw new ModelPackageException($"'{arrayName}' in '{npzPath}' has shape ({string.Join(", ", shape)}), expected (N, H, W)");
            }
            var data = bytes[(headerStart + headerLength)..].ToArray();
            if (data.Length != (long)shape[0] * shape[1] * shape[2])
            {
                throw new ModelPackageException($"'{arrayName}' in '{npzPath}' holds {data.Length} bytes for shape ({string.Join(", ", shape)})");
            }
            return (shape, data);
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or NotSupportedException or FormatException)
        {
            throw new ModelPackageException($"golden data '{npzPath}' cannot be read: {ex.Message}", ex);
        }
    }

    [GeneratedRegex(@"'shape':\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
