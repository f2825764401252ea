using MedVision.Dicom.IO;

namespace MedVision.Dicom;

/// <summary>A Part 10 file: meta information (group 0002) and the dataset, with what the reader had to forgive.</summary>
public sealed class DicomFile(DicomDataset fileMetaInfo, DicomDataset dataset, DicomTransferSyntax transferSyntax, string? path = null, IReadOnlyList<string>? warnings = null)
{
    /// <summary>Our Implementation Class UID (PS3.7 D.3.3.2), fixed for this implementation.</summary>
    public const string ImplementationClassUid = "2.25.63936119493287651175978258722551225918";

    public const string ImplementationVersionName = "MEDVISION_01";

    public DicomDataset FileMetaInfo { get; } = fileMetaInfo;

    public DicomDataset Dataset { get; } = dataset;

    public DicomTransferSyntax TransferSyntax { get; } = transferSyntax;

    public string? Path { get; } = path;

    public IReadOnlyList<string> Warnings { get; } = warnings ?? [];

    public static DicomFile Open(string path, DicomReadOptions? options = null) => DicomReader.ReadFile(path, options);

    /// <summary>Builds the meta group for <paramref name="dataset"/> in <paramref name="syntax"/>.</summary>
    public static DicomDataset CreateFileMetaInfo(string sopClassUid, string sopInstanceUid, DicomTransferSyntax syntax, string? sourceAeTitle = null)
    {
        var meta = new DicomDataset()
            .AddOrUpdate(DicomTags.FileMetaInformationVersion, DicomVR.OB, new byte[] { 0, 1 })
            .AddOrUpdate(DicomTags.MediaStorageSOPClassUID, DicomVR.UI, sopClassUid)
            .AddOrUpdate(DicomTags.MediaStorageSOPInstanceUID, DicomVR.UI, sopInstanceUid)
            .AddOrUpdate(DicomTags.TransferSyntaxUID, DicomVR.UI, syntax.Uid)
            .AddOrUpdate(DicomTags.ImplementationClassUID, DicomVR.UI, ImplementationClassUid)
            .AddOrUpdate(DicomTags.ImplementationVersionName, DicomVR.SH, ImplementationVersionName);
        if (!string.IsNullOrWhiteSpace(sourceAeTitle))
        {
            meta.AddOrUpdate(DicomTags.SourceApplicationEntityTitle, DicomVR.AE, sourceAeTitle.Trim());
        }
        return meta;
    }

    /// <summary>A new file for a dataset, with its meta group derived from the dataset's SOP Class/Instance UIDs.</summary>
    public static DicomFile Create(DicomDataset dataset, DicomTransferSyntax syntax)
    {
        var meta = CreateFileMetaInfo(
            dataset.GetStringOrDefault(DicomTags.SOPClassUID) ?? throw new ArgumentException("Dataset has no SOP Class UID.", nameof(dataset)),
            dataset.GetStringOrDefault(DicomTags.SOPInstanceUID) ?? throw new ArgumentException("Dataset has no SOP Instance UID.", nameof(dataset)),
            syntax);
        return new DicomFile(meta, dataset, syntax);
    }

    public void Save(string path)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        DicomWriter.WriteFile(stream, this);
    }
}
