namespace MedVision.Dicom.Imaging;

/// <summary>
/// One frame as integer sample values, colour-by-pixel (sample <c>s</c> of pixel <c>p</c> at
/// <c>p * SamplesPerPixel + s</c>), in the colour space <see cref="PhotometricInterpretation"/> names.
/// </summary>
public sealed record PixelFrame(int Width, int Height, int SamplesPerPixel, int[] Values, string PhotometricInterpretation, int BitsStored)
{
    public int Pixels => Width * Height;
}

/// <summary>An 8-bit rendering: 1 channel (grey) or 3 (RGB), row-major, colour-by-pixel.</summary>
public sealed record RenderedImage(int Width, int Height, int Channels, byte[] Pixels);

/// <summary>Display choices for <see cref="DicomImage.Render"/>; unset values come from the dataset.</summary>
public sealed record RenderOptions
{
    /// <summary>A VOI window to use instead of the dataset's (both centre and width must be set).</summary>
    public double? WindowCenter { get; init; }

    public double? WindowWidth { get; init; }

    /// <summary>Paint overlay planes (60xx) white into a grey rendering.</summary>
    public bool BurnInOverlays { get; init; }
}
