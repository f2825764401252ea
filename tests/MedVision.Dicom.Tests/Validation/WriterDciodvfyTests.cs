using MedVision.Testing;
using Xunit.Abstractions;

namespace MedVision.Dicom.Tests.Validation;

/// <summary>What our writer writes must validate no worse than what it read: dciodvfy error counts may not grow.</summary>
public sealed class WriterDciodvfyTests(ITestOutputHelper output)
{
    // image_dfl.dcm (deflated) is not here: dciodvfy 1.00~20220618 fails to read deflated files, so there is no baseline.
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        string[] files = ["CT_small.dcm", "MR_small.dcm", "MR_small_bigendian.dcm", "rtplan.dcm", "rtstruct.dcm", "rtdose.dcm", "test-SR.dcm",
            "waveform_ecg.dcm", "SC_rgb_small_odd.dcm", "examples_overlay.dcm", "examples_palette.dcm", "reportsi.dcm", "liver_1frame.dcm",
            "JPEG2000.dcm", "MR_small_RLE.dcm"];
        foreach (var file in files)
        {
            data.Add(file, DicomTransferSyntax.ExplicitVRLittleEndian.Uid);
            data.Add(file, DicomTransferSyntax.ImplicitVRLittleEndian.Uid);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Rewritten_file_has_no_new_dciodvfy_errors(string name, string syntaxUid)
    {
        using var temp = new TempDirectory();
        var source = Path.Combine(RepoPaths.PydicomTestFiles, name);
        var original = DicomFile.Open(source);
        // Encapsulated data stays in its own syntax; native data goes to the syntax under test.
        var syntax = original.TransferSyntax.IsEncapsulated ? original.TransferSyntax : DicomTransferSyntax.Parse(syntaxUid);
        var rewritten = temp.Combine("out.dcm");
        var meta = DicomFile.CreateFileMetaInfo(
            original.Dataset.GetStringOrDefault(DicomTags.SOPClassUID) ?? original.FileMetaInfo.GetStringOrDefault(DicomTags.MediaStorageSOPClassUID) ?? string.Empty,
            original.Dataset.GetStringOrDefault(DicomTags.SOPInstanceUID) ?? original.FileMetaInfo.GetStringOrDefault(DicomTags.MediaStorageSOPInstanceUID) ?? string.Empty,
            syntax);
        new DicomFile(meta, original.Dataset, syntax).Save(rewritten);

        var before = await Dciodvfy.ErrorsAsync(source);
        var after = await Dciodvfy.ErrorsAsync(rewritten);
        output.WriteLine($"{name} as {syntax.Name}: dciodvfy errors {before.Count} before, {after.Count} after");
        var added = Dciodvfy.NewErrors(before, after);
        Assert.True(added.Count == 0, $"{name}: new dciodvfy errors: {string.Join(" | ", added)}");
    }
}
