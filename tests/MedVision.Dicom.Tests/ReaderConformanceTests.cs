using System.Globalization;
using System.Text.Json;
using MedVision.Dicom.IO;
using MedVision.Testing;

namespace MedVision.Dicom.Tests;

/// <summary>
/// Reads every real-world file of the pydicom collection and compares it, attribute by attribute, with what dcmtk's
/// dcm2json makes of the same file. Where we differ from dcmtk we are wrong until proven otherwise.
/// </summary>
public sealed class ReaderConformanceTests
{
    // Character sets whose decoding is complete here; values in other files are compared for structure only.
    private static readonly string[] ComparableCharsets = ["", "ISO_IR 100", "ISO_IR 192", "ISO_IR 6"];

    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (var path in Directory.EnumerateFiles(RepoPaths.PydicomTestFiles, "*.dcm").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(path));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public async Task Top_level_attributes_match_dcmtk(string name)
    {
        var path = Path.Combine(RepoPaths.PydicomTestFiles, name);
        var dcmtk = await ExternalTool.RunAsync("dcm2json", [path], TimeSpan.FromSeconds(60));
        if (dcmtk.ExitCode != 0)
        {
            // dcmtk refuses this file (e.g. truncated); we must refuse it too or read it with warnings, never crash.
            var ex = Record.Exception(() => DicomFile.Open(path));
            Assert.True(ex is null or DicomFormatException, $"{name}: unexpected {ex?.GetType().Name}: {ex?.Message}");
            return;
        }

        var file = DicomFile.Open(path);
        using var json = JsonDocument.Parse(dcmtk.StandardOutput);
        var expected = json.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
        var ours = file.Dataset.Where(i => !i.Tag.IsGroupLength && i.Tag.Group != 0x0002).ToDictionary(i => $"{i.Tag.Group:X4}{i.Tag.Element:X4}");

        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), ours.Keys.Order(StringComparer.Ordinal));
        var charset = file.Dataset.GetStringOrDefault(DicomTags.SpecificCharacterSet) ?? string.Empty;
        var compareText = ComparableCharsets.Contains(charset.Trim());
        foreach (var (key, item) in ours)
        {
            if (key == "00080005")
            {
                // dcm2json converts text to UTF-8 and rewrites the character set to ISO_IR 192.
                continue;
            }
            CompareItem(name, key, item, expected[key], file.Dataset, compareText);
        }
    }

    private static void CompareItem(string file, string key, DicomItem item, JsonElement expected, DicomDataset owner, bool compareText)
    {
        var expectedVR = expected.GetProperty("vr").GetString();
        var where = $"{file} {key}";
        if (item is DicomSequence sequence)
        {
            Assert.True(expectedVR is "SQ" or "UN", $"{where}: we read a sequence, dcmtk says {expectedVR}");
            var items = expected.TryGetProperty("Value", out var v) ? v.GetArrayLength() : 0;
            Assert.True(items == sequence.Items.Count, $"{where}: {sequence.Items.Count} items, dcmtk {items}");
            return;
        }
        if (item is DicomFragmentSequence)
        {
            return;
        }
        var element = (DicomElement)item;
        Assert.True(expectedVR == element.VR.Code || expectedVR == "UN" || element.VR == DicomVR.UN,
            $"{where}: VR {element.VR}, dcmtk {expectedVR}");
        if (!expected.TryGetProperty("Value", out var values) || values.ValueKind != JsonValueKind.Array)
        {
            if (element.VR.IsString && element.VR != DicomVR.UN)
            {
                // A PN of only component separators ("^^^^") is empty too.
                var text = element.GetText(owner.Encoding).Trim().Trim('\\');
                Assert.True((element.VR == DicomVR.PN ? text.Trim('^', '=', ' ') : text).Length == 0, $"{where}: we have a value, dcmtk has none");
            }
            return;
        }
        if (!compareText && DicomElement.UsesCharacterSet(element.VR))
        {
            return;
        }
        var ourValues = element.GetText(owner.Encoding).Split('\\');
        var theirs = values.EnumerateArray().ToList();
        Assert.True(theirs.Count == ourValues.Length, $"{where}: {ourValues.Length} values, dcmtk {theirs.Count}");
        for (var i = 0; i < theirs.Count; i++)
        {
            var mine = ourValues[i].Trim();
            var their = theirs[i];
            switch (their.ValueKind)
            {
                case JsonValueKind.Number:
                    var expectedNumber = their.GetDouble();
                    Assert.True(double.TryParse(mine, NumberStyles.Float, CultureInfo.InvariantCulture, out var actual), $"{where}[{i}]: '{mine}' is not a number");
                    Assert.True(Math.Abs(actual - expectedNumber) <= 1e-6 * Math.Max(1, Math.Abs(expectedNumber)), $"{where}[{i}]: {actual} vs dcmtk {expectedNumber}");
                    break;
                case JsonValueKind.String:
                    var text = their.GetString()!;
                    if (element.VR == DicomVR.AT)
                    {
                        mine = mine.Replace("(", "", StringComparison.Ordinal).Replace(")", "", StringComparison.Ordinal).Replace(",", "", StringComparison.Ordinal);
                    }
                    Assert.True(string.Equals(text.Trim(), mine, StringComparison.Ordinal), $"{where}[{i}]: '{mine}' vs dcmtk '{text}'");
                    break;
                case JsonValueKind.Object when their.TryGetProperty("Alphabetic", out var alphabetic):
                    // Trailing empty name components are insignificant (PS3.5 6.2.1).
                    Assert.Equal(alphabetic.GetString()!.Trim().TrimEnd('^'), mine.Split('=')[0].Trim().TrimEnd('^'));
                    break;
            }
        }
    }

    [Fact]
    public void Truncated_file_is_refused_with_a_clear_error()
    {
        var ex = Assert.Throws<DicomFormatException>(() => DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, "MR_truncated.dcm")));
        Assert.Contains("Truncated", ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Files_without_meta_header_are_read_with_a_warning()
    {
        foreach (var name in new[] { "ExplVR_BigEndNoMeta.dcm", "ExplVR_LitEndNoMeta.dcm" })
        {
            var file = DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, name));
            Assert.NotEmpty(file.Warnings);
            Assert.False(string.IsNullOrEmpty(file.Dataset.GetStringOrDefault(DicomTags.SOPInstanceUID)));
        }
    }

    [Fact]
    public void Pixel_data_stays_on_disk_until_asked_for()
    {
        var file = DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, "CT_small.dcm"), new DicomReadOptions { LargeValueThreshold = 1024 });
        Assert.True(file.Dataset.TryGetElement(DicomTags.PixelData, out var pixels));
        Assert.False(pixels.Buffer.IsLoaded);
        Assert.Equal(128 * 128 * 2, pixels.Buffer.GetBytes().Length);
    }

    [Fact]
    public void Non_dicom_bytes_are_refused()
    {
        using var stream = new MemoryStream("This is certainly not a DICOM file, just some text."u8.ToArray());
        Assert.Throws<DicomFormatException>(() => DicomReader.Read(stream));
    }
}
