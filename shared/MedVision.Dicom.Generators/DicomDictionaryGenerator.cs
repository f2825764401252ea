using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace MedVision.Dicom.Generators;

/// <summary>
/// Turns the dictionary TSVs (AdditionalFiles tags.tsv, private-tags.tsv, uids.tsv written by
/// Dictionary/make-dictionary.py) into DicomTags, DicomUids and the internal tables behind
/// DicomDictionary and DicomUidRegistry.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class DicomDictionaryGenerator : IIncrementalGenerator
{
    private const string TagsFile = "tags.tsv";
    private const string PrivateTagsFile = "private-tags.tsv";
    private const string UidsFile = "uids.tsv";

#pragma warning disable RS2008 // No analyzer release tracking: these diagnostics only guard this repository's build.
    private static readonly DiagnosticDescriptor MissingFile = new(
        "MVDICT001", "Dictionary file missing", "AdditionalFiles has no '{0}'; run Dictionary/make-dictionary.py",
        "MedVision.Dicom.Generators", DiagnosticSeverity.Error, isEnabledByDefault: true);

    private static readonly DiagnosticDescriptor BadLine = new(
        "MVDICT002", "Malformed dictionary line", "{0}:{1}: {2}",
        "MedVision.Dicom.Generators", DiagnosticSeverity.Error, isEnabledByDefault: true);
#pragma warning restore RS2008

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var files = context.AdditionalTextsProvider
            .Where(static t => Path.GetFileName(t.Path) is TagsFile or PrivateTagsFile or UidsFile)
            .Select(static (t, ct) => new InputFile(Path.GetFileName(t.Path), t.GetText(ct)?.ToString() ?? string.Empty))
            .Collect();
        context.RegisterSourceOutput(files, static (spc, inputs) => Emit(spc, inputs));
    }

    private static void Emit(SourceProductionContext spc, ImmutableArray<InputFile> inputs)
    {
        var byName = new Dictionary<string, InputFile>(StringComparer.Ordinal);
        foreach (var f in inputs)
        {
            byName[f.Name] = f;
        }
        var errors = new List<Diagnostic>();
        List<TagRow>? tags = null;
        List<PrivateRow>? privateTags = null;
        List<UidRow>? uids = null;
        if (Require(byName, TagsFile, errors) is { } tagFile)
        {
            tags = ParseTags(tagFile, errors);
        }
        if (Require(byName, PrivateTagsFile, errors) is { } privateFile)
        {
            privateTags = ParsePrivateTags(privateFile, errors);
        }
        if (Require(byName, UidsFile, errors) is { } uidFile)
        {
            uids = ParseUids(uidFile, errors);
        }
        foreach (var e in errors)
        {
            spc.ReportDiagnostic(e);
        }
        if (errors.Count > 0 || tags is null || privateTags is null || uids is null)
        {
            return;
        }
        spc.CancellationToken.ThrowIfCancellationRequested();
        spc.AddSource("DicomTags.g.cs", SourceText.From(EmitDicomTags(tags), Encoding.UTF8));
        spc.AddSource("DicomUids.g.cs", SourceText.From(EmitDicomUids(uids), Encoding.UTF8));
        spc.AddSource("DicomDictionaryData.g.cs", SourceText.From(EmitDictionaryData(tags, privateTags), Encoding.UTF8));
        spc.AddSource("DicomUidData.g.cs", SourceText.From(EmitUidData(uids), Encoding.UTF8));
    }

    private static InputFile? Require(Dictionary<string, InputFile> files, string name, List<Diagnostic> errors)
    {
        if (files.TryGetValue(name, out var f))
        {
            return f;
        }
        errors.Add(Diagnostic.Create(MissingFile, Location.None, name));
        return null;
    }

    // ---------------------------------------------------------------- parsing

    private sealed class InputFile : IEquatable<InputFile>
    {
        public InputFile(string name, string text)
        {
            Name = name;
            Text = text;
        }

        public string Name { get; }
        public string Text { get; }

        public bool Equals(InputFile? other) => other is not null && other.Name == Name && other.Text == Text;
        public override bool Equals(object? obj) => Equals(obj as InputFile);
        public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Name) ^ StringComparer.Ordinal.GetHashCode(Text);
    }

    private sealed class TagRow
    {
        public uint Tag;        // x digits as 0
        public uint Mask;       // 0xF per fixed digit, 0 per x digit
        public string Vr = "";
        public string Vm = "";
        public string Keyword = "";
        public string Name = "";
        public bool Retired;
        public bool OwnsKeyword;
        public string? Member;  // DicomTags field name, null for repeating entries

        public bool IsRepeating => Mask != 0xFFFFFFFF;
    }

    private sealed class PrivateRow
    {
        public ushort Group;
        public ushort GroupMask;
        public string Creator = "";
        public ushort Element;
        public bool FixedElement;
        public string Vr = "";
        public string Vm = "";
        public string Keyword = "";
    }

    private sealed class UidRow
    {
        public string Uid = "";
        public string Keyword = "";
        public string Name = "";
        public string Type = "";
        public bool Retired;
    }

    /// <summary>Rows of a TSV as column-name lookups; '#' lines are comments, the first other line is the header.</summary>
    private static IEnumerable<(int Line, Func<string, string> Get)> ReadTsv(InputFile file, string[] required, List<Diagnostic> errors)
    {
        var lines = file.Text.Split('\n');
        Dictionary<string, int>? columns = null;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            var fields = line.Split('\t');
            if (columns is null)
            {
                columns = new Dictionary<string, int>(StringComparer.Ordinal);
                for (var c = 0; c < fields.Length; c++)
                {
                    columns[fields[c]] = c;
                }
                var missing = required.Where(r => !columns.ContainsKey(r)).ToList();
                if (missing.Count > 0)
                {
                    errors.Add(Diagnostic.Create(BadLine, Location.None, file.Name, i + 1, "header lacks column(s) " + string.Join(", ", missing)));
                    yield break;
                }
                continue;
            }
            if (fields.Length != columns.Count)
            {
                errors.Add(Diagnostic.Create(BadLine, Location.None, file.Name, i + 1, $"expected {columns.Count} fields, found {fields.Length}"));
                continue;
            }
            var cols = columns;
            yield return (i + 1, name => fields[cols[name]]);
        }
    }

    private static bool TryParseMasked(string hex, out ushort value, out ushort mask)
    {
        value = 0;
        mask = 0;
        if (hex.Length != 4)
        {
            return false;
        }
        foreach (var ch in hex)
        {
            value <<= 4;
            mask <<= 4;
            if (ch is 'x' or 'X')
            {
                continue;
            }
            var d = ch is >= '0' and <= '9' ? ch - '0' : ch is >= 'A' and <= 'F' ? ch - 'A' + 10 : ch is >= 'a' and <= 'f' ? ch - 'a' + 10 : -1;
            if (d < 0)
            {
                return false;
            }
            value |= (ushort)d;
            mask |= 0xF;
        }
        return true;
    }

    private static readonly HashSet<string> KnownVrs = new(StringComparer.Ordinal)
    {
        "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "OB", "OD", "OF", "OL", "OV", "OW",
        "PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV",
    };

    private static bool ValidVrSet(string vr) => vr.Length == 0 || vr.Split('|').All(KnownVrs.Contains);

    private static List<TagRow> ParseTags(InputFile file, List<Diagnostic> errors)
    {
        var rows = new List<TagRow>();
        var seen = new HashSet<ulong>();
        foreach (var (line, get) in ReadTsv(file, new[] { "tag", "vr", "vm", "keyword", "retired", "name" }, errors))
        {
            var tag = get("tag");
            var comma = tag.IndexOf(',');
            if (comma != 4 || tag.Length != 9
                || !TryParseMasked(tag.Substring(0, 4), out var g, out var gm)
                || !TryParseMasked(tag.Substring(5), out var e, out var em))
            {
                errors.Add(Diagnostic.Create(BadLine, Location.None, file.Name, line, $"bad tag '{tag}'"));
                continue;
            }
            var row = new TagRow
            {
                Tag = ((uint)g << 16) | e,
                Mask = ((uint)gm << 16) | em,
                Vr = get("vr"),
                Vm = get("vm"),
                Keyword = get("keyword"),
                Name = get("name"),
                Retired = get("retired") == "1",
            };
            if (!ValidVrSet(row.Vr) || row.Keyword.Length == 0 || !SyntaxFacts.IsValidIdentifier(row.Keyword))
            {
                errors.Add(Diagnostic.Create(BadLine, Location.None, file.Name, line, $"bad VR '{row.Vr}' or keyword '{row.Keyword}'"));
                continue;
            }
            if (!seen.Add(((ulong)row.Tag << 32) | row.Mask))
            {
                errors.Add(Diagnostic.Create(BadLine, Location.None, file.Name, line, $"duplicate tag '{tag}'"));
                continue;
            }
            rows.Add(row);
        }
        rows.Sort((a, b) => a.Tag != b.Tag ? a.Tag.CompareTo(b.Tag) : b.Mask.CompareTo(a.Mask));
        AssignKeywordOwnersAndMembers(rows);
        return rows;
    }

    /// <summary>
    /// One entry owns each keyword (TryGetTag returns it, and it gets the plain DicomTags name):
    /// exact before repeating, current before retired, then the lowest tag. Other exact entries
    /// with the same keyword get the member name Keyword_GGGGEEEE.
    /// </summary>
    private static void AssignKeywordOwnersAndMembers(List<TagRow> rows)
    {
        foreach (var group in rows.GroupBy(r => r.Keyword, StringComparer.Ordinal))
        {
            var owner = group.OrderBy(r => r.IsRepeating).ThenBy(r => r.Retired).ThenBy(r => r.Tag).First();
            owner.OwnsKeyword = true;
        }
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var row in rows.Where(r => !r.IsRepeating && r.OwnsKeyword))
        {
            row.Member = SafeIdentifier(row.Keyword);
            used.Add(row.Member);
        }
        foreach (var row in rows.Where(r => !r.IsRepeating && !r.OwnsKeyword))
        {
            var candidate = SafeIdentifier(row.Keyword + "_" + row.Tag.ToString("X8", CultureInfo.InvariantCulture));
            while (!used.Add(candidate))
            {
                candidate += "_";
            }
            row.Member = candidate;
        }
    }

    private static readonly HashSet<string> ObjectMembers = new(StringComparer.Ordinal)
    {
        "Equals", "GetHashCode", "GetType", "ToString", "ReferenceEquals", "MemberwiseClone", "Finalize",
    };

    private static string SafeIdentifier(string name)
    {
        if (ObjectMembers.Contains(name))
        {
            return name + "_";
        }
        return SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None ? "@" + name : name;
    }

    private static List<PrivateRow> ParsePrivateTags(InputFile file, List<Diagnostic> errors)
    {
        var rows = new List<PrivateRow>();
        foreach (var (line, get) in ReadTsv(file, new[] { "group", "creator", "element", "vr", "vm", "keyword" }, errors))
        {
            var element = get("element");
            var fixedElement = element.Length == 4;
            if (!TryParseMasked(get("group"), out var g, out var gm) || (g & 1) == 0 && gm == 0xFFFF
                || !(element.Length is 2 or 4)
                || !ushort.TryParse(element, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var e)
                || !ValidVrSet(get("vr")))
            {
                errors.Add(Diagnostic.Create(BadLine, Location.None, file.Name, line, "bad group, element or VR"));
                continue;
            }
            rows.Add(new PrivateRow
            {
                Group = g,
                GroupMask = gm,
                Creator = get("creator"),
                Element = e,
                FixedElement = fixedElement,
                Vr = get("vr"),
                Vm = get("vm"),
                Keyword = get("keyword"),
            });
        }
        return rows;
    }

    private static List<UidRow> ParseUids(InputFile file, List<Diagnostic> errors)
    {
        var rows = new List<UidRow>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (line, get) in ReadTsv(file, new[] { "uid", "keyword", "name", "type", "retired" }, errors))
        {
            var row = new UidRow { Uid = get("uid"), Keyword = get("keyword"), Name = get("name"), Type = get("type"), Retired = get("retired") == "1" };
            if (row.Uid.Length == 0 || row.Uid.Length > 64 || row.Uid.Any(c => c != '.' && (c < '0' || c > '9')) || !seen.Add(row.Uid)
                || (row.Keyword.Length > 0 && !SyntaxFacts.IsValidIdentifier(row.Keyword)))
            {
                errors.Add(Diagnostic.Create(BadLine, Location.None, file.Name, line, $"bad or duplicate UID '{row.Uid}' or keyword '{row.Keyword}'"));
                continue;
            }
            rows.Add(row);
        }
        return rows;
    }

    // ---------------------------------------------------------------- emitting

    private const string Header = "// <auto-generated/>\n// Generated by MedVision.Dicom.Generators from Dictionary/*.tsv; edit the data, not this file.\n#nullable enable\n\nnamespace MedVision.Dicom;\n\n";

    private static string Literal(string s) => SymbolDisplay.FormatLiteral(s, quote: true);

    private static string Xml(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");

    private static string Hex4(uint v) => v.ToString("X4", CultureInfo.InvariantCulture);

    private static string EmitDicomTags(List<TagRow> tags)
    {
        var sb = new StringBuilder(Header);
        sb.Append("/// <summary>Tags of the DICOM data dictionary (PS3.6), one field per keyword; repeating-group tags are only in <see cref=\"DicomDictionary\"/>.</summary>\n");
        sb.Append("public static partial class DicomTags\n{\n");
        foreach (var t in tags.Where(t => t.Member is not null))
        {
            var g = Hex4(t.Tag >> 16);
            var e = Hex4(t.Tag & 0xFFFF);
            var vr = t.Vr.Length == 0 ? "-" : t.Vr;
            var name = t.Name.Length == 0 ? string.Empty : " " + Xml(t.Name);
            sb.Append($"    /// <summary>({g},{e}) {vr} {Xml(t.Vm)}{(t.Retired ? " retired" : string.Empty)}:{name}</summary>\n");
            sb.Append($"    public static readonly DicomTag {t.Member} = new(0x{g}, 0x{e});\n");
        }
        sb.Append("}\n");
        return sb.ToString();
    }

    private static string EmitDicomUids(List<UidRow> uids)
    {
        var sb = new StringBuilder(Header);
        sb.Append("/// <summary>UIDs of the DICOM registry (PS3.6 annex A), one constant per keyword.</summary>\n");
        sb.Append("public static partial class DicomUids\n{\n");
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var u in uids.Where(u => u.Keyword.Length > 0))
        {
            var member = SafeIdentifier(u.Keyword);
            for (var n = 2; !used.Add(member); n++)
            {
                member = SafeIdentifier(u.Keyword + "_" + n.ToString(CultureInfo.InvariantCulture));
            }
            sb.Append($"    /// <summary>{Xml(u.Name)} ({Xml(u.Type)}{(u.Retired ? ", retired" : string.Empty)})</summary>\n");
            sb.Append($"    public const string {member} = {Literal(u.Uid)};\n");
        }
        sb.Append("}\n");
        return sb.ToString();
    }

    /// <summary>Distinct strings, in first-seen order, and each input's index.</summary>
    private static (List<string> Values, List<int> Indexes) Intern(IEnumerable<string> items)
    {
        var values = new List<string>();
        var map = new Dictionary<string, int>(StringComparer.Ordinal);
        var indexes = new List<int>();
        foreach (var s in items)
        {
            if (!map.TryGetValue(s, out var i))
            {
                i = values.Count;
                map.Add(s, i);
                values.Add(s);
            }
            indexes.Add(i);
        }
        return (values, indexes);
    }

    private static void AppendSpan(StringBuilder sb, string type, string name, IEnumerable<string> values, string doc)
    {
        sb.Append($"    /// <summary>{doc}</summary>\n    internal static System.ReadOnlySpan<{type}> {name} =>\n    [");
        var i = 0;
        foreach (var v in values)
        {
            sb.Append(i++ % 12 == 0 ? "\n        " : " ").Append(v).Append(',');
        }
        sb.Append("\n    ];\n\n");
    }

    /// <summary>
    /// A method returning the strings of one column. They are packed one per line into a single
    /// verbatim literal (one ldstr) because an array initializer with thousands of elements
    /// costs tens of milliseconds of JIT time at first use.
    /// </summary>
    private static void AppendStrings(StringBuilder sb, string name, IReadOnlyList<string> values, string doc)
    {
        sb.Append($"    /// <summary>{doc} Allocates a new array; call once.</summary>\n");
        sb.Append($"    internal static string[] {name}() => Split({values.Count}, @\"");
        for (var i = 0; i < values.Count; i++)
        {
            if (i > 0)
            {
                sb.Append('\n');
            }
            sb.Append(values[i].Replace("\"", "\"\""));
        }
        sb.Append("\");\n\n");
    }

    private const string SplitHelper =
        "    private static string[] Split(int count, string lines)\n" +
        "    {\n" +
        "        var values = count == 0 ? [] : lines.Split('\\n');\n" +
        "        return values.Length == count ? values : throw new System.InvalidOperationException(\"Corrupt generated table.\");\n" +
        "    }\n";

    private static string EmitDictionaryData(List<TagRow> tags, List<PrivateRow> privateTags)
    {
        var vrSets = Intern(tags.Select(t => t.Vr).Concat(privateTags.Select(p => p.Vr)));
        var vms = Intern(tags.Select(t => t.Vm).Concat(privateTags.Select(p => p.Vm)));
        var creators = Intern(privateTags.Select(p => p.Creator));
        if (vrSets.Values.Count > 256 || vms.Values.Count > 256)
        {
            throw new InvalidOperationException("More than 256 distinct VR sets or VMs; widen the index type.");
        }
        var n = tags.Count;
        var sb = new StringBuilder(Header);
        sb.Append("/// <summary>Column-wise tables of Dictionary/tags.tsv and private-tags.tsv, read once by <see cref=\"DicomDictionary\"/>.</summary>\n");
        sb.Append("internal static class DicomDictionaryData\n{\n");
        sb.Append($"    internal const int TagCount = {n};\n");
        sb.Append($"    internal const int PrivateTagCount = {privateTags.Count};\n\n");
        AppendStrings(sb, "CreateVRSets", vrSets.Values, "Distinct VR alternatives, '|'-separated; empty for the item and delimitation tags.");
        AppendStrings(sb, "CreateVMs", vms.Values, "Distinct value multiplicities.");

        AppendSpan(sb, "uint", "Tags", tags.Select(t => "0x" + t.Tag.ToString("X8", CultureInfo.InvariantCulture)), "Tag values, tag order; x digits are 0.");
        AppendSpan(sb, "uint", "Masks", tags.Select(t => "0x" + t.Mask.ToString("X8", CultureInfo.InvariantCulture)), "Per tag: F for each fixed hex digit, 0 for each x digit.");
        AppendSpan(sb, "byte", "VRSetIndexes", vrSets.Indexes.Take(n).Select(i => i.ToString(CultureInfo.InvariantCulture)), "Per tag: index into CreateVRSets().");
        AppendSpan(sb, "byte", "VMIndexes", vms.Indexes.Take(n).Select(i => i.ToString(CultureInfo.InvariantCulture)), "Per tag: index into CreateVMs().");
        AppendSpan(sb, "byte", "Flags", tags.Select(t => ((t.Retired ? 1 : 0) | (t.OwnsKeyword ? 2 : 0)).ToString(CultureInfo.InvariantCulture)),
            "Per tag: 1 = retired, 2 = owns its keyword (TryGetTag answers with this entry).");
        AppendStrings(sb, "CreateKeywords", tags.Select(t => t.Keyword).ToList(), "Per tag: keyword.");
        AppendStrings(sb, "CreateNames", tags.Select(t => t.Name).ToList(), "Per tag: name, empty where unknown.");

        AppendSpan(sb, "ushort", "PrivateGroups", privateTags.Select(p => "0x" + Hex4(p.Group)), "Per private tag: group; x digits are 0.");
        AppendSpan(sb, "ushort", "PrivateGroupMasks", privateTags.Select(p => "0x" + Hex4(p.GroupMask)), "Per private tag: F for each fixed hex digit of the group.");
        AppendSpan(sb, "ushort", "PrivateElements", privateTags.Select(p => "0x" + Hex4(p.Element)), "Per private tag: element low byte, or the whole element when fixed.");
        AppendSpan(sb, "byte", "PrivateFixedElements", privateTags.Select(p => p.FixedElement ? "1" : "0"), "Per private tag: 1 when the element is fixed (gggg,\"CREATOR\",eeee).");
        AppendSpan(sb, "ushort", "PrivateCreatorIndexes", creators.Indexes.Select(i => i.ToString(CultureInfo.InvariantCulture)), "Per private tag: index into CreatePrivateCreators().");
        AppendSpan(sb, "byte", "PrivateVRSetIndexes", vrSets.Indexes.Skip(n).Select(i => i.ToString(CultureInfo.InvariantCulture)), "Per private tag: index into CreateVRSets().");
        AppendSpan(sb, "byte", "PrivateVMIndexes", vms.Indexes.Skip(n).Select(i => i.ToString(CultureInfo.InvariantCulture)), "Per private tag: index into CreateVMs().");
        AppendStrings(sb, "CreatePrivateCreators", creators.Values, "Distinct private creators.");
        AppendStrings(sb, "CreatePrivateKeywords", privateTags.Select(p => p.Keyword).ToList(), "Per private tag: keyword.");
        sb.Append(SplitHelper).Append("}\n");
        return sb.ToString();
    }

    private static string EmitUidData(List<UidRow> uids)
    {
        var types = Intern(uids.Select(u => u.Type));
        var sb = new StringBuilder(Header);
        sb.Append("/// <summary>Column-wise table of Dictionary/uids.tsv, read once by <see cref=\"DicomUidRegistry\"/>.</summary>\n");
        sb.Append("internal static class DicomUidData\n{\n");
        sb.Append($"    internal const int Count = {uids.Count};\n\n");
        AppendStrings(sb, "CreateUids", uids.Select(u => u.Uid).ToList(), "UIDs.");
        AppendStrings(sb, "CreateKeywords", uids.Select(u => u.Keyword).ToList(), "Per UID: keyword, empty where none.");
        AppendStrings(sb, "CreateNames", uids.Select(u => u.Name).ToList(), "Per UID: name.");
        AppendStrings(sb, "CreateTypes", types.Values, "Distinct UID types.");
        AppendSpan(sb, "byte", "TypeIndexes", types.Indexes.Select(i => i.ToString(CultureInfo.InvariantCulture)), "Per UID: index into CreateTypes().");
        AppendSpan(sb, "byte", "Retired", uids.Select(u => u.Retired ? "1" : "0"), "Per UID: 1 when retired.");
        sb.Append(SplitHelper).Append("}\n");
        return sb.ToString();
    }
}
