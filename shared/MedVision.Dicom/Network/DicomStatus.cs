namespace MedVision.Dicom.Network;

/// <summary>DIMSE status codes (PS3.7 Annex C) that this implementation sends.</summary>
public readonly record struct DicomStatus(ushort Code, string Meaning)
{
    public bool IsSuccess => Code == 0x0000;
    public bool IsWarning => Code is 0x0001 or (>= 0xB000 and <= 0xBFFF);
    public bool IsFailure => !IsSuccess && !IsWarning && Code is not (0xFF00 or 0xFF01 or 0xFE00);

    public static readonly DicomStatus Success = new(0x0000, "Success");
    public static readonly DicomStatus ProcessingFailure = new(0x0110, "Processing failure");
    public static readonly DicomStatus DuplicateSopInstance = new(0x0111, "Duplicate SOP Instance");
    public static readonly DicomStatus SopClassNotSupported = new(0x0122, "SOP Class not supported");
    public static readonly DicomStatus UnrecognizedOperation = new(0x0211, "Unrecognized operation");
    public static readonly DicomStatus OutOfResources = new(0xA700, "Refused: out of resources");
    public static readonly DicomStatus DataSetDoesNotMatchSopClass = new(0xA900, "Error: data set does not match SOP Class");
    public static readonly DicomStatus CannotUnderstand = new(0xC000, "Error: cannot understand");

    public override string ToString() => $"0x{Code:X4} {Meaning}";
}
