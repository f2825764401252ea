namespace MedVision.Dicom.Codecs;

/// <summary>
/// Pixel data that this library cannot turn into pixels: an unsupported transfer syntax or feature, a missing native
/// codec library, or a damaged compressed stream. The message says which, so an operator can act on it.
/// </summary>
public sealed class DicomCodecException : Exception
{
    public DicomCodecException(string message, string? transferSyntaxUid = null) : base(message)
    {
        TransferSyntaxUid = transferSyntaxUid;
    }

    public DicomCodecException(string message, string? transferSyntaxUid, Exception inner) : base(message, inner)
    {
        TransferSyntaxUid = transferSyntaxUid;
    }

    public string? TransferSyntaxUid { get; }
}
