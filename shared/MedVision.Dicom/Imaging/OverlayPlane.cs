namespace MedVision.Dicom.Imaging;

/// <summary>
/// One overlay plane (PS3.3 C.9.2) for one frame: a 0/1 mask of <see cref="Rows"/> × <see cref="Columns"/> whose
/// top-left pixel sits at the 1-based image position (<see cref="OriginRow"/>, <see cref="OriginColumn"/>).
/// </summary>
public sealed record OverlayPlane(int Group, int Rows, int Columns, int OriginRow, int OriginColumn, string Type, string? Description, byte[] Mask)
{
    /// <summary>Whether the overlay covers image pixel (<paramref name="x"/>, <paramref name="y"/>), both 0-based.</summary>
    public bool Covers(int x, int y)
    {
        var r = y - (OriginRow - 1);
        var c = x - (OriginColumn - 1);
        return r >= 0 && c >= 0 && r < Rows && c < Columns && Mask[r * Columns + c] != 0;
    }
}
