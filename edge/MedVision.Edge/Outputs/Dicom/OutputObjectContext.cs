using System.Reflection;
using MedVision.Dicom;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Outputs.Dicom;

/// <summary>What every DICOM object the appliance creates shares: patient and study modules copied from the source, equipment, UIDs.</summary>
public sealed class OutputObjectContext(IOptions<OutputObjectOptions> options, UidGenerator uids, TimeProvider clock)
{
    public const string ParametricMapStorage = "1.2.840.10008.5.1.4.1.1.30";
    /// <summary>Comprehensive 3D SR, the SOP class IHE AI Results (AIR) names for TID 1500 results.</summary>
    public const string Comprehensive3DSrStorage = "1.2.840.10008.5.1.4.1.1.88.34";
    public const string SecondaryCaptureStorage = "1.2.840.10008.5.1.4.1.1.7";

    public OutputObjectOptions Options => options.Value;

    public UidGenerator Uids => uids;

    public DateTimeOffset Now => clock.GetUtcNow();

    public string SerialNumber => string.IsNullOrWhiteSpace(Options.DeviceSerialNumber) ? Environment.MachineName : Options.DeviceSerialNumber;

    public static string SoftwareVersion { get; } =
        typeof(OutputObjectContext).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0";

    /// <summary>The series that carries a study's heat-map objects: derived, so the SR can reference it without asking the producer.</summary>
    public string ParametricMapSeriesUid(string studyUid) => uids.DerivedUid(Options.UidRoot, studyUid, "parametric-map-series");

    /// <summary>A frame of reference for a source image that has none (projection radiographs): stable per source instance.</summary>
    public string FrameOfReferenceFor(string sourceSopInstanceUid) => uids.DerivedUid(Options.UidRoot, sourceSopInstanceUid, "frame-of-reference");

    /// <summary>SOP Common, Patient, General Study, General Equipment (and Enhanced General Equipment), series basics.</summary>
    public DicomDataset NewObject(StudyHeader study, string sopClassUid, string sopInstanceUid, string modality, string seriesUid, int seriesNumber, string seriesDescription, DateTimeOffset now)
    {
        var dataset = new DicomDataset();
        dataset.AddOrUpdate(DicomTags.SpecificCharacterSet, DicomVR.CS, DicomBuild.CharacterSet);
        dataset.Text(DicomTags.InstanceCreationDate, DicomVR.DA, DicomBuild.Date(now));
        dataset.Text(DicomTags.InstanceCreationTime, DicomVR.TM, DicomBuild.Time(now));
        dataset.Text(DicomTags.SOPClassUID, DicomVR.UI, sopClassUid);
        dataset.Text(DicomTags.SOPInstanceUID, DicomVR.UI, sopInstanceUid);
        dataset.Text(DicomTags.StudyDate, DicomVR.DA, study.StudyDate);
        dataset.Text(DicomTags.SeriesDate, DicomVR.DA, DicomBuild.Date(now));
        dataset.Text(DicomTags.ContentDate, DicomVR.DA, DicomBuild.Date(now));
        dataset.Text(DicomTags.StudyTime, DicomVR.TM, study.StudyTime);
        dataset.Text(DicomTags.SeriesTime, DicomVR.TM, DicomBuild.Time(now));
        dataset.Text(DicomTags.ContentTime, DicomVR.TM, DicomBuild.Time(now));
        dataset.Text(DicomTags.AccessionNumber, DicomVR.SH, study.AccessionNumber);
        dataset.Text(DicomTags.Modality, DicomVR.CS, modality);
        dataset.Text(DicomTags.Manufacturer, DicomVR.LO, Options.Manufacturer);
        dataset.Text(DicomTags.ReferringPhysicianName, DicomVR.PN, study.ReferringPhysicianName);
        if (!string.IsNullOrEmpty(study.StudyDescription))
        {
            dataset.Text(DicomTags.StudyDescription, DicomVR.LO, study.StudyDescription);
        }
        dataset.Text(DicomTags.SeriesDescription, DicomVR.LO, seriesDescription);
        dataset.Text(DicomTags.ManufacturerModelName, DicomVR.LO, Options.ManufacturerModelName);
        dataset.Text(DicomTags.PatientName, DicomVR.PN, study.PatientName);
        dataset.Text(DicomTags.PatientID, DicomVR.LO, study.PatientId);
        dataset.Text(DicomTags.PatientBirthDate, DicomVR.DA, study.PatientBirthDate);
        dataset.Text(DicomTags.PatientSex, DicomVR.CS, study.PatientSex);
        dataset.Text(DicomTags.DeviceSerialNumber, DicomVR.LO, SerialNumber);
        dataset.Text(DicomTags.SoftwareVersions, DicomVR.LO, SoftwareVersion);
        dataset.Text(DicomTags.StudyInstanceUID, DicomVR.UI, study.StudyInstanceUid);
        dataset.Text(DicomTags.SeriesInstanceUID, DicomVR.UI, seriesUid);
        dataset.Text(DicomTags.StudyID, DicomVR.SH, study.StudyId);
        dataset.Integer(DicomTags.SeriesNumber, seriesNumber);
        dataset.Integer(DicomTags.InstanceNumber, 1);
        return dataset;
    }

    public static StudyOutput ToOutput(string kind, DicomDataset dataset)
    {
        var sopClass = dataset.GetStringOrDefault(DicomTags.SOPClassUID)!;
        var sopInstance = dataset.GetStringOrDefault(DicomTags.SOPInstanceUID)!;
        return new StudyOutput(kind, $"{kind}-{sopInstance}.dcm", "application/dicom", DicomBuild.Serialize(dataset), sopClass, sopInstance);
    }
}
