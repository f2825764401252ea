using MedVision.Dicom.IO;
using MedVision.Testing;

namespace MedVision.Dicom.Tests;

/// <summary>What we write must read back in dcmtk exactly as the original did, in every uncompressed syntax.</summary>
public sealed class WriterRoundTripTests
{
    public static TheoryData<string, string> Cases()
    {
        var files = new[] { "CT_small.dcm", "MR_small.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm", "rtplan.dcm", "SC_rgb_small_odd.dcm", "test-SR.dcm", "image_dfl.dcm", "nested_priv_SQ.dcm" };
        var data = new TheoryData<string, string>();
        foreach (var file in files)
        {
            foreach (var ts in DicomTransferSyntax.Uncompressed)
            {
                data.Add(file, ts.Uid);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Rewritten_file_matches_dcmtk_view_of_the_original(string name, string syntaxUid)
    {
        using var temp = new TempDirectory();
        var source = Path.Combine(RepoPaths.PydicomTestFiles, name);
        var original = DicomFile.Open(source);
        var syntax = DicomTransferSyntax.Parse(syntaxUid);
        var output = temp.Combine("out.dcm");
        new DicomFile(DicomFile.CreateFileMetaInfo(
            original.Dataset.GetStringOrDefault(DicomTags.SOPClassUID) ?? "1.2.840.10008.5.1.4.1.1.7",
            original.Dataset.GetStringOrDefault(DicomTags.SOPInstanceUID) ?? "2.25.1", syntax),
            original.Dataset, syntax).Save(output);

        var before = await ExternalTool.RunAsync("dcm2json", [source]);
        var after = await ExternalTool.RunAsync("dcm2json", [output]);
        Assert.True(after.ExitCode == 0, after.StandardError);
        // Implicit VR cannot say whether pixel data was OB or OW; dcmtk reads it back as OW.
        var expected = syntax == DicomTransferSyntax.ImplicitVRLittleEndian ? PixelDataAsOW(before.StandardOutput) : before.StandardOutput;
        Assert.Equal(expected, after.StandardOutput);

        var reread = DicomFile.Open(output);
        Assert.Equal(syntax, reread.TransferSyntax);
        Assert.Equal(original.Dataset.Count, reread.Dataset.Count);
    }

    private static string PixelDataAsOW(string json) =>
        json.Replace("\"7FE00010\": {\n    \"vr\": \"OB\"", "\"7FE00010\": {\n    \"vr\": \"OW\"", StringComparison.Ordinal);
}
