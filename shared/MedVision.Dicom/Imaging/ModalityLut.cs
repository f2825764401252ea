namespace MedVision.Dicom.Imaging;

/// <summary>
/// Stored values to modality values (PS3.3 C.11.1): the Modality LUT Sequence when present, else rescale slope and
/// intercept (from the frame's Pixel Value Transformation macro in enhanced images), else identity.
/// </summary>
public sealed class ModalityLut
{
    private static readonly DicomTag PixelValueTransformation = new(0x0028, 0x9145);

    private readonly LookupTable? _table;

    private ModalityLut(double slope, double intercept, LookupTable? table)
    {
        Slope = slope;
        Intercept = intercept;
        _table = table;
    }

    public double Slope { get; }

    public double Intercept { get; }

    public bool IsLookupTable => _table is not null;

    public static ModalityLut For(DicomDataset dataset, int frame, bool signed)
    {
        if (dataset.TryGetSequence(DicomTags.ModalityLUTSequence, out var sequence) && sequence.Items.Count > 0)
        {
            var table = LookupTable.Read(sequence.Items[0], DicomTags.LUTDescriptor, DicomTags.LUTData, signed, "modality");
            return new ModalityLut(1, 0, table);
        }
        var source = FunctionalGroups.Find(dataset, frame, PixelValueTransformation) ?? dataset;
        var slope = source.GetDoubleOrDefault(DicomTags.RescaleSlope, dataset.GetDoubleOrDefault(DicomTags.RescaleSlope, 1.0));
        var intercept = source.GetDoubleOrDefault(DicomTags.RescaleIntercept, dataset.GetDoubleOrDefault(DicomTags.RescaleIntercept, 0.0));
        return new ModalityLut(slope == 0 || double.IsNaN(slope) ? 1 : slope, double.IsNaN(intercept) ? 0 : intercept, null);
    }

    public double Apply(int stored) => _table is not null ? _table[stored] : stored * Slope + Intercept;
}
