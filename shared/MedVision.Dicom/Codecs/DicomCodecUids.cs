namespace MedVision.Dicom.Codecs;

/// <summary>The compressed transfer syntaxes the built-in codecs decode (PS3.6 Annex A).</summary>
public static class DicomCodecUids
{
    public const string RleLossless = "1.2.840.10008.1.2.5";
    public const string JpegBaseline8Bit = "1.2.840.10008.1.2.4.50";
    public const string JpegExtended12Bit = "1.2.840.10008.1.2.4.51";
    public const string JpegLosslessProcess14 = "1.2.840.10008.1.2.4.57";
    public const string JpegLosslessSV1 = "1.2.840.10008.1.2.4.70";
    public const string JpegLsLossless = "1.2.840.10008.1.2.4.80";
    public const string JpegLsNearLossless = "1.2.840.10008.1.2.4.81";
    public const string Jpeg2000Lossless = "1.2.840.10008.1.2.4.90";
    public const string Jpeg2000 = "1.2.840.10008.1.2.4.91";
    public const string HtJpeg2000Lossless = "1.2.840.10008.1.2.4.201";
    public const string HtJpeg2000LosslessRpcl = "1.2.840.10008.1.2.4.202";
    public const string HtJpeg2000 = "1.2.840.10008.1.2.4.203";
}
