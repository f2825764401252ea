using System.Globalization;
using MedVision.Dicom;
using MedVision.Dicom.IO;
using MedVision.Testing;

namespace MedVision.Edge.Tests.Sync;

/// <summary>
/// A chest X-ray study full of identifying data (names, IDs, dates, institution, UIDs) and the list of those values,
/// so a test can look for every one of them in what reached the hub.
/// </summary>
public sealed record PhiStudy(string Path, string StudyUid, string SopInstanceUid, IReadOnlyList<string> Phi)
{
    public static PhiStudy Create(string folder, byte[] image28, int index)
    {
        var n = index.ToString("D4", CultureInfo.InvariantCulture);
        var patientId = $"PID-{n}-771";
        var (path, studyUid, sopInstanceUid) = ChestXrayDicom.Create(folder, image28, scale: 1, patientId: patientId);
        var file = DicomFile.Open(path);
        var name = $"ZEBEDEE^QUENTIN{n}";
        var birth = "19610704";
        var studyDate = "19990213";
        var accession = $"ACC{n}X93";
        var institution = "St Ursula Infirmary";
        var physician = "FORTESCUE^AUGUSTA";
        file.Dataset
            .AddOrUpdate(DicomTags.PatientName, DicomVR.PN, name)
            .AddOrUpdate(DicomTags.PatientBirthDate, DicomVR.DA, birth)
            .AddOrUpdate(DicomTags.StudyDate, DicomVR.DA, studyDate)
            .AddOrUpdate(DicomTags.AccessionNumber, DicomVR.SH, accession)
            .AddOrUpdate(DicomTags.InstitutionName, DicomVR.LO, institution)
            .AddOrUpdate(DicomTags.ReferringPhysicianName, DicomVR.PN, physician);
        file.Save(path);
        var seriesUid = file.Dataset.GetStringOrDefault(DicomTags.SeriesInstanceUID)!;
        string[] phi =
        [
            name, "ZEBEDEE", $"QUENTIN{n}", patientId, birth, "1961-07-04", studyDate, "1999-02-13", accession, institution,
            physician, "FORTESCUE", studyUid, seriesUid, sopInstanceUid,
        ];
        return new PhiStudy(path, studyUid, sopInstanceUid, phi);
    }
}
