namespace MedVision.Dicom.Imaging;

/// <summary>
/// Finds a functional group macro for one frame of an enhanced multi-frame image (PS3.3 C.7.6.16): the per-frame
/// item's macro if it has one, else the shared one, else none.
/// </summary>
internal static class FunctionalGroups
{
    private static readonly DicomTag SharedTag = new(0x5200, 0x9229);
    private static readonly DicomTag PerFrameTag = new(0x5200, 0x9230);

    public static DicomDataset? Find(DicomDataset dataset, int frame, DicomTag macro)
    {
        if (dataset.TryGetSequence(PerFrameTag, out var perFrame) && frame < perFrame.Items.Count &&
            perFrame.Items[frame].TryGetSequence(macro, out var own) && own.Items.Count > 0)
        {
            return own.Items[0];
        }
        if (dataset.TryGetSequence(SharedTag, out var shared) && shared.Items.Count > 0 &&
            shared.Items[0].TryGetSequence(macro, out var common) && common.Items.Count > 0)
        {
            return common.Items[0];
        }
        return null;
    }
}
