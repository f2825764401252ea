namespace MedVision.Dicom;

/// <summary>A UID of the DICOM registry (PS3.6 annex A).</summary>
/// <param name="Uid">The UID, e.g. "1.2.840.10008.1.2.1".</param>
/// <param name="Keyword">The PS3.6 keyword, e.g. "ExplicitVRLittleEndian"; null where the registry gives none.</param>
/// <param name="Name">The name, e.g. "Explicit VR Little Endian".</param>
/// <param name="Type">The registry's type, e.g. "SOP Class", "Transfer Syntax", "Well-known frame of reference".</param>
/// <param name="Retired">Whether the UID is retired.</param>
public sealed record DicomUidInfo(string Uid, string? Keyword, string Name, string Type, bool Retired)
{
    public const string SopClassType = "SOP Class";
    public const string TransferSyntaxType = "Transfer Syntax";

    public bool IsTransferSyntax => Type == TransferSyntaxType;

    public bool IsSopClass => Type == SopClassType;

    public override string ToString() => $"{Name} [{Uid}]{(Retired ? " (retired)" : string.Empty)}";
}
