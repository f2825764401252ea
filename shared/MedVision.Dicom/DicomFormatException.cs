namespace MedVision.Dicom;

/// <summary>The bytes are not DICOM, or are damaged beyond what a lenient reader can recover.</summary>
public sealed class DicomFormatException : Exception
{
    public DicomFormatException(string message) : base(message) { }

    public DicomFormatException(string message, Exception inner) : base(message, inner) { }
}
