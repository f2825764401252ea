using System.Buffers.Binary;
using System.Text.Json;
using System.Text.RegularExpressions;
using MedVision.Dicom.Tests.Json;
using MedVision.Testing;

namespace MedVision.Dicom.Tests.Cli;

/// <summary>`medvision dump | json | deid | decode` run as a process on real files, checked against dcmtk where it has an equivalent.</summary>
public sealed partial class FileCommandTests
{
    private static string Sample(string name) => Path.Combine(RepoPaths.PydicomTestFiles, name);

    [Theory]
    [InlineData("CT_small.dcm")]
    [InlineData("rtplan.dcm")]
    [InlineData("test-SR.dcm")]
    [InlineData("MR_small_bigendian.dcm")]
    public async Task Dump_lists_the_same_attributes_as_dcmdump(string name)
    {
        var ours = await MedvisionCli.RunAsync("dump", Sample(name));
        Assert.True(ours.ExitCode == 0, ours.StandardError);
        var theirs = await ExternalTool.RunAsync("dcmdump", [Sample(name)]);
        Assert.Equal(0, theirs.ExitCode);

        // Keyed by position in the tree: our dataset model keeps attributes in tag order, dcmdump shows file order,
        // and a few files (test-SR.dcm) have items out of order.
        var expected = Lines(theirs.StandardOutput);
        var actual = Lines(ours.StandardOutput);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (path, e) in expected)
        {
            var a = actual[path];
            if (e.VR is "??" or "ox" or "xs" or "lt" || a.VR == "UN" || e.VR is "SQ" or "na")
            {
                continue; // dcmtk's pseudo VRs for what it could not decide; sequences and items have no comparable length.
            }
            Assert.True(e.VR == a.VR && e.Length == a.Length && e.VM == a.VM && e.Keyword == a.Keyword,
                $"{name} {path}: ours '{a.VR} #{a.Length}, {a.VM} {a.Keyword}', dcmdump '{e.VR} #{e.Length}, {e.VM} {e.Keyword}'");
        }
    }

    private sealed record DumpLine(string VR, string Length, string VM, string Keyword);

    /// <summary>Attribute lines of the data set part by path ("(0040,a730)/2/(0040,a010)"), delimiters left out.</summary>
    private static Dictionary<string, DumpLine> Lines(string dump)
    {
        var lines = new Dictionary<string, DumpLine>();
        var ancestors = new List<(int Indent, string Key, int Items)>();
        var inDataset = false;
        // dcmdump prints CR/LF inside a text value as they are; such a line continues the attribute line above.
        var joined = new List<string>();
        foreach (var line in dump.Split('\n'))
        {
            if (joined.Count > 0 && line.Length > 0 && !line.TrimStart().StartsWith('(') && !line.StartsWith('#'))
            {
                joined[^1] += "." + line;
            }
            else
            {
                joined.Add(line);
            }
        }
        foreach (var line in joined)
        {
            if (line.StartsWith("# Dicom-Data-Set", StringComparison.Ordinal))
            {
                inDataset = true;
                continue;
            }
            var m = DumpLinePattern().Match(line);
            if (!inDataset || !m.Success)
            {
                continue;
            }
            var indent = m.Groups["indent"].Length;
            var tag = m.Groups["tag"].Value;
            if (tag is "fffe,e00d" or "fffe,e0dd")
            {
                continue;
            }
            ancestors.RemoveAll(a => a.Indent >= indent);
            string key;
            if (tag == "fffe,e000")
            {
                var parent = ancestors[^1];
                ancestors[^1] = parent with { Items = parent.Items + 1 };
                key = $"{parent.Key}/{parent.Items}";
            }
            else
            {
                key = ancestors.Count == 0 ? tag : $"{ancestors[^1].Key}/{tag}";
            }
            ancestors.Add((indent, key, 0));
            lines[key] = new DumpLine(m.Groups["vr"].Value, m.Groups["length"].Value, m.Groups["vm"].Value, m.Groups["keyword"].Value.Trim());
        }
        return lines;
    }

    [GeneratedRegex(@"^(?<indent> *)\((?<tag>[0-9a-f]{4},[0-9a-f]{4})\) (?<vr>\S\S) .*# +(?<length>\S+), (?<vm>\d+) (?<keyword>.*)$")]
    private static partial Regex DumpLinePattern();

    [Fact]
    public async Task Json_writes_what_dcm2json_writes()
    {
        var ours = await MedvisionCli.RunAsync("json", Sample("MR_small.dcm"));
        Assert.True(ours.ExitCode == 0, ours.StandardError);
        var theirs = await ExternalTool.RunAsync("dcm2json", [Sample("MR_small.dcm")]);
        using var expected = JsonDocument.Parse(theirs.StandardOutput);
        using var actual = JsonDocument.Parse(ours.StandardOutput);
        var differences = JsonTree.Differences(expected.RootElement, actual.RootElement);
        Assert.True(differences.Count == 0, string.Join("; ", differences));
        Assert.True(actual.RootElement.GetProperty("7FE00010").TryGetProperty("InlineBinary", out _));
    }

    [Fact]
    public async Task Deid_of_a_folder_maps_uids_consistently_with_a_site_key()
    {
        using var temp = new TempDirectory();
        var input = Directory.CreateDirectory(temp.Combine("in", "series")).FullName;
        foreach (var name in new[] { "MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm" })
        {
            File.Copy(Sample(name), Path.Combine(input, name));
        }
        var key = temp.Combine("site.key");
        await File.WriteAllBytesAsync(key, Enumerable.Range(0, 32).Select(i => (byte)(i * 7)).ToArray());
        var report = temp.Combine("report.tsv");

        var run = await MedvisionCli.RunAsync("deid", temp.Combine("in"), temp.Combine("out"), "--key-file", key, "--retain-dates", "--report", report);
        Assert.True(run.ExitCode == 0, run.Combined);
        var outputs = Directory.GetFiles(temp.Combine("out", "series")).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(3, outputs.Count);
        var original = DicomFile.Open(Sample("MR_small.dcm")).Dataset;
        var studies = new HashSet<string?>();
        foreach (var path in outputs)
        {
            // dcmtk must read what we wrote.
            var dcmdump = await ExternalTool.RunAsync("dcmdump", [path]);
            Assert.True(dcmdump.ExitCode == 0, dcmdump.StandardError);
            var dataset = DicomFile.Open(path).Dataset;
            studies.Add(dataset.GetStringOrDefault(DicomTags.StudyInstanceUID));
            Assert.Equal(original.GetStringOrDefault(DicomTags.StudyDate), dataset.GetStringOrDefault(DicomTags.StudyDate));
            Assert.NotEqual(original.GetStringOrDefault(DicomTags.PatientName), dataset.GetStringOrDefault(DicomTags.PatientName));
        }
        Assert.Single(studies);
        Assert.NotEqual(original.GetStringOrDefault(DicomTags.StudyInstanceUID), studies.Single());

        // The same key in a second run gives the same UIDs.
        var again = await MedvisionCli.RunAsync("deid", Path.Combine(input, "MR_small.dcm"), temp.Combine("again.dcm"), "--key-file", key, "--retain-dates");
        Assert.True(again.ExitCode == 0, again.Combined);
        Assert.Equal(studies.Single(), DicomFile.Open(temp.Combine("again.dcm")).Dataset.GetStringOrDefault(DicomTags.StudyInstanceUID));

        var rows = await File.ReadAllLinesAsync(report);
        Assert.Contains(rows, r => r.Contains("(0010,0010)", StringComparison.Ordinal) && r.EndsWith("Pseudonymized", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.Contains("(0020,000D)", StringComparison.Ordinal) && r.EndsWith("UidReplaced", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Decode_writes_a_png_of_the_frame()
    {
        using var temp = new TempDirectory();
        var png = temp.Combine("ct.png");
        var run = await MedvisionCli.RunAsync("decode", Sample("CT_small.dcm"), png);
        Assert.True(run.ExitCode == 0, run.Combined);
        var bytes = await File.ReadAllBytesAsync(png);
        Assert.True(bytes.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }));
        Assert.Equal(128, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));
        Assert.Equal(128, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));

        var missingFrame = await MedvisionCli.RunAsync("decode", Sample("CT_small.dcm"), png, "--frame", "2");
        Assert.Equal(1, missingFrame.ExitCode);
        Assert.Contains("frame 2 does not exist", missingFrame.StandardError, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("dump")]
    [InlineData("json")]
    public async Task Bad_input_gives_one_error_line_and_a_nonzero_exit_code(string command)
    {
        using var temp = new TempDirectory();
        var text = temp.Combine("notes.txt");
        await File.WriteAllTextAsync(text, "This is certainly not a DICOM file, just some text.");
        foreach (var path in new[] { text, temp.Combine("missing.dcm"), Sample("MR_truncated.dcm") })
        {
            var run = await MedvisionCli.RunAsync(command, path);
            Assert.NotEqual(0, run.ExitCode);
            var errorLines = run.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(errorLines.Length == 1 && errorLines[0].StartsWith("error: ", StringComparison.Ordinal), $"{command} {path}: {run.StandardError}");
        }
    }

    [Fact]
    public async Task Deid_refuses_burned_in_annotation_and_missing_input()
    {
        using var temp = new TempDirectory();
        var missing = await MedvisionCli.RunAsync("deid", temp.Combine("nothing-here"), temp.Combine("out"));
        Assert.Equal(1, missing.ExitCode);
        Assert.StartsWith("error: ", missing.StandardError, StringComparison.Ordinal);

        var file = DicomFile.Open(Sample("MR_small.dcm"));
        file.Dataset.AddOrUpdate(DicomTags.BurnedInAnnotation, DicomVR.CS, "YES");
        var burned = temp.Combine("burned.dcm");
        file.Save(burned);
        var refused = await MedvisionCli.RunAsync("deid", burned, temp.Combine("out.dcm"));
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("Burned In Annotation", refused.StandardError, StringComparison.Ordinal);
        Assert.False(File.Exists(temp.Combine("out.dcm")));
        var flagged = await MedvisionCli.RunAsync("deid", burned, temp.Combine("out.dcm"), "--flag-burned-in");
        Assert.Equal(0, flagged.ExitCode);
        Assert.True(File.Exists(temp.Combine("out.dcm")));
    }
}
