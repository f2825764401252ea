namespace MedVision.Dicom.Imaging;

/// <summary>
/// Modality values to display values 0–255 (PS3.3 C.11.2): a window with the LINEAR, LINEAR_EXACT or SIGMOID function
/// of C.11.2.1.2–3, or a VOI LUT. With neither in the dataset, the window spans the frame's minimum to maximum.
/// </summary>
public sealed class VoiLut
{
    private static readonly DicomTag FrameVoiLut = new(0x0028, 0x9132);

    private readonly LookupTable? _table;

    private VoiLut(double center, double width, string function, LookupTable? table)
    {
        Center = center;
        Width = width;
        Function = function;
        _table = table;
    }

    public double Center { get; }

    public double Width { get; }

    /// <summary>LINEAR, LINEAR_EXACT or SIGMOID.</summary>
    public string Function { get; }

    public bool IsLookupTable => _table is not null;

    public static VoiLut Window(double center, double width, string function = "LINEAR")
    {
        if (!(width > 0) || double.IsNaN(center))
        {
            throw new ArgumentOutOfRangeException(nameof(width), $"Window width must be positive, centre a number (got {center}/{width}).");
        }
        return new VoiLut(center, width, function, null);
    }

    /// <summary>A window mapping <paramref name="min"/> to 0 and <paramref name="max"/> to 255, as dcmtk's min-max window does.</summary>
    public static VoiLut MinMax(double min, double max) =>
        max > min ? new VoiLut((min + max + 1) / 2, max - min + 1, "LINEAR", null) : new VoiLut(min + 0.5, 1, "LINEAR", null);

    /// <summary>The dataset's first window or VOI LUT for the frame; null when it has none.</summary>
    public static VoiLut? FromDataset(DicomDataset dataset, int frame, bool signedModalityValues)
    {
        var source = FunctionalGroups.Find(dataset, frame, FrameVoiLut) ?? dataset;
        var function = (source.GetStringOrDefault(DicomTags.VOILUTFunction) ?? "LINEAR").Trim().ToUpperInvariant();
        if (function is not ("LINEAR" or "LINEAR_EXACT" or "SIGMOID"))
        {
            function = "LINEAR";
        }
        if (source.TryGetNumber(DicomTags.WindowCenter, 0, out var center) && source.TryGetNumber(DicomTags.WindowWidth, 0, out var width) &&
            width >= (function == "LINEAR" ? 1 : double.Epsilon))
        {
            return new VoiLut(center, width, function, null);
        }
        if (dataset.TryGetSequence(DicomTags.VOILUTSequence, out var sequence) && sequence.Items.Count > 0)
        {
            var table = LookupTable.Read(sequence.Items[0], DicomTags.LUTDescriptor, DicomTags.LUTData, signedModalityValues, "VOI");
            return new VoiLut(0, 0, "LUT", table);
        }
        return null;
    }

    /// <summary>
    /// The display value 0–255 of a modality value; <paramref name="invert"/> for MONOCHROME1. The standard leaves the
    /// rounding open: like dcmtk we invert before truncating, so our renderings match dcm2pnm's value for value.
    /// </summary>
    public byte Apply(double x, bool invert = false)
    {
        var y = Continuous(x);
        y = invert ? 255 - y : y;
        // Window output truncates (as dcmtk's does); LUT output is rescaled to 8 bits, where rounding is the closer match.
        return (byte)Math.Clamp(_table is null ? Math.Floor(y) : Math.Round(y, MidpointRounding.AwayFromZero), 0, 255);
    }

    private double Continuous(double x)
    {
        if (_table is not null)
        {
            var max = (1 << Math.Clamp(_table.BitsPerEntry, 1, 16)) - 1;
            return _table[(int)Math.Round(x)] * 255.0 / max;
        }
        double y;
        switch (Function)
        {
            case "LINEAR_EXACT":
                y = x <= Center - Width / 2 ? 0 : x > Center + Width / 2 ? 255 : ((x - Center) / Width + 0.5) * 255;
                break;
            case "SIGMOID":
                y = 255 / (1 + Math.Exp(-4 * (x - Center) / Width));
                break;
            default:
                var low = Center - 0.5 - (Width - 1) / 2;
                var high = Center - 0.5 + (Width - 1) / 2;
                y = x <= low ? 0 : x > high ? 255 : Width <= 1 ? 255 : ((x - (Center - 0.5)) / (Width - 1) + 0.5) * 255;
                break;
        }
        return y;
    }
}
