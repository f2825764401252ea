using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;

namespace MedVision.Dicom.Tests;

public sealed class DictionaryTests
{
    private static readonly DicomDictionary Dict = DicomDictionary.Default;

    private static string Codes(IEnumerable<DicomVR> vrs) => string.Join('|', vrs.Select(v => v.Code));

    [Fact]
    public void PatientName_IsPN_VM1()
    {
        Assert.Equal(new DicomTag(0x0010, 0x0010), DicomTags.PatientName);
        Assert.True(Dict.TryGetEntry(DicomTags.PatientName, out var entry));
        Assert.Equal("PatientName", entry.Keyword);
        Assert.Equal("Patient's Name", entry.Name);
        Assert.Equal("PN", Codes(entry.VRs));
        Assert.Equal("1", entry.VM);
        Assert.False(entry.Retired);
        Assert.False(entry.IsRepeating);
        Assert.Same(DicomVR.PN, Dict.GetVR(DicomTags.PatientName));
    }

    [Fact]
    public void PixelData_IsOBorOW()
    {
        Assert.True(Dict.TryGetEntry(new DicomTag(0x7FE0, 0x0010), out var entry));
        Assert.Equal("PixelData", entry.Keyword);
        Assert.Equal("OB|OW", Codes(entry.VRs));
        Assert.Same(DicomVR.OB, Dict.GetVR(DicomTags.PixelData));
    }

    [Theory]
    [InlineData(0x0018, 0x9810, "US|SS")]    // dcmtk xs
    [InlineData(0x0028, 0x3006, "US|SS|OW")] // dcmtk lt
    [InlineData(0x0004, 0x1200, "UL")]       // dcmtk up
    [InlineData(0xFFFE, 0xE000, "")]         // dcmtk na
    [InlineData(0xFFFE, 0xE0DD, "")]
    public void PseudoVRs_MapToRealOnes(int group, int element, string expected)
    {
        Assert.True(Dict.TryGetEntry(new DicomTag((ushort)group, (ushort)element), out var entry));
        Assert.Equal(expected, Codes(entry.VRs));
        Assert.Same(expected.Length == 0 ? DicomVR.UN : entry.VRs[0], Dict.GetVR(entry.Tag));
    }

    [Theory]
    [InlineData(0x6002, 0x3000, "OverlayData", "(60xx,3000)")]
    [InlineData(0x60FE, 0x0010, "OverlayRows", "(60xx,0010)")]
    [InlineData(0x5010, 0x3000, "CurveData", "(50xx,3000)")]
    [InlineData(0x0020, 0x3105, "SourceImageIDs", "(0020,31xx)")]
    [InlineData(0x1000, 0x0021, "RunLengthTriplet", "(1000,xxx1)")]
    [InlineData(0x1010, 0x1234, "ZonalMap", "(1010,xxxx)")]
    [InlineData(0x0028, 0x0450, "RowsForNthOrderCoefficients", "(0028,04x0)")]
    public void RepeatingGroupsAndElements_Resolve(int group, int element, string keyword, string pattern)
    {
        var tag = new DicomTag((ushort)group, (ushort)element);
        Assert.True(Dict.TryGetEntry(tag, out var entry));
        Assert.Equal(keyword, entry.Keyword);
        Assert.Equal(pattern, entry.TagPattern);
        Assert.True(entry.IsRepeating);
        Assert.True(entry.Matches(tag));
    }

    [Fact]
    public void OverlayData_In6002_IsOBorOW()
    {
        Assert.True(Dict.TryGetEntry(new DicomTag(0x6002, 0x3000), out var entry));
        Assert.Equal("OB|OW", Codes(entry.VRs));
        Assert.Equal(new DicomTag(0x6000, 0x3000), entry.Tag);
        // An odd group is private, never an overlay.
        Assert.False(Dict.TryGetEntry(new DicomTag(0x6001, 0x3000), out _));
    }

    [Fact]
    public void ExactEntriesWinOverRepeatingOnes()
    {
        Assert.True(Dict.TryGetEntry(new DicomTag(0x7FE0, 0x0010), out var pixel));
        Assert.Equal("PixelData", pixel.Keyword); // not (7Fxx,0010) VariablePixelData
        Assert.True(Dict.TryGetEntry(new DicomTag(0x0028, 0x0400), out var transform));
        Assert.False(transform.IsRepeating);   // (0028,0400) TransformLabel, not (0028,04x0)
    }

    [Fact]
    public void PrivateCreator_IsLO()
    {
        var tag = new DicomTag(0x0009, 0x0010);
        Assert.True(Dict.TryGetEntry(tag, out var entry));
        Assert.Equal("PrivateCreator", entry.Keyword);
        Assert.Equal("LO", Codes(entry.VRs));
        Assert.True(entry.Matches(new DicomTag(0x0029, 0x00FF)));
        Assert.False(entry.Matches(new DicomTag(0x0029, 0x0100)));
        Assert.Same(DicomVR.LO, Dict.GetVR(tag));
        Assert.Same(DicomVR.LO, Dict.GetVR(new DicomTag(0x7FE1, 0x00FF)));
    }

    [Fact]
    public void GroupLength_IsUL()
    {
        Assert.True(Dict.TryGetEntry(new DicomTag(0x0008, 0x0000), out var entry));
        Assert.Equal("GroupLength", entry.Keyword);
        Assert.Equal("UL", Codes(entry.VRs));
        Assert.Same(DicomVR.UL, Dict.GetVR(new DicomTag(0x0009, 0x0000)));
        // Groups 0000 and 0002 have their own entries.
        Assert.True(Dict.TryGetEntry(new DicomTag(0x0002, 0x0000), out var meta));
        Assert.Equal("FileMetaInformationGroupLength", meta.Keyword);
    }

    [Fact]
    public void UnknownAndPrivateDataElements_AreUN()
    {
        Assert.False(Dict.TryGetEntry(new DicomTag(0x0009, 0x1010), out _));
        Assert.Same(DicomVR.UN, Dict.GetVR(new DicomTag(0x0009, 0x1010)));
        Assert.Same(DicomVR.UN, Dict.GetVR(new DicomTag(0x0010, 0xABCD)));
    }

    [Theory]
    [InlineData("PatientName", 0x0010, 0x0010)]
    [InlineData("PatientID", 0x0010, 0x0020)]
    [InlineData("StudyInstanceUID", 0x0020, 0x000D)]
    [InlineData("TransferSyntaxUID", 0x0002, 0x0010)]
    [InlineData("PixelData", 0x7FE0, 0x0010)]
    [InlineData("CommandGroupLength", 0x0000, 0x0000)]
    [InlineData("EscapeTriplet", 0x1000, 0x0010)] // dcmtk's concrete entry owns the keyword, not (1000,xxx0)
    [InlineData("OverlayData", 0x6000, 0x3000)]   // repeating entries give their first tag
    public void Keyword_RoundTrips(string keyword, int group, int element)
    {
        Assert.True(Dict.TryGetTag(keyword, out var tag));
        Assert.Equal(new DicomTag((ushort)group, (ushort)element), tag);
        Assert.True(Dict.TryGetEntry(tag, out var entry));
        Assert.Equal(keyword, entry.Keyword);
    }

    [Fact]
    public void UnknownKeyword_IsNotFound()
    {
        Assert.False(Dict.TryGetTag("NoSuchKeyword", out _));
        Assert.False(Dict.TryGetTag("patientname", out _)); // keywords are case-sensitive
    }

    [Fact]
    public void GeneratedTable_IsLarge()
    {
        Assert.True(Dict.Count > 4000, $"only {Dict.Count} entries");
        Assert.True(Dict.PrivateEntries.Count > 2000, $"only {Dict.PrivateEntries.Count} private entries");
        Assert.Equal(Dict.Count, Dict.Entries.Count);
    }

    [Fact]
    public void EveryDicomTagsField_IsInTheDictionary()
    {
        var fields = typeof(DicomTags).GetFields(BindingFlags.Public | BindingFlags.Static);
        Assert.True(fields.Length > 4000, $"only {fields.Length} fields");
        foreach (var field in fields)
        {
            var tag = (DicomTag)field.GetValue(null)!;
            Assert.True(Dict.TryGetEntry(tag, out var entry), $"{field.Name} {tag} is not in the dictionary");
            Assert.False(entry.IsRepeating, field.Name);
            Assert.StartsWith(entry.Keyword, field.Name.TrimStart('@'), StringComparison.Ordinal);
            if (field.Name == entry.Keyword)
            {
                Assert.True(Dict.TryGetTag(entry.Keyword, out var byKeyword));
                Assert.Equal(tag, byKeyword);
            }
        }
    }

    [Fact]
    public void PrivateEntries_ResolveByCreatorAndLowByte()
    {
        Assert.True(Dict.TryGetPrivateEntry(0x0029, "SIEMENS CSA HEADER", 0x10, out var csa));
        Assert.Equal("CSAImageHeaderInfo", csa.Keyword);
        Assert.Equal("OB", Codes(csa.VRs));
        Assert.Equal("SIEMENS CSA HEADER", csa.PrivateCreator);
        Assert.True(csa.Matches(new DicomTag(0x0029, 0x1010)));
        Assert.True(csa.Matches(new DicomTag(0x0029, 0x1110))); // any reserved block

        // Creator values are LO: padding is not significant.
        Assert.True(Dict.TryGetPrivateEntry(0x0019, "GEMS_ACQU_01 ", 0x02, out var ge));
        Assert.Equal("NumberOfCellsInDetector", ge.Keyword);

        // A repeating private group (6001-o-60FF).
        Assert.True(Dict.TryGetPrivateEntry(0x6003, "PAPYRUS 3.0", 0x10, out var papyrus));
        Assert.Equal("OverlayRows", papyrus.Keyword);

        Assert.False(Dict.TryGetPrivateEntry(0x0029, "NO SUCH CREATOR", 0x10, out _));
        Assert.False(Dict.TryGetPrivateEntry(0x0028, "SIEMENS CSA HEADER", 0x10, out _)); // even group
    }

    private const string DcmtkDictionary = "/usr/share/libdcmtk17/dicom.dic";

    /// <summary>A fact that is reported as skipped, not passed, when dcmtk's dictionary is not installed.</summary>
    private sealed class DcmtkDictionaryFactAttribute : FactAttribute
    {
        public DcmtkDictionaryFactAttribute()
        {
            if (!File.Exists(DcmtkDictionary))
            {
                Skip = $"{DcmtkDictionary} is not installed (apt-get install libdcmtk17).";
            }
        }
    }

    private static readonly Dictionary<string, string> DcmtkPseudoVRs = new(StringComparer.Ordinal)
    {
        ["ox"] = "OB|OW", ["px"] = "OB|OW", ["xs"] = "US|SS", ["lt"] = "US|SS|OW", ["up"] = "UL", ["na"] = "",
    };

    /// <summary>Re-reads dcmtk's dictionary and compares every entry with ours.</summary>
    [DcmtkDictionaryFact]
    public void EveryDcmtkEntry_MatchesOurDictionary()
    {
        var range = new Regex(@"^\(([0-9A-F]{4})(?:-([0-9A-F]{4}))?,([0-9A-F]{4})(?:-([0-9A-F]{4}))?\)$");
        var mismatches = new List<string>();
        var exactCount = 0;
        foreach (var line in File.ReadLines(DcmtkDictionary))
        {
            if (line.StartsWith('#') || line.Length == 0)
            {
                continue;
            }
            var f = line.Split('\t');
            var m = range.Match(f[0]);
            if (!m.Success)
            {
                continue; // -o-/-u- catch-all rules, checked below
            }
            var keyword = f[2].StartsWith("RETIRED_", StringComparison.Ordinal) ? f[2]["RETIRED_".Length..] : f[2];
            var vrs = DcmtkPseudoVRs.TryGetValue(f[1], out var mapped) ? mapped : f[1];
            var retired = f[2].StartsWith("RETIRED_", StringComparison.Ordinal);
            var low = new DicomTag(Hex(m.Groups[1].Value), Hex(m.Groups[3].Value));
            var isRange = m.Groups[2].Success || m.Groups[4].Success;
            var high = new DicomTag(
                m.Groups[2].Success ? (ushort)(Hex(m.Groups[2].Value) & ~1) : low.Group, // repeating groups are even
                m.Groups[4].Success ? Hex(m.Groups[4].Value) : low.Element);
            exactCount += isRange ? 0 : 1;
            foreach (var tag in isRange ? new[] { low, high } : new[] { low })
            {
                if (!Dict.TryGetEntry(tag, out var entry))
                {
                    mismatches.Add($"{f[0]} {keyword}: {tag} not found");
                }
                else if (entry.Keyword != keyword || Codes(entry.VRs) != vrs || entry.VM != f[3] || entry.Retired != retired
                    || entry.IsRepeating != isRange)
                {
                    mismatches.Add($"{f[0]} {f[1]} {f[3]} {keyword}: ours is {entry}");
                }
            }
        }
        Assert.True(exactCount > 4000, $"parsed only {exactCount} exact dcmtk entries");
        Assert.True(mismatches.Count == 0, string.Join(Environment.NewLine, mismatches.Take(50)));
        // dcmtk's catch-all rules.
        Assert.Same(DicomVR.UL, Dict.GetVR(new DicomTag(0x0031, 0x0000)));    // PrivateGroupLength
        Assert.Same(DicomVR.LO, Dict.GetVR(new DicomTag(0x0031, 0x0010)));    // PrivateCreator
        Assert.Same(DicomVR.UL, Dict.GetVR(new DicomTag(0x0018, 0x0000)));    // GenericGroupLength
    }

    private static ushort Hex(string s) => ushort.Parse(s, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
