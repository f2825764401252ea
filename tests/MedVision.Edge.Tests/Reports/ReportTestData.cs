using MedVision.Dicom;
using MedVision.Dicom.IO;
using MedVision.Dicom.Imaging;
using MedVision.Edge.Outputs;
using MedVision.Edge.Reports;
using MedVision.Edge.Storage;
using MedVision.Testing;

namespace MedVision.Edge.Tests.Reports;

/// <summary>
/// A real study for the report and FHIR tests: a PneumoniaMNIST chest X-ray written as a 560 px CR instance with our DICOM writer,
/// rendered through the DICOM imaging code and overlaid with a colour heat map, as the heat-map producer stores it.
/// </summary>
public sealed class ReportTestData : IDisposable
{
    public const string HostileName = "O'BRIEN<script>alert(1)</script>^ANNE & \"ME\"";
    public const string Sha256 = "3f2a9c0d1b7e4f5a6c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";

    private readonly TempDirectory _folder = new("medvision-report");

    public ReportTestData()
    {
        var images = Npz.ReadUInt8(RepoPaths.RequireFile(RepoPaths.PneumoniaMnist), "test_images");
        var (path, studyUid, sopInstanceUid) = ChestXrayDicom.Create(_folder.Path, images.Image(3), scale: 20);
        InstancePath = path;
        StudyUid = studyUid;
        SopInstanceUid = sopInstanceUid;
        SeriesUid = DicomFile.Open(path).Dataset.GetStringOrDefault(DicomTags.SeriesInstanceUID)!;

        var grey = PngThumbnail.Decode(DicomImage.Open(DicomFile.Open(path)).RenderPng(0));
        Width = grey.Width;
        Height = grey.Height;
        OverlayPixels = Overlay(grey.Pixels, grey.Width, grey.Height);
        OverlayPath = _folder.Combine("overlay.png");
        using (var file = File.Create(OverlayPath))
        {
            PngWriter.Write(file, Width, Height, 3, OverlayPixels);
        }
        FloatMapPath = _folder.Combine("map.f32");
        File.WriteAllBytes(FloatMapPath, new byte[Width * Height * 4]);
    }

    public string InstancePath { get; }
    public string StudyUid { get; }
    public string SeriesUid { get; }
    public string SopInstanceUid { get; }
    public string OverlayPath { get; }
    public string FloatMapPath { get; }
    public int Width { get; }
    public int Height { get; }
    public byte[] OverlayPixels { get; }

    public string Combine(string name) => _folder.Combine(name);

    public StudyResults Results(string? patientName = HostileName, PriorComparison? prior = null, string? overlayPath = null, string patientId = "MV-0042")
    {
        var header = new StudyHeader(StudyUid, patientName, patientId, "20180314", "F", "20260102", "101530", "ACC-77&1", "Chest PA <portable>",
            "7", "HOUSE^GREGORY", "CR");
        var instance = new SourceInstance("1.2.840.10008.5.1.4.1.1.1", SopInstanceUid, SeriesUid, "CR", InstancePath);
        var created = new DateTimeOffset(2026, 1, 2, 10, 20, 0, TimeSpan.Zero);
        var pneumonia = new StudyFinding(11,
            new FindingRecord(StudyUid, SopInstanceUid, "cxr-pneumonia", "2.0.0", Sha256, "pneumonia", 0.8734, 0.5, true, "CPU", 12.5, created),
            "Pneumonia", new CodedConcept("http://snomed.info/sct", "233604007", "Pneumonia (disorder)"),
            new HeatmapReference(SopInstanceUid, Width, Height, FloatMapPath, overlayPath ?? OverlayPath));
        var effusion = new StudyFinding(12,
            new FindingRecord(StudyUid, SopInstanceUid, "cxr-effusion", "1.1.0", Sha256, "effusion", 0.1234, 0.45, false, "CUDA", 9.0, created),
            "Pleural effusion", null, null);
        return new StudyResults(header, [instance], [pneumonia, effusion], prior);
    }

    public static PriorComparison Prior(string studyUid) => new(studyUid, "20251201", "ACC-OLD-9",
    [
        new FindingChange("cxr-pneumonia", "pneumonia", 0.21, false, 0.8734, true, FindingChanges.New),
        new FindingChange("cxr-effusion", "effusion", 0.30, false, 0.1234, false, FindingChanges.Unchanged),
    ]);

    /// <summary>A red-yellow blob (a class activation map's shape) blended over the grey image.</summary>
    private static byte[] Overlay(byte[] grey, int width, int height)
    {
        var rgb = new byte[width * height * 3];
        double cx = width * 0.35, cy = height * 0.55, sigma = width * 0.15;
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var cam = Math.Exp(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (2 * sigma * sigma));
                var alpha = 0.6 * cam;
                var g = grey[y * width + x];
                var i = (y * width + x) * 3;
                rgb[i] = (byte)Math.Round(g * (1 - alpha) + 255 * alpha);
                rgb[i + 1] = (byte)Math.Round(g * (1 - alpha) + 255 * cam * alpha);
                rgb[i + 2] = (byte)Math.Round(g * (1 - alpha));
            }
        }
        return rgb;
    }

    public void Dispose() => _folder.Dispose();
}

/// <summary>A clock stopped at one instant, so generation times in the outputs are known.</summary>
public sealed class FixedTime(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}
