using MedVision.Dicom;
using MedVision.Dicom.IO;

namespace MedVision.Edge.Outputs.Dicom;

/// <summary>The source image attributes a derived object copies (geometry, anatomy), read without pixel data.</summary>
internal sealed record SourceImageHeader(
    string SopClassUid,
    string SopInstanceUid,
    string SeriesInstanceUid,
    int Rows,
    int Columns,
    string? FrameOfReferenceUid,
    string? PixelSpacing,
    string? BodyPartExamined,
    string? Laterality,
    string? PatientOrientation)
{
    public static SourceImageHeader Read(SourceInstance instance)
    {
        var dataset = DicomFile.Open(instance.SpoolPath, new DicomReadOptions { StopBeforeTag = DicomTags.PixelData }).Dataset;
        return new SourceImageHeader(
            instance.SopClassUid,
            instance.SopInstanceUid,
            instance.SeriesInstanceUid ?? dataset.GetStringOrDefault(DicomTags.SeriesInstanceUID) ?? "",
            dataset.GetIntOrDefault(DicomTags.Rows, 0),
            dataset.GetIntOrDefault(DicomTags.Columns, 0),
            dataset.GetStringOrDefault(DicomTags.FrameOfReferenceUID),
            // Projection radiographs give the detector spacing only; it is still the best scale known for the map.
            dataset.GetStringOrDefault(DicomTags.PixelSpacing) ?? dataset.GetStringOrDefault(DicomTags.ImagerPixelSpacing),
            dataset.GetStringOrDefault(DicomTags.BodyPartExamined),
            dataset.GetStringOrDefault(DicomTags.ImageLaterality) ?? dataset.GetStringOrDefault(DicomTags.Laterality),
            dataset.GetStringOrDefault(DicomTags.PatientOrientation));
    }

    /// <summary>SNOMED CT anatomic region for the Body Part Examined values the shipped models apply to.</summary>
    public Code AnatomicRegion => BodyPartExamined?.Trim().ToUpperInvariant() switch
    {
        "CHEST" => new("51185008", "SCT", "Chest"),
        "BREAST" => new("76752008", "SCT", "Breast"),
        "ABDOMEN" => new("818981001", "SCT", "Abdomen"),
        "HEAD" => new("69536005", "SCT", "Head"),
        _ => new("38266002", "SCT", "Entire body"),
    };
}
