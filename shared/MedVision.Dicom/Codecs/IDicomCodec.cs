namespace MedVision.Dicom.Codecs;

/// <summary>
/// Decodes the frames of one codec family. Implementations are stateless and thread-safe; a registry maps each
/// transfer syntax UID to one of them, so a faster (e.g. GPU) decoder can replace a built-in one per syntax.
/// </summary>
public interface IDicomCodec
{
    string Name { get; }

    IReadOnlyCollection<string> TransferSyntaxUids { get; }

    /// <summary>Decodes one frame: the concatenated fragment values of that frame.</summary>
    /// <exception cref="DicomCodecException">The stream is damaged or uses a feature this decoder lacks.</exception>
    DecodedFrame Decode(ReadOnlySpan<byte> encodedFrame, FrameInfo info);
}
