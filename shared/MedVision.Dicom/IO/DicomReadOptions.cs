namespace MedVision.Dicom.IO;

public sealed record DicomReadOptions
{
    public static readonly DicomReadOptions Default = new();

    /// <summary>Values at least this long are left in the file and read on demand (when reading from a file).</summary>
    public long LargeValueThreshold { get; init; } = 64 * 1024;

    /// <summary>Stop before the first top-level tag at or past this one (e.g. PixelData to read headers only).</summary>
    public DicomTag? StopBeforeTag { get; init; }
}
