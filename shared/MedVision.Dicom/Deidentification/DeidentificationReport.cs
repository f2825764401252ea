namespace MedVision.Dicom.Deidentification;

/// <summary>What happened to one attribute.</summary>
public enum DeidentificationAction
{
    Removed,
    Emptied,
    ReplacedWithDummy,
    Pseudonymized,
    UidReplaced,
    DateShifted,
    Cleaned,
    Added,
}

/// <param name="Path">Where the attribute sits: "(0010,0010)" or "(0008,1140)[0]/(0008,1155)".</param>
/// <param name="Code">The Table E.1-1 action applied (X, Z, D, U, C), or "+" for attributes the profile adds.</param>
public sealed record DeidentificationEntry(string Path, DicomTag Tag, string Name, string Code, DeidentificationAction Action);

/// <summary>Every attribute removed, replaced or added, and what the caller must know (e.g. burned-in text left in the pixels).</summary>
public sealed class DeidentificationReport
{
    private readonly List<DeidentificationEntry> _entries = [];
    private readonly List<string> _warnings = [];

    public IReadOnlyList<DeidentificationEntry> Entries => _entries;

    public IReadOnlyList<string> Warnings => _warnings;

    internal void Add(DeidentificationEntry entry) => _entries.Add(entry);

    internal void Warn(string warning) => _warnings.Add(warning);
}

/// <summary>The de-identified file (new meta group) and its report.</summary>
public sealed record DeidentificationResult(DicomFile File, DeidentificationReport Report);

/// <summary>The instance cannot be de-identified under the configured policy (e.g. burned-in annotation).</summary>
public sealed class DeidentificationRefusedException(string message) : Exception(message);
