using MedVision.Dicom;
using MedVision.Dicom.IO;

namespace MedVision.Testing;

/// <summary>
/// Makes CR chest X-ray DICOM files from PneumoniaMNIST test images with our own writer: each 28 px image is scaled up
/// by pixel replication and stored as 12-bit MONOCHROME2 with real-looking UIDs, as a modality would send it.
/// </summary>
public static class ChestXrayDicom
{
    public static (string Path, string StudyUid, string SopInstanceUid) Create(string folder, byte[] image28, int scale = 10, string modality = "CR", string? studyUid = null, string patientId = "MV-TEST-0001", DateTime? studyDate = null, string bodyPart = "CHEST", string view = "PA", string sopClassUid = "1.2.840.10008.5.1.4.1.1.1")
    {
        const int source = 28;
        var size = source * scale;
        var pixels = new byte[size * size * 2];
        for (var y = 0; y < size; y++)
        {
            for (var x = 0; x < size; x++)
            {
                // 8-bit value spread over 12 bits (× 16), as a CR digitiser would deliver it.
                var v = (ushort)(image28[(y / scale) * source + (x / scale)] * 16);
                pixels[(y * size + x) * 2] = (byte)v;
                pixels[(y * size + x) * 2 + 1] = (byte)(v >> 8);
            }
        }
        studyUid ??= NewUid();
        var sopInstance = NewUid();
        var now = studyDate ?? DateTime.UtcNow;
        var dataset = new DicomDataset()
            .AddOrUpdate(DicomTags.SpecificCharacterSet, DicomVR.CS, "ISO_IR 100")
            .AddOrUpdate(DicomTags.ImageType, DicomVR.CS, "ORIGINAL\\PRIMARY")
            .AddOrUpdate(DicomTags.SOPClassUID, DicomVR.UI, sopClassUid)
            .AddOrUpdate(DicomTags.SOPInstanceUID, DicomVR.UI, sopInstance)
            .AddOrUpdate(DicomTags.StudyDate, DicomVR.DA, now.ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture))
            .AddOrUpdate(DicomTags.StudyTime, DicomVR.TM, now.ToString("HHmmss", System.Globalization.CultureInfo.InvariantCulture))
            .AddOrUpdate(DicomTags.AccessionNumber, DicomVR.SH, "ACC0001")
            .AddOrUpdate(DicomTags.Modality, DicomVR.CS, modality)
            .AddOrUpdate(DicomTags.PatientName, DicomVR.PN, "TEST^PNEUMONIA")
            .AddOrUpdate(DicomTags.PatientID, DicomVR.LO, patientId)
            .AddOrUpdate(DicomTags.BodyPartExamined, DicomVR.CS, bodyPart)
            .AddOrUpdate(DicomTags.ViewPosition, DicomVR.CS, view)
            .AddOrUpdate(DicomTags.StudyInstanceUID, DicomVR.UI, studyUid)
            .AddOrUpdate(DicomTags.SeriesInstanceUID, DicomVR.UI, NewUid())
            .AddOrUpdate(DicomTags.SeriesNumber, DicomVR.IS, "1")
            .AddOrUpdate(DicomTags.InstanceNumber, DicomVR.IS, "1")
            .AddOrUpdate(DicomTags.SamplesPerPixel, DicomVR.US, (ushort)1)
            .AddOrUpdate(DicomTags.PhotometricInterpretation, DicomVR.CS, "MONOCHROME2")
            .AddOrUpdate(DicomTags.Rows, DicomVR.US, (ushort)size)
            .AddOrUpdate(DicomTags.Columns, DicomVR.US, (ushort)size)
            .AddOrUpdate(DicomTags.BitsAllocated, DicomVR.US, (ushort)16)
            .AddOrUpdate(DicomTags.BitsStored, DicomVR.US, (ushort)12)
            .AddOrUpdate(DicomTags.HighBit, DicomVR.US, (ushort)11)
            .AddOrUpdate(DicomTags.PixelRepresentation, DicomVR.US, (ushort)0)
            .AddOrUpdate(DicomTags.PixelData, DicomVR.OW, pixels);
        var path = Path.Combine(folder, sopInstance + ".dcm");
        DicomFile.Create(dataset, DicomTransferSyntax.ExplicitVRLittleEndian).Save(path);
        return (path, studyUid, sopInstance);
    }

    /// <summary>A UID under the UUID-derived root 2.25 (PS3.5 B.2).</summary>
    public static string NewUid() => "2.25." + new System.Numerics.BigInteger(Guid.NewGuid().ToByteArray().Append((byte)0).ToArray()).ToString(System.Globalization.CultureInfo.InvariantCulture);
}
