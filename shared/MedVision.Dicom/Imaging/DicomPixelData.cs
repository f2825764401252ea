using MedVision.Dicom.Codecs;

namespace MedVision.Dicom.Imaging;

/// <summary>One frame as single-channel values after the modality LUT (rescale), row-major.</summary>
public sealed record ModalityFrame(int Width, int Height, float[] Values, string PhotometricInterpretation)
{
    /// <summary>MONOCHROME1 shows low values as white; consumers invert it to a "high is bright" convention.</summary>
    public bool IsMonochrome1 => PhotometricInterpretation == "MONOCHROME1";
}

/// <summary>Image pixel module (PS3.3 C.7.6.3) attributes and modality frames; <see cref="DicomImage"/> does the decoding.</summary>
public sealed class DicomPixelData
{
    private readonly DicomDataset _dataset;
    private readonly DicomCodecRegistry? _codecs;

    private DicomPixelData(DicomDataset dataset, DicomTransferSyntax syntax, DicomCodecRegistry? codecs)
    {
        _dataset = dataset;
        _codecs = codecs;
        TransferSyntax = syntax;
        Rows = dataset.GetIntOrDefault(DicomTags.Rows, 0);
        Columns = dataset.GetIntOrDefault(DicomTags.Columns, 0);
        BitsAllocated = dataset.GetIntOrDefault(DicomTags.BitsAllocated, 0);
        BitsStored = dataset.GetIntOrDefault(DicomTags.BitsStored, BitsAllocated);
        HighBit = dataset.GetIntOrDefault(DicomTags.HighBit, BitsStored - 1);
        PixelRepresentation = dataset.GetIntOrDefault(DicomTags.PixelRepresentation, 0);
        SamplesPerPixel = dataset.GetIntOrDefault(DicomTags.SamplesPerPixel, 1);
        PlanarConfiguration = dataset.GetIntOrDefault(DicomTags.PlanarConfiguration, 0);
        NumberOfFrames = Math.Max(1, dataset.GetIntOrDefault(DicomTags.NumberOfFrames, 1));
        PhotometricInterpretation = dataset.GetStringOrDefault(DicomTags.PhotometricInterpretation)?.Trim() ?? "MONOCHROME2";
        RescaleSlope = dataset.GetDoubleOrDefault(DicomTags.RescaleSlope, 1.0);
        RescaleIntercept = dataset.GetDoubleOrDefault(DicomTags.RescaleIntercept, 0.0);
        if (RescaleSlope == 0)
        {
            RescaleSlope = 1;
        }
    }

    public DicomTransferSyntax TransferSyntax { get; }
    public int Rows { get; }
    public int Columns { get; }
    public int BitsAllocated { get; }
    public int BitsStored { get; }
    public int HighBit { get; }
    public int PixelRepresentation { get; }
    public int SamplesPerPixel { get; }
    public int PlanarConfiguration { get; }
    public int NumberOfFrames { get; }
    public string PhotometricInterpretation { get; }
    public double RescaleSlope { get; }
    public double RescaleIntercept { get; }

    public static DicomPixelData From(DicomFile file, DicomCodecRegistry? codecs = null) => new(file.Dataset, file.TransferSyntax, codecs);

    public static DicomPixelData From(DicomDataset dataset, DicomTransferSyntax syntax, DicomCodecRegistry? codecs = null) => new(dataset, syntax, codecs);

    /// <summary>Decodes one frame (native or compressed) to modality values; colour images become luminance.</summary>
    /// <exception cref="DicomFormatException">Missing or inconsistent image attributes or native pixel data.</exception>
    /// <exception cref="Codecs.DicomCodecException">Compressed pixel data that no installed decoder can decode.</exception>
    public ModalityFrame GetModalityFrame(int frame = 0) => new DicomImage(_dataset, TransferSyntax, _codecs).GetModalityFrame(frame);
}
