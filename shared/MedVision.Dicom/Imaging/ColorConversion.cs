namespace MedVision.Dicom.Imaging;

/// <summary>Colour space conversions of PS3.3 C.7.6.3.1.2, at any bit depth (the equations scale with the range).</summary>
public static class ColorConversion
{
    /// <summary>YBR_FULL / YBR_FULL_422 (expanded) to RGB in place, values in 0 … 2^bits − 1.</summary>
    public static void YbrFullToRgb(int[] values, int bits)
    {
        var max = (1 << bits) - 1;
        double half = 1 << (bits - 1);
        for (var i = 0; i + 2 < values.Length; i += 3)
        {
            double y = values[i], cb = values[i + 1] - half, cr = values[i + 2] - half;
            values[i] = Clamp(y + 1.402 * cr, max);
            values[i + 1] = Clamp(y - 0.344136 * cb - 0.714136 * cr, max);
            values[i + 2] = Clamp(y + 1.772 * cb, max);
        }
    }

    /// <summary>YBR_PARTIAL_422/420 (studio range, ITU-R BT.601) to RGB in place.</summary>
    public static void YbrPartialToRgb(int[] values, int bits)
    {
        var max = (1 << bits) - 1;
        var scale = (double)(1 << Math.Max(0, bits - 8));
        for (var i = 0; i + 2 < values.Length; i += 3)
        {
            double y = values[i] - 16 * scale, cb = values[i + 1] - 128 * scale, cr = values[i + 2] - 128 * scale;
            values[i] = Clamp(1.1644 * y + 1.5960 * cr, max);
            values[i + 1] = Clamp(1.1644 * y - 0.3918 * cb - 0.8130 * cr, max);
            values[i + 2] = Clamp(1.1644 * y + 2.0172 * cb, max);
        }
    }

    private static int Clamp(double v, int max) => (int)Math.Clamp(Math.Round(v, MidpointRounding.AwayFromZero), 0, max);
}
