using System.Globalization;
using MedVision.Dicom;
using MedVision.Testing;

namespace MedVision.Edge.Tests.Outputs;

/// <summary>
/// Real paediatric chest X-rays (the full-resolution Kermany samples in ../shared/data) as CR instances: decoded with Debian's
/// python3-pil, reduced by an integer factor (keeping the aspect ratio, so rows ≠ columns) and written with our writer, with a VOI window.
/// </summary>
public static class KermanyDicom
{
    public const string PneumoniaSample = "train_PNEUMONIA_person1008_virus_1691.jpeg";
    public const string NormalSample = "train_NORMAL_IM-0314-0001.jpeg";

    public static string SamplePath(string name) =>
        RepoPaths.RequireFile(Path.Combine(RepoPaths.SharedData, "chest-xray-kermany", "samples", name));

    public sealed record Created(string Path, string StudyUid, string SopInstanceUid, string SeriesUid, int Columns, int Rows);

    public static async Task<Created> CreateAsync(string folder, string sample, int reduce = 4, string? studyUid = null)
    {
        var raw = Path.Combine(folder, Guid.NewGuid().ToString("N") + ".raw");
        const string script = """
            import sys
            from PIL import Image
            image = Image.open(sys.argv[1]).convert("L")
            factor = int(sys.argv[3])
            image = image.reduce(factor) if factor > 1 else image
            open(sys.argv[2], "wb").write(image.tobytes())
            print(image.width, image.height)
            """;
        var result = await ExternalTool.RunAsync("/usr/bin/python3", ["-c", script, SamplePath(sample), raw, reduce.ToString(CultureInfo.InvariantCulture)]);
        Assert.True(result.ExitCode == 0, result.Combined);
        var size = result.StandardOutput.Trim().Split(' ');
        int columns = int.Parse(size[0], CultureInfo.InvariantCulture), rows = int.Parse(size[1], CultureInfo.InvariantCulture);
        var pixels = await File.ReadAllBytesAsync(raw);
        File.Delete(raw);
        Assert.Equal(columns * rows, pixels.Length);
        if ((pixels.Length & 1) == 1)
        {
            Array.Resize(ref pixels, pixels.Length + 1);
        }

        studyUid ??= ChestXrayDicom.NewUid();
        var sop = ChestXrayDicom.NewUid();
        var series = ChestXrayDicom.NewUid();
        var dataset = new DicomDataset()
            .AddOrUpdate(DicomTags.SpecificCharacterSet, DicomVR.CS, "ISO_IR 100")
            .AddOrUpdate(DicomTags.ImageType, DicomVR.CS, "ORIGINAL\\PRIMARY")
            .AddOrUpdate(DicomTags.SOPClassUID, DicomVR.UI, "1.2.840.10008.5.1.4.1.1.1")
            .AddOrUpdate(DicomTags.SOPInstanceUID, DicomVR.UI, sop)
            .AddOrUpdate(DicomTags.StudyDate, DicomVR.DA, "20261120")
            .AddOrUpdate(DicomTags.StudyTime, DicomVR.TM, "101500")
            .AddOrUpdate(DicomTags.AccessionNumber, DicomVR.SH, "ACC-OUT-1")
            .AddOrUpdate(DicomTags.Modality, DicomVR.CS, "CR")
            .AddOrUpdate(DicomTags.ReferringPhysicianName, DicomVR.PN, "WHO^REFERRED")
            .AddOrUpdate(DicomTags.StudyDescription, DicomVR.LO, "Chest PA")
            .AddOrUpdate(DicomTags.PatientName, DicomVR.PN, "MÜLLER^JÖRG")
            .AddOrUpdate(DicomTags.PatientID, DicomVR.LO, "MV-OUT-0001")
            .AddOrUpdate(DicomTags.PatientBirthDate, DicomVR.DA, "20200101")
            .AddOrUpdate(DicomTags.PatientSex, DicomVR.CS, "F")
            .AddOrUpdate(DicomTags.BodyPartExamined, DicomVR.CS, "CHEST")
            .AddOrUpdate(DicomTags.ViewPosition, DicomVR.CS, "PA")
            .AddOrUpdate(DicomTags.StudyInstanceUID, DicomVR.UI, studyUid)
            .AddOrUpdate(DicomTags.SeriesInstanceUID, DicomVR.UI, series)
            .AddOrUpdate(DicomTags.StudyID, DicomVR.SH, "S1")
            .AddOrUpdate(DicomTags.SeriesNumber, DicomVR.IS, "1")
            .AddOrUpdate(DicomTags.InstanceNumber, DicomVR.IS, "1")
            .AddOrUpdate(DicomTags.PatientOrientation, DicomVR.CS, "L\\F")
            .AddOrUpdate(DicomTags.SamplesPerPixel, DicomVR.US, (ushort)1)
            .AddOrUpdate(DicomTags.PhotometricInterpretation, DicomVR.CS, "MONOCHROME2")
            .AddOrUpdate(DicomTags.Rows, DicomVR.US, (ushort)rows)
            .AddOrUpdate(DicomTags.Columns, DicomVR.US, (ushort)columns)
            .AddOrUpdate(DicomTags.ImagerPixelSpacing, DicomVR.DS, "0.56\\0.56")
            .AddOrUpdate(DicomTags.BitsAllocated, DicomVR.US, (ushort)8)
            .AddOrUpdate(DicomTags.BitsStored, DicomVR.US, (ushort)8)
            .AddOrUpdate(DicomTags.HighBit, DicomVR.US, (ushort)7)
            .AddOrUpdate(DicomTags.PixelRepresentation, DicomVR.US, (ushort)0)
            .AddOrUpdate(DicomTags.WindowCenter, DicomVR.DS, "110")
            .AddOrUpdate(DicomTags.WindowWidth, DicomVR.DS, "200")
            .AddOrUpdate(DicomTags.PixelData, DicomVR.OB, pixels);
        var path = Path.Combine(folder, sop + ".dcm");
        DicomFile.Create(dataset, DicomTransferSyntax.ExplicitVRLittleEndian).Save(path);
        return new Created(path, studyUid, sop, series, columns, rows);
    }
}
