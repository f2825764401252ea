namespace MedVision.Dicom.Json;

/// <summary>How <see cref="DicomJson.Serialize(DicomDataset, DicomJsonOptions?)"/> writes the DICOM JSON model (PS3.18 Annex F).</summary>
public sealed record DicomJsonOptions
{
    public static DicomJsonOptions Default { get; } = new();

    public bool WriteIndented { get; init; } = true;

    /// <summary>
    /// Binary values (OB, OD, OF, OL, OV, OW, UN, encapsulated pixel data) at least this long are written as a
    /// "BulkDataURI" made by <see cref="BulkDataUri"/> instead of "InlineBinary". Ignored while that is null.
    /// </summary>
    public long BulkDataThreshold { get; init; } = 0;

    /// <summary>Makes the URI of a bulk data value; null means every binary value is written inline.</summary>
    public Func<DicomJsonBulkData, string>? BulkDataUri { get; init; }
}

/// <summary>A value about to be written as bulk data: where it sits in the dataset and what it holds.</summary>
/// <param name="Path">Tags and item indexes from the root, e.g. "7FE00010" or "00540016/0/00181074".</param>
public sealed record DicomJsonBulkData(string Path, DicomItem Item, long Length);

/// <summary>How <see cref="DicomJson.Deserialize(string, DicomJsonReadOptions?)"/> reads the DICOM JSON model.</summary>
public sealed record DicomJsonReadOptions
{
    public static DicomJsonReadOptions Default { get; } = new();

    /// <summary>Fetches the bytes behind a "BulkDataURI"; when null, such an attribute is refused.</summary>
    public Func<string, ReadOnlyMemory<byte>>? BulkDataResolver { get; init; }

    /// <summary>Nesting limit for sequences, so hostile input cannot exhaust the stack.</summary>
    public int MaxDepth { get; init; } = 64;
}
