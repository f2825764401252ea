using MedVision.Dicom.Imaging;

namespace MedVision.Edge.Outputs.Heatmaps;

/// <summary>Draws a heat map over the source image as it would be displayed (its VOI window, 8-bit).</summary>
public static class HeatmapOverlay
{
    /// <summary>Heat map opacity at value 1; lower values fade out so cold regions show the image untouched.</summary>
    public const double MaxOpacity = 0.55;

    /// <summary>
    /// RGB pixels (colour-by-pixel) of <paramref name="background"/> (grey or RGB rendering of the source) with a jet colour map of
    /// <paramref name="heatmap"/> (same geometry, values 0..1) blended on top, opacity proportional to the value.
    /// </summary>
    public static byte[] Blend(RenderedImage background, ReadOnlySpan<float> heatmap)
    {
        ArgumentNullException.ThrowIfNull(background);
        var pixels = background.Width * background.Height;
        if (heatmap.Length != pixels)
        {
            throw new ArgumentException($"Heat map has {heatmap.Length} values for a {background.Width}x{background.Height} image.", nameof(heatmap));
        }
        var rgb = new byte[pixels * 3];
        for (var i = 0; i < pixels; i++)
        {
            var v = Math.Clamp(heatmap[i], 0f, 1f);
            Jet(v, out var r, out var g, out var b);
            var alpha = MaxOpacity * v;
            for (var c = 0; c < 3; c++)
            {
                double under = background.Channels == 1 ? background.Pixels[i] : background.Pixels[i * 3 + c];
                double over = c == 0 ? r : c == 1 ? g : b;
                rgb[i * 3 + c] = (byte)Math.Clamp(Math.Round(under * (1 - alpha) + over * alpha), 0, 255);
            }
        }
        return rgb;
    }

    /// <summary>The classic piecewise-linear jet map: blue (0) → cyan → yellow → red (1).</summary>
    public static void Jet(float v, out double r, out double g, out double b)
    {
        r = 255 * Math.Clamp(1.5 - Math.Abs(4 * v - 3), 0, 1);
        g = 255 * Math.Clamp(1.5 - Math.Abs(4 * v - 2), 0, 1);
        b = 255 * Math.Clamp(1.5 - Math.Abs(4 * v - 1), 0, 1);
    }
}
