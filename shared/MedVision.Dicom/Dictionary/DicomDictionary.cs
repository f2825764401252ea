using System.Diagnostics.CodeAnalysis;

namespace MedVision.Dicom;

/// <summary>
/// The DICOM data dictionary (PS3.6 and dcmtk's private dictionary), built once from the tables
/// that MedVision.Dicom.Generators generates from Dictionary/*.tsv. Immutable and thread-safe: the
/// lookup tables are plain dictionaries (cheaper to build than frozen ones, as fast to read) that
/// are filled in the constructor and never written again.
/// </summary>
public sealed class DicomDictionary
{
    private static readonly IReadOnlyList<DicomVR> GroupLengthVRs = Array.AsReadOnly([DicomVR.UL]);
    private static readonly IReadOnlyList<DicomVR> PrivateCreatorVRs = Array.AsReadOnly([DicomVR.LO]);

    /// <summary>(gggg,0000): dcmtk's catch-all for groups without their own group length entry. Retired outside groups 0000 and 0002 (PS3.5 7.2).</summary>
    public static DicomDictionaryEntry GroupLength { get; } =
        new(new DicomTag(0x0000, 0x0000), 0x0000FFFF, "GroupLength", "Group Length", GroupLengthVRs, "1", true, null, "(xxxx,0000)", null);

    /// <summary>(gggg,0010-00FF) in an odd group: reserves a block of private elements (PS3.5 7.8.1).</summary>
    public static DicomDictionaryEntry PrivateCreator { get; } =
        new(new DicomTag(0x0009, 0x0010), 0x0001FF00, "PrivateCreator", "Private Creator", PrivateCreatorVRs, "1", false, null,
            "(odd gggg,0010-00FF)", static t => t.IsPrivateCreator);

    public static DicomDictionary Default { get; } = new();

    private readonly DicomDictionaryEntry[] _entries;
    private readonly IReadOnlyList<DicomDictionaryEntry> _readOnlyEntries;
    private readonly Dictionary<uint, DicomDictionaryEntry> _exact;    // hot path of implicit VR reading
    private readonly RepeatingTable[] _repeating; // most specific mask first
    private readonly Dictionary<string, DicomDictionaryEntry> _byKeyword;
    private readonly IReadOnlyList<DicomDictionaryEntry> _privateEntries;
    private readonly PrivateTable[] _private;     // exact group first

    private DicomDictionary()
    {
        var vrSets = DicomDictionaryData.CreateVRSets().Select(ParseVRs).ToArray(); // shared by entries, so read-only
        var vms = DicomDictionaryData.CreateVMs();

        var keywords = DicomDictionaryData.CreateKeywords();
        var names = DicomDictionaryData.CreateNames();
        var tags = DicomDictionaryData.Tags;
        var masks = DicomDictionaryData.Masks;
        var vrIndexes = DicomDictionaryData.VRSetIndexes;
        var vmIndexes = DicomDictionaryData.VMIndexes;
        var flags = DicomDictionaryData.Flags;
        _entries = new DicomDictionaryEntry[DicomDictionaryData.TagCount];
        var exact = new Dictionary<uint, DicomDictionaryEntry>(_entries.Length);
        var repeating = new Dictionary<uint, Dictionary<uint, DicomDictionaryEntry>>();
        var byKeyword = new Dictionary<string, DicomDictionaryEntry>(_entries.Length, StringComparer.Ordinal);
        for (var i = 0; i < _entries.Length; i++)
        {
            var entry = new DicomDictionaryEntry(
                DicomTag.FromValue(tags[i]), masks[i], keywords[i], names[i], vrSets[vrIndexes[i]], vms[vmIndexes[i]], (flags[i] & 1) != 0);
            _entries[i] = entry;
            if (entry.IsRepeating)
            {
                if (!repeating.TryGetValue(entry.Mask, out var table))
                {
                    repeating.Add(entry.Mask, table = []);
                }
                table.Add(entry.Tag.Value, entry);
            }
            else
            {
                exact.Add(entry.Tag.Value, entry);
            }
            if ((flags[i] & 2) != 0)
            {
                byKeyword.Add(entry.Keyword, entry);
            }
        }
        _readOnlyEntries = Array.AsReadOnly(_entries);
        _exact = exact;
        _repeating = [.. repeating.Select(kv => new RepeatingTable(kv.Key, kv.Value))];
        Array.Sort(_repeating, static (a, b) => uint.PopCount(b.Mask) != uint.PopCount(a.Mask)
            ? uint.PopCount(b.Mask).CompareTo(uint.PopCount(a.Mask))
            : b.Mask.CompareTo(a.Mask));
        _byKeyword = byKeyword;

        var creators = DicomDictionaryData.CreatePrivateCreators();
        var privateKeywords = DicomDictionaryData.CreatePrivateKeywords();
        var groups = DicomDictionaryData.PrivateGroups;
        var groupMasks = DicomDictionaryData.PrivateGroupMasks;
        var elements = DicomDictionaryData.PrivateElements;
        var fixedElements = DicomDictionaryData.PrivateFixedElements;
        var creatorIndexes = DicomDictionaryData.PrivateCreatorIndexes;
        var privateVRs = DicomDictionaryData.PrivateVRSetIndexes;
        var privateVMs = DicomDictionaryData.PrivateVMIndexes;
        var privateEntries = new DicomDictionaryEntry[DicomDictionaryData.PrivateTagCount];
        var privateTables = new Dictionary<ushort, Dictionary<PrivateKey, DicomDictionaryEntry>>();
        for (var i = 0; i < privateEntries.Length; i++)
        {
            var isFixed = fixedElements[i] != 0;
            var mask = ((uint)groupMasks[i] << 16) | (isFixed ? 0xFFFFu : 0x00FFu);
            var entry = new DicomDictionaryEntry(
                new DicomTag(groups[i], elements[i]), mask, privateKeywords[i], null, vrSets[privateVRs[i]], vms[privateVMs[i]], false,
                creators[creatorIndexes[i]]);
            privateEntries[i] = entry;
            if (!privateTables.TryGetValue(groupMasks[i], out var table))
            {
                privateTables.Add(groupMasks[i], table = []);
            }
            // Lookup by low byte: an entry valid in any block wins over a fixed-element one;
            // among fixed-element entries the lowest element wins (the data is in element order).
            var key = new PrivateKey(groups[i], entry.PrivateCreator!, (byte)elements[i]);
            if (!table.TryGetValue(key, out var existing) || ((existing.Mask & 0xFF00) != 0 && !isFixed))
            {
                table[key] = entry;
            }
        }
        _privateEntries = Array.AsReadOnly(privateEntries);
        _private = [.. privateTables.Select(kv => new PrivateTable(kv.Key, kv.Value))];
        Array.Sort(_private, static (a, b) => ushort.PopCount(b.GroupMask).CompareTo(ushort.PopCount(a.GroupMask)));
    }

    /// <summary>Number of standard entries (exact and repeating) from the generated table.</summary>
    public int Count => _entries.Length;

    /// <summary>The standard entries in tag order (repeating ones by their pattern with x as 0).</summary>
    public IReadOnlyList<DicomDictionaryEntry> Entries => _readOnlyEntries;

    /// <summary>The private entries (dcmtk's private.dic).</summary>
    public IReadOnlyList<DicomDictionaryEntry> PrivateEntries => _privateEntries;

    /// <summary>
    /// Looks up a standard tag: exact entries first, then group length (gggg,0000), private creator
    /// (odd gggg,0010-00FF), then repeating groups and elements such as (60xx,3000), (0020,31xx) or (1000,xxx0).
    /// Private data elements need their creator: see <see cref="TryGetPrivateEntry"/>.
    /// </summary>
    public bool TryGetEntry(DicomTag tag, [MaybeNullWhen(false)] out DicomDictionaryEntry entry)
    {
        if (_exact.TryGetValue(tag.Value, out entry))
        {
            return true;
        }
        if (tag.IsGroupLength)
        {
            entry = GroupLength;
            return true;
        }
        if (tag.IsPrivate)
        {
            entry = tag.IsPrivateCreator ? PrivateCreator : null;
            return entry is not null;
        }
        foreach (var table in _repeating)
        {
            if (table.Entries.TryGetValue(tag.Value & table.Mask, out entry))
            {
                return true;
            }
        }
        entry = null;
        return false;
    }

    /// <summary>The first VR the dictionary allows for <paramref name="tag"/>; UN for unknown and private data elements and for the delimitation tags.</summary>
    public DicomVR GetVR(DicomTag tag) => TryGetEntry(tag, out var entry) ? entry.VR : DicomVR.UN;

    /// <summary>The tag of a keyword (e.g. "PatientName"); repeating entries give their first tag, e.g. OverlayData → (6000,3000).</summary>
    public bool TryGetTag(string keyword, out DicomTag tag)
    {
        if (_byKeyword.TryGetValue(keyword, out var entry))
        {
            tag = entry.Tag;
            return true;
        }
        tag = default;
        return false;
    }

    /// <summary>The entry whose keyword is <paramref name="keyword"/> (the one <see cref="TryGetTag"/> returns).</summary>
    public bool TryGetEntry(string keyword, [MaybeNullWhen(false)] out DicomDictionaryEntry entry) =>
        _byKeyword.TryGetValue(keyword, out entry);

    /// <summary>
    /// Looks up a private data element (gggg,bbee) by its creator (the value of (gggg,00bb)) and the low
    /// byte ee. Entries that dcmtk pins to a fixed element are used only when no block-relative entry matches.
    /// </summary>
    public bool TryGetPrivateEntry(ushort group, string creator, byte elementLowByte, [MaybeNullWhen(false)] out DicomDictionaryEntry entry)
    {
        if ((group & 1) == 1)
        {
            var trimmed = creator.Trim(' ', '\0');
            foreach (var table in _private)
            {
                if (table.Entries.TryGetValue(new PrivateKey((ushort)(group & table.GroupMask), trimmed, elementLowByte), out entry))
                {
                    return true;
                }
            }
        }
        entry = null;
        return false;
    }

    private static IReadOnlyList<DicomVR> ParseVRs(string set) =>
        Array.AsReadOnly(set.Length == 0 ? [] : set.Split('|').Select(DicomVR.Parse).ToArray());

    private readonly record struct RepeatingTable(uint Mask, Dictionary<uint, DicomDictionaryEntry> Entries);

    private readonly record struct PrivateTable(ushort GroupMask, Dictionary<PrivateKey, DicomDictionaryEntry> Entries);

    private readonly record struct PrivateKey(ushort Group, string Creator, byte LowByte);
}
