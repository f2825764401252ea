using System.Buffers.Binary;
using MedVision.Dicom;
using MedVision.Dicom.IO;
using MedVision.Testing;

namespace MedVision.Benchmarks;

/// <summary>Benchmark corpora made from real files: copies with fresh UIDs, optionally upscaled to a larger matrix.</summary>
public static class BenchmarkData
{
    public static void CopiesOf(string source, string folder, int count, int upscale)
    {
        var original = DicomFile.Open(source);
        var dataset = original.Dataset;
        if (upscale > 1)
        {
            var rows = dataset.GetIntOrDefault(DicomTags.Rows, 0);
            var columns = dataset.GetIntOrDefault(DicomTags.Columns, 0);
            dataset.TryGetElement(DicomTags.PixelData, out var pixels);
            var src = pixels.Buffer.GetBytes().Span;
            var big = new byte[rows * upscale * columns * upscale * 2];
            for (var y = 0; y < rows * upscale; y++)
            {
                for (var x = 0; x < columns * upscale; x++)
                {
                    var v = BinaryPrimitives.ReadUInt16LittleEndian(src[(((y / upscale) * columns + x / upscale) * 2)..]);
                    BinaryPrimitives.WriteUInt16LittleEndian(big.AsSpan((y * columns * upscale + x) * 2), v);
                }
            }
            dataset.AddOrUpdate(DicomTags.Rows, DicomVR.US, (ushort)(rows * upscale));
            dataset.AddOrUpdate(DicomTags.Columns, DicomVR.US, (ushort)(columns * upscale));
            dataset.AddOrUpdate(DicomTags.PixelData, DicomVR.OW, big);
        }
        var study = ChestXrayDicom.NewUid();
        dataset.AddOrUpdate(DicomTags.StudyInstanceUID, DicomVR.UI, study);
        for (var i = 0; i < count; i++)
        {
            var uid = ChestXrayDicom.NewUid();
            dataset.AddOrUpdate(DicomTags.SOPInstanceUID, DicomVR.UI, uid);
            DicomFile.Create(dataset, DicomTransferSyntax.ExplicitVRLittleEndian).Save(Path.Combine(folder, $"{i:D5}.dcm"));
        }
    }
}
