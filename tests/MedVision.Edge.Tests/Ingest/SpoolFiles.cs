using MedVision.Dicom;
using MedVision.Dicom.IO;

namespace MedVision.Edge.Tests.Ingest;

/// <summary>Spool slots keep their pool names, so tests find an instance's file by the SOP Instance UID in its file meta.</summary>
public static class SpoolFiles
{
    public static IReadOnlyList<string> Slots(string storageRoot) =>
        Directory.Exists(SlotDirectory(storageRoot)) ? Directory.GetFiles(SlotDirectory(storageRoot)) : [];

    /// <summary>Every non-empty slot, by the SOP Instance UID its file meta names.</summary>
    public static ILookup<string, string> BySopInstance(string storageRoot) =>
        Slots(storageRoot)
            .Where(path => new FileInfo(path).Length > 0)
            .ToLookup(path => DicomReader.ReadFile(path, new DicomReadOptions { LargeValueThreshold = 64 }).FileMetaInfo.GetStringOrDefault(DicomTags.MediaStorageSOPInstanceUID) ?? "");

    public static string SlotDirectory(string storageRoot) => Path.Combine(storageRoot, "spool", "slots");
}
