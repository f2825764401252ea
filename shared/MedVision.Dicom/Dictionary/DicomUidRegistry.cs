using System.Diagnostics.CodeAnalysis;

namespace MedVision.Dicom;

/// <summary>
/// The UIDs of the DICOM registry (PS3.6 annex A), built once from the table that
/// MedVision.Dicom.Generators generates from Dictionary/uids.tsv. Immutable and thread-safe.
/// </summary>
public sealed class DicomUidRegistry
{
    /// <summary>Root of the storage SOP classes of PS3.4 annex B; later editions add more under it.</summary>
    public const string StorageSopClassRoot = "1.2.840.10008.5.1.4.1.1.";

    public static DicomUidRegistry Default { get; } = new();

    private readonly DicomUidInfo[] _entries;
    private readonly IReadOnlyList<DicomUidInfo> _readOnlyEntries;
    private readonly Dictionary<string, DicomUidInfo> _byUid;       // filled once, never written again
    private readonly Dictionary<string, DicomUidInfo> _byKeyword;

    private DicomUidRegistry()
    {
        var uids = DicomUidData.CreateUids();
        var keywords = DicomUidData.CreateKeywords();
        var names = DicomUidData.CreateNames();
        var types = DicomUidData.CreateTypes();
        var typeIndexes = DicomUidData.TypeIndexes;
        var retired = DicomUidData.Retired;
        _entries = new DicomUidInfo[DicomUidData.Count];
        for (var i = 0; i < _entries.Length; i++)
        {
            _entries[i] = new DicomUidInfo(uids[i], keywords[i].Length == 0 ? null : keywords[i], names[i], types[typeIndexes[i]], retired[i] != 0);
        }
        _readOnlyEntries = Array.AsReadOnly(_entries);
        _byUid = _entries.ToDictionary(e => e.Uid, StringComparer.Ordinal);
        _byKeyword = _entries
            .Where(e => e.Keyword is not null)
            .DistinctBy(e => e.Keyword)
            .ToDictionary(e => e.Keyword!, StringComparer.Ordinal);
    }

    public int Count => _entries.Length;

    /// <summary>All registered UIDs in numeric order.</summary>
    public IReadOnlyList<DicomUidInfo> Entries => _readOnlyEntries;

    /// <summary>Looks up a UID; trailing NUL or space padding (as read from a UI element) is ignored.</summary>
    public bool TryGet(string uid, [MaybeNullWhen(false)] out DicomUidInfo info) => _byUid.TryGetValue(Normalize(uid), out info);

    /// <summary>Looks up a UID by its keyword, e.g. "CTImageStorage".</summary>
    public bool TryGetByKeyword(string keyword, [MaybeNullWhen(false)] out DicomUidInfo info) => _byKeyword.TryGetValue(keyword, out info);

    /// <summary>Whether <paramref name="uid"/> is a registered transfer syntax (retired ones included).</summary>
    public bool IsTransferSyntax(string uid) => TryGet(uid, out var info) && info.IsTransferSyntax;

    /// <summary>
    /// Whether <paramref name="uid"/> is a storage SOP class: a registered SOP class whose name ends in
    /// "Storage", a registered storage SOP class under <see cref="StorageSopClassRoot"/> (e.g. "... Storage - For
    /// Presentation"), or an unregistered UID under that root (newer than this registry).
    /// Storage Commitment, Media Storage Directory and the Protocol Approval query/retrieve models are not.
    /// </summary>
    public bool IsStorageSopClass(string uid)
    {
        uid = Normalize(uid);
        if (!TryGet(uid, out var info))
        {
            return uid.StartsWith(StorageSopClassRoot, StringComparison.Ordinal) && uid.Length > StorageSopClassRoot.Length;
        }
        if (!info.IsSopClass
            || info.Name.StartsWith("Storage Commitment", StringComparison.Ordinal)
            || info.Name.Contains("Storage Media", StringComparison.Ordinal)
            || info.Name.StartsWith("Media Storage", StringComparison.Ordinal))
        {
            return false;
        }
        if (info.Name.EndsWith("Storage", StringComparison.Ordinal))
        {
            return true;
        }
        // Under the storage root: "... Storage - For Processing", "... Storage - Trial", two retired
        // classes the registry leaves unnamed; but not the Protocol Approval query/retrieve models.
        return uid.StartsWith(StorageSopClassRoot, StringComparison.Ordinal)
            && (info.Name.Length == 0 || info.Name.Contains(" Storage", StringComparison.Ordinal));
    }

    /// <summary>The registered name of <paramref name="uid"/>, or the UID itself.</summary>
    public string Describe(string uid) => TryGet(uid, out var info) && info.Name.Length > 0 ? info.Name : uid;

    private static string Normalize(string uid) => uid.TrimEnd('\0', ' ');
}
