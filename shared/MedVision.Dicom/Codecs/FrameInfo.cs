namespace MedVision.Dicom.Codecs;

/// <summary>What a decoder is told about the frame it decodes, from the Image Pixel module (PS3.3 C.7.6.3).</summary>
public sealed record FrameInfo(
    int Rows,
    int Columns,
    int SamplesPerPixel,
    int BitsAllocated,
    int BitsStored,
    int PixelRepresentation,
    int PlanarConfiguration,
    string PhotometricInterpretation,
    string TransferSyntaxUid)
{
    /// <summary>Bytes one sample takes in decoded (native) form.</summary>
    public int BytesPerSample => BitsAllocated <= 8 ? 1 : BitsAllocated <= 16 ? 2 : 4;

    public long Pixels => (long)Rows * Columns;

    public long FrameBytes => Pixels * SamplesPerPixel * BytesPerSample;

    /// <summary>Allocates the output of one frame, refusing sizes that no real image has (a damaged header).</summary>
    internal byte[] AllocateFrame()
    {
        if (Rows <= 0 || Columns <= 0 || SamplesPerPixel is < 1 or > 4)
        {
            throw new DicomCodecException($"Frame geometry {Columns}x{Rows}x{SamplesPerPixel} is not decodable.", TransferSyntaxUid);
        }
        if (FrameBytes > Array.MaxLength)
        {
            throw new DicomCodecException($"A frame of {Columns}x{Rows}x{SamplesPerPixel} at {BitsAllocated} bits ({FrameBytes} bytes) is larger than one array can hold.", TransferSyntaxUid);
        }
        return new byte[FrameBytes];
    }
}

/// <summary>
/// One decoded frame in native form: little endian samples of <see cref="FrameInfo.BitsAllocated"/> bits, stored
/// values aligned at bit 0 (signed values two's complement), laid out as <see cref="PlanarConfiguration"/> says, in
/// the colour space <see cref="PhotometricInterpretation"/> names (which may differ from the dataset's: JPEG
/// baseline YBR_FULL_422 decodes to RGB, JPEG 2000 YBR_RCT to RGB).
/// </summary>
public sealed record DecodedFrame(byte[] Data, string PhotometricInterpretation, int PlanarConfiguration);
