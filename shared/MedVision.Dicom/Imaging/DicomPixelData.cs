using System.Buffers.Binary;

namespace MedVision.Dicom.Imaging;

/// <summary>One frame as single-channel values after the modality LUT (rescale), row-major.</summary>
public sealed record ModalityFrame(int Width, int Height, float[] Values, string PhotometricInterpretation)
{
    /// <summary>MONOCHROME1 shows low values as white; consumers invert it to a "high is bright" convention.</summary>
    public bool IsMonochrome1 => PhotometricInterpretation == "MONOCHROME1";
}

/// <summary>Image pixel module (PS3.3 C.7.6.3) attributes and native (uncompressed) frame decoding.</summary>
public sealed class DicomPixelData
{
    private readonly DicomDataset _dataset;

    private DicomPixelData(DicomDataset dataset, DicomTransferSyntax syntax)
    {
        _dataset = dataset;
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

    public static DicomPixelData From(DicomFile file) => new(file.Dataset, file.TransferSyntax);

    public static DicomPixelData From(DicomDataset dataset, DicomTransferSyntax syntax) => new(dataset, syntax);

    /// <summary>Decodes one frame to modality values; colour images become luminance.</summary>
    public ModalityFrame GetModalityFrame(int frame = 0)
    {
        if (Rows <= 0 || Columns <= 0 || BitsAllocated is not (8 or 16 or 32))
        {
            throw new DicomFormatException($"Unsupported or missing image geometry: {Rows}x{Columns}, {BitsAllocated} bits allocated.");
        }
        if (frame < 0 || frame >= NumberOfFrames)
        {
            throw new ArgumentOutOfRangeException(nameof(frame), $"Frame {frame} of {NumberOfFrames}.");
        }
        var item = _dataset[DicomTags.PixelData] ?? throw new DicomFormatException("The dataset has no Pixel Data (7FE0,0010).");
        if (item is not DicomElement element || TransferSyntax.IsEncapsulated)
        {
            throw new DicomFormatException($"Pixel data in {TransferSyntax.Name} is compressed; no decoder for it is installed yet.");
        }

        var bytesPerSample = BitsAllocated / 8;
        var samples = Rows * Columns * SamplesPerPixel;
        var frameBytes = (long)samples * bytesPerSample;
        var all = element.Buffer.GetBytes();
        if (all.Length < frameBytes * (frame + 1))
        {
            throw new DicomFormatException($"Pixel data holds {all.Length} bytes; frame {frame} needs {frameBytes * (frame + 1)}.");
        }
        var raw = all.Span.Slice((int)(frameBytes * frame), (int)frameBytes);
        var values = new float[Rows * Columns];
        var pixels = Rows * Columns;
        if (SamplesPerPixel == 1)
        {
            for (var i = 0; i < pixels; i++)
            {
                values[i] = (float)(Sample(raw, i) * RescaleSlope + RescaleIntercept);
            }
            return new ModalityFrame(Columns, Rows, values, PhotometricInterpretation);
        }

        var luminanceOnly = PhotometricInterpretation.StartsWith("YBR", StringComparison.Ordinal);
        for (var i = 0; i < pixels; i++)
        {
            int r, g, b;
            if (PlanarConfiguration == 0)
            {
                r = i * SamplesPerPixel;
                g = r + 1;
                b = r + 2;
            }
            else
            {
                r = i;
                g = pixels + i;
                b = 2 * pixels + i;
            }
            values[i] = luminanceOnly
                ? (float)Sample(raw, r)
                : (float)(0.299 * Sample(raw, r) + 0.587 * Sample(raw, g) + 0.114 * Sample(raw, b));
        }
        return new ModalityFrame(Columns, Rows, values, "MONOCHROME2");
    }

    private double Sample(ReadOnlySpan<byte> raw, int index)
    {
        uint v = BitsAllocated switch
        {
            8 => raw[index],
            16 => BinaryPrimitives.ReadUInt16LittleEndian(raw[(index * 2)..]),
            _ => BinaryPrimitives.ReadUInt32LittleEndian(raw[(index * 4)..]),
        };
        // Bits outside BitsStored may carry overlays or garbage (PS3.5 8.1.1).
        var shift = HighBit + 1 - BitsStored;
        v >>= shift;
        var mask = BitsStored >= 32 ? uint.MaxValue : (1u << BitsStored) - 1;
        v &= mask;
        if (PixelRepresentation == 1 && BitsStored < 32 && (v & (1u << (BitsStored - 1))) != 0)
        {
            return (int)(v | ~mask);
        }
        return PixelRepresentation == 1 ? (int)v : v;
    }
}
