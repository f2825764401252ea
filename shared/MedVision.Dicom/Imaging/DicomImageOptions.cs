namespace MedVision.Dicom.Imaging;

/// <summary>Limits for decoding untrusted images.</summary>
public sealed record DicomImageOptions
{
    public static DicomImageOptions Default { get; } = new();

    /// <summary>
    /// Largest decoded frame accepted, in bytes; a header claiming more is refused before anything is allocated
    /// (a 4096² 16-bit RGB frame is 96 MiB).
    /// </summary>
    public long MaxFrameBytes { get; init; } = 512L * 1024 * 1024;
}
