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

    private static readonly DicomStatus[] Known =
    [
        Success, ProcessingFailure, DuplicateSopInstance, SopClassNotSupported, UnrecognizedOperation, OutOfResources,
        DataSetDoesNotMatchSopClass, CannotUnderstand,
        new(0xFF00, "Pending"), new(0xFF01, "Pending (optional keys not supported)"), new(0xFE00, "Cancelled"),
        new(0xB000, "Warning: coercion of data elements"), new(0xB007, "Warning: data set does not match SOP Class"),
        new(0xB006, "Warning: elements discarded"), new(0x0120, "Missing attribute"), new(0xA801, "Move destination unknown"),
        new(0x0112, "No such object instance"), new(0x0212, "Mistyped argument"),
    ];

    /// <summary>A status from a peer's response, named when it is a code PS3.7 defines and we know.</summary>
    public static DicomStatus FromCode(ushort code, string? errorComment = null)
    {
        var meaning = Known.FirstOrDefault(k => k.Code == code).Meaning
                      ?? (code is >= 0xA700 and <= 0xA7FF ? "Refused: out of resources"
                          : code is >= 0xA900 and <= 0xA9FF ? "Error: data set does not match SOP Class"
                          : code is >= 0xC000 and <= 0xCFFF ? "Error: cannot understand" : "Unknown status");
        return new DicomStatus(code, string.IsNullOrWhiteSpace(errorComment) ? meaning : $"{meaning}: {errorComment.Trim()}");
    }

    public override string ToString() => $"0x{Code:X4} {Meaning}";
}
