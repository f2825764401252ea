using MedVision.Dicom.Imaging;

namespace MedVision.Dicom.Tests.Imaging;

/// <summary>Differences between two frames' sample values, after bringing both into the same colour space.</summary>
internal sealed record FrameDifference(int MaxAbs, double Mean, int Differing, int Samples)
{
    public bool Exact => MaxAbs == 0;

    public static FrameDifference Between(PixelFrame ours, PixelFrame reference)
    {
        Assert.Equal(reference.Width, ours.Width);
        Assert.Equal(reference.Height, ours.Height);
        Assert.Equal(reference.SamplesPerPixel, ours.SamplesPerPixel);
        var a = ours.Values;
        var b = reference.Values;
        if (ours.PhotometricInterpretation != reference.PhotometricInterpretation && ours.SamplesPerPixel == 3)
        {
            // e.g. gdcm keeps YBR_FULL where we decode JPEG to RGB: compare in RGB.
            a = ToRgb(ours);
            b = ToRgb(reference);
        }
        Assert.Equal(b.Length, a.Length);
        var max = 0;
        long sum = 0;
        var differing = 0;
        for (var i = 0; i < a.Length; i++)
        {
            var d = Math.Abs((long)a[i] - b[i]);
            if (d != 0)
            {
                differing++;
                sum += d;
                max = (int)Math.Max(max, Math.Min(d, int.MaxValue));
            }
        }
        return new FrameDifference(max, a.Length == 0 ? 0 : (double)sum / a.Length, differing, a.Length);
    }

    private static int[] ToRgb(PixelFrame frame)
    {
        var values = (int[])frame.Values.Clone();
        if (frame.PhotometricInterpretation.StartsWith("YBR_FULL", StringComparison.Ordinal))
        {
            ColorConversion.YbrFullToRgb(values, frame.BitsStored);
        }
        return values;
    }
}
