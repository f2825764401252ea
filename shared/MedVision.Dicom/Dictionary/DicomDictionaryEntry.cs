namespace MedVision.Dicom;

/// <summary>
/// One data dictionary entry. Exact entries have <see cref="Mask"/> 0xFFFFFFFF; repeating ones
/// such as (60xx,3000) or (0020,31xx) hold the pattern with its x digits as 0 in <see cref="Tag"/>
/// and 0 digits in <see cref="Mask"/>. Private entries carry their <see cref="PrivateCreator"/>.
/// </summary>
public sealed class DicomDictionaryEntry
{
    public const uint ExactMask = 0xFFFFFFFF;

    private readonly Func<DicomTag, bool>? _rule;

    public DicomDictionaryEntry(
        DicomTag tag,
        uint mask,
        string keyword,
        string? name,
        IReadOnlyList<DicomVR> vrs,
        string vm,
        bool retired,
        string? privateCreator = null)
        : this(tag, mask, keyword, name, vrs, vm, retired, privateCreator, null, null)
    {
    }

    internal DicomDictionaryEntry(
        DicomTag tag,
        uint mask,
        string keyword,
        string? name,
        IReadOnlyList<DicomVR> vrs,
        string vm,
        bool retired,
        string? privateCreator,
        string? pattern,
        Func<DicomTag, bool>? rule)
    {
        Tag = tag;
        Mask = mask;
        Keyword = keyword;
        Name = string.IsNullOrEmpty(name) ? null : name;
        VRs = vrs;
        VR = vrs.Count > 0 ? vrs[0] : DicomVR.UN;
        VM = vm;
        Retired = retired;
        PrivateCreator = privateCreator;
        TagPattern = pattern ?? FormatPattern(tag, mask);
        _rule = rule;
    }

    /// <summary>The tag; for a repeating entry, its pattern with x digits as 0 (e.g. (6000,3000) for (60xx,3000)).</summary>
    public DicomTag Tag { get; }

    /// <summary>Bits of a tag that must equal <see cref="Tag"/>: F per fixed hex digit, 0 per x digit.</summary>
    public uint Mask { get; }

    public bool IsRepeating => Mask != ExactMask;

    /// <summary>The keyword of PS3.6 (retired ones without dcmtk's RETIRED_ prefix).</summary>
    public string Keyword { get; }

    /// <summary>The attribute name of PS3.6 where the data has one.</summary>
    public string? Name { get; }

    /// <summary>Allowed VRs, preferred first; empty for the item and delimitation tags.</summary>
    public IReadOnlyList<DicomVR> VRs { get; }

    /// <summary>The first of <see cref="VRs"/>, or UN when there is none.</summary>
    public DicomVR VR { get; }

    /// <summary>Value multiplicity as written in PS3.6, e.g. "1", "1-n", "2-2n".</summary>
    public string VM { get; }

    public bool Retired { get; }

    /// <summary>The private creator this entry belongs to, or null for standard entries.</summary>
    public string? PrivateCreator { get; }

    /// <summary>The tag as PS3.6 writes it, e.g. "(0010,0010)" or "(60xx,3000)".</summary>
    public string TagPattern { get; }

    /// <summary>Whether <paramref name="tag"/> is one this entry describes (for private entries: given the creator matches).</summary>
    public bool Matches(DicomTag tag) => _rule?.Invoke(tag) ?? (tag.Value & Mask) == Tag.Value;

    public override string ToString() =>
        $"{TagPattern} {(VRs.Count == 0 ? "-" : string.Join('|', VRs))} {VM} {Keyword}{(Retired ? " (retired)" : string.Empty)}";

    private static string FormatPattern(DicomTag tag, uint mask)
    {
        Span<char> chars = stackalloc char[11];
        chars[0] = '(';
        chars[5] = ',';
        chars[10] = ')';
        var value = tag.Value;
        for (var digit = 0; digit < 8; digit++)
        {
            var shift = 28 - (4 * digit);
            var pos = digit < 4 ? 1 + digit : 2 + digit;
            chars[pos] = ((mask >> shift) & 0xF) == 0 ? 'x' : "0123456789ABCDEF"[(int)((value >> shift) & 0xF)];
        }
        return new string(chars);
    }
}
