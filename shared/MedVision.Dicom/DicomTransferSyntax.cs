namespace MedVision.Dicom;

/// <summary>How a dataset is encoded (PS3.5 10). Every syntax other than the four native ones is encapsulated.</summary>
public sealed class DicomTransferSyntax : IEquatable<DicomTransferSyntax>
{
    private DicomTransferSyntax(string uid, string name, bool explicitVR, bool bigEndian, bool deflated, bool encapsulated)
    {
        Uid = uid;
        Name = name;
        IsExplicitVR = explicitVR;
        IsBigEndian = bigEndian;
        IsDeflated = deflated;
        IsEncapsulated = encapsulated;
    }

    public string Uid { get; }
    public string Name { get; }
    public bool IsExplicitVR { get; }
    public bool IsBigEndian { get; }
    public bool IsDeflated { get; }
    public bool IsEncapsulated { get; }

    public static readonly DicomTransferSyntax ImplicitVRLittleEndian = new("1.2.840.10008.1.2", "Implicit VR Little Endian", false, false, false, false);
    public static readonly DicomTransferSyntax ExplicitVRLittleEndian = new("1.2.840.10008.1.2.1", "Explicit VR Little Endian", true, false, false, false);
    public static readonly DicomTransferSyntax DeflatedExplicitVRLittleEndian = new("1.2.840.10008.1.2.1.99", "Deflated Explicit VR Little Endian", true, false, true, false);
    public static readonly DicomTransferSyntax ExplicitVRBigEndian = new("1.2.840.10008.1.2.2", "Explicit VR Big Endian (retired)", true, true, false, false);

    private static readonly DicomTransferSyntax[] Native =
        [ImplicitVRLittleEndian, ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian];

    /// <summary>The four syntaxes whose pixel data is not compressed.</summary>
    public static IReadOnlyList<DicomTransferSyntax> Uncompressed => Native;

    /// <summary>Looks up a syntax; unknown UIDs are taken as encapsulated explicit little endian, as PS3.5 A.4 requires.</summary>
    public static DicomTransferSyntax Parse(string uid)
    {
        uid = uid.Trim().TrimEnd('\0');
        foreach (var ts in Native)
        {
            if (ts.Uid == uid)
            {
                return ts;
            }
        }
        var name = DicomUidRegistry.Default.TryGet(uid, out var info) ? info.Name : uid;
        return new DicomTransferSyntax(uid, name, true, false, false, true);
    }

    public bool Equals(DicomTransferSyntax? other) => other is not null && other.Uid == Uid;

    public override bool Equals(object? obj) => Equals(obj as DicomTransferSyntax);

    public override int GetHashCode() => Uid.GetHashCode(StringComparison.Ordinal);

    public override string ToString() => $"{Name} [{Uid}]";
}
