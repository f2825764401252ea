namespace MedVision.Edge.Inference;

/// <summary>
/// Turns a <see cref="GrayscaleImage"/> into a model input tensor exactly as the training code does
/// (<c>models/factory/preprocess.py</c>): photometric inversion → area resize → per-image min-max →
/// normalise → NCHW [1, 1, H, W]. Every step is float32 and in the same order as PyTorch, because a model's
/// thresholds were chosen on values computed that way.
/// </summary>
public sealed class Preprocessor
{
    /// <summary>Returns a new [1, 1, H, W] tensor for <paramref name="image"/>.</summary>
    public float[] Preprocess(GrayscaleImage image, PreprocessingSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var output = new float[spec.Resize.Width * spec.Resize.Height];
        Preprocess(image, spec, output);
        return output;
    }

    /// <summary>Writes the [1, 1, H, W] tensor for <paramref name="image"/> into <paramref name="destination"/>.</summary>
    public void Preprocess(GrayscaleImage image, PreprocessingSpec spec, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(spec);
        image.EnsureValid();
        int outWidth = spec.Resize.Width, outHeight = spec.Resize.Height;
        if (destination.Length != outWidth * outHeight)
        {
            throw new ArgumentException($"Destination holds {destination.Length} values, the model needs {outWidth * outHeight}.", nameof(destination));
        }

        ReadOnlySpan<float> source = image.Pixels;
        float[]? inverted = null;
        var modelWantsMonochrome1 = spec.Photometric == Photometric.Monochrome1;
        if (image.Monochrome1 != modelWantsMonochrome1)
        {
            inverted = Invert(source);
            source = inverted;
        }

        ResizeArea(source, image.Width, image.Height, destination, outWidth, outHeight);
        MinMax(destination);
        Normalize(destination, spec.Normalize.Mean[0], spec.Normalize.Std[0]);
    }

    /// <summary>
    /// Area resize identical to <c>torch.nn.functional.interpolate(mode="area")</c>, i.e.
    /// <c>adaptive_avg_pool2d</c>: output row i averages input rows [floor(i·in/out), ceil((i+1)·in/out)),
    /// likewise for columns. Windows overlap when the size does not divide evenly, and the size may also grow.
    /// </summary>
    public static void ResizeArea(
        ReadOnlySpan<float> source, int inWidth, int inHeight, Span<float> destination, int outWidth, int outHeight)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inHeight);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outHeight);
        if (source.Length != inWidth * inHeight)
        {
            throw new ArgumentException($"Source holds {source.Length} values, expected {inWidth}x{inHeight}.", nameof(source));
        }
        if (destination.Length != outWidth * outHeight)
        {
            throw new ArgumentException($"Destination holds {destination.Length} values, expected {outWidth}x{outHeight}.", nameof(destination));
        }

        for (var oh = 0; oh < outHeight; oh++)
        {
            var ih0 = Start(oh, outHeight, inHeight);
            var ih1 = End(oh, outHeight, inHeight);
            long kh = ih1 - ih0;
            for (var ow = 0; ow < outWidth; ow++)
            {
                var iw0 = Start(ow, outWidth, inWidth);
                var iw1 = End(ow, outWidth, inWidth);
                long kw = iw1 - iw0;
                // Same accumulation as PyTorch's CPU kernel: a float sum in row-major order, then / kh / kw.
                var sum = 0f;
                for (var ih = ih0; ih < ih1; ih++)
                {
                    var row = source.Slice(ih * inWidth, inWidth);
                    for (var iw = iw0; iw < iw1; iw++)
                    {
                        sum += row[iw];
                    }
                }
                destination[oh * outWidth + ow] = sum / kh / kw;
            }
        }
    }

    /// <summary>Returns a resized copy; see the span overload.</summary>
    public static float[] ResizeArea(ReadOnlySpan<float> source, int inWidth, int inHeight, int outWidth, int outHeight)
    {
        var destination = new float[outWidth * outHeight];
        ResizeArea(source, inWidth, inHeight, destination, outWidth, outHeight);
        return destination;
    }

    // floor(i * in / out) and ceil((i + 1) * in / out) in exact integer arithmetic.
    private static int Start(int index, int outSize, int inSize) => (int)((long)index * inSize / outSize);

    private static int End(int index, int outSize, int inSize) => (int)(((long)(index + 1) * inSize + outSize - 1) / outSize);

    /// <summary>x → max + min − x over the image's own range, so high values become bright.</summary>
    private static float[] Invert(ReadOnlySpan<float> source)
    {
        var (min, max) = Range(source);
        var sum = max + min;
        var inverted = new float[source.Length];
        for (var i = 0; i < source.Length; i++)
        {
            inverted[i] = sum - source[i];
        }
        return inverted;
    }

    /// <summary>Per-image min-max to [0, 1]; a constant image becomes all zeros.</summary>
    private static void MinMax(Span<float> values)
    {
        var (min, max) = Range(values);
        var range = max - min;
        if (range == 0)
        {
            values.Clear();
            return;
        }
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (values[i] - min) / range;
        }
    }

    private static void Normalize(Span<float> values, float mean, float std)
    {
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (values[i] - mean) / std;
        }
    }

    private static (float Min, float Max) Range(ReadOnlySpan<float> values)
    {
        var min = float.PositiveInfinity;
        var max = float.NegativeInfinity;
        foreach (var value in values)
        {
            if (!float.IsFinite(value))
            {
                throw new ArgumentException("Image contains NaN or infinite values.");
            }
            min = Math.Min(min, value);
            max = Math.Max(max, value);
        }
        return (min, max);
    }
}
