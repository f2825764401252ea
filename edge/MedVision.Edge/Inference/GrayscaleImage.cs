namespace MedVision.Edge.Inference;

/// <summary>
/// One frame as the models see it before preprocessing: row-major values after the modality LUT
/// (rescale slope/intercept), <see cref="Width"/> × <see cref="Height"/> of them.
/// </summary>
/// <param name="Monochrome1">True when low values are bright (Photometric Interpretation MONOCHROME1).</param>
public sealed record GrayscaleImage(int Width, int Height, float[] Pixels, bool Monochrome1)
{
    /// <summary>Throws when the dimensions and the pixel buffer disagree.</summary>
    public void EnsureValid()
    {
        ArgumentNullException.ThrowIfNull(Pixels);
        if (Width <= 0 || Height <= 0)
        {
            throw new ArgumentException($"Image size {Width}x{Height} is not positive.");
        }
        if ((long)Width * Height != Pixels.Length)
        {
            throw new ArgumentException($"Image is {Width}x{Height} but has {Pixels.Length} pixels.");
        }
    }
}
