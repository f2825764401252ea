using System.Text;

namespace MedVision.Dicom.Json;

/// <summary>
/// The DICOM JSON model of PS3.18 Annex F: a dataset as a JSON object keyed by "GGGGEEEE" with "vr" and one of
/// "Value", "InlineBinary" or "BulkDataURI". Text is Unicode in JSON, so the Specific Character Set is written as
/// ISO_IR 192 (as dcmtk's dcm2json does) and datasets read from JSON carry UTF-8 text.
/// </summary>
public static class DicomJson
{
    public static string Serialize(DicomDataset dataset, DicomJsonOptions? options = null)
    {
        using var buffer = new MemoryStream();
        Serialize(buffer, dataset, options);
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>Writes the JSON (UTF-8) to <paramref name="destination"/>.</summary>
    public static void Serialize(Stream destination, DicomDataset dataset, DicomJsonOptions? options = null) =>
        new DicomJsonWriter(options ?? DicomJsonOptions.Default).Write(destination, dataset);

    /// <summary>Reads one DICOM JSON object; malformed JSON or values that do not fit their VR raise <see cref="DicomFormatException"/>.</summary>
    public static DicomDataset Deserialize(string json, DicomJsonReadOptions? options = null) =>
        new DicomJsonReader(options ?? DicomJsonReadOptions.Default).Read(json);
}
