using System.Text;

namespace MedVision.Dicom;

/// <summary>
/// Maps Specific Character Set (0008,0005) defined terms to encodings (PS3.3 C.12.1.1.2). ISO 2022 code extensions
/// are decoded with the first (default) repertoire; multi-byte escapes are the DICOM library issue's work.
/// </summary>
public static class DicomCharacterSet
{
    public static Encoding Default => Encoding.Latin1;

    public static Encoding GetEncoding(string? specificCharacterSet)
    {
        if (string.IsNullOrWhiteSpace(specificCharacterSet))
        {
            return Default;
        }
        var terms = specificCharacterSet.Split('\\');
        var term = terms[0].Trim();
        if (term.Length == 0 && terms.Length > 1)
        {
            term = terms[1].Trim();
        }
        return term.Replace("ISO 2022 ", "ISO_", StringComparison.Ordinal) switch
        {
            "ISO_IR 192" => Encoding.UTF8,
            "ISO_IR 100" or "ISO_IR 6" or "" => Encoding.Latin1,
            "GB18030" => CodePage(54936),
            "GBK" => CodePage(936),
            "ISO_IR 101" => CodePage(28592),
            "ISO_IR 109" => CodePage(28593),
            "ISO_IR 110" => CodePage(28594),
            "ISO_IR 144" => CodePage(28595),
            "ISO_IR 127" => CodePage(28596),
            "ISO_IR 126" => CodePage(28597),
            "ISO_IR 138" => CodePage(28598),
            "ISO_IR 148" => CodePage(28599),
            "ISO_IR 203" => CodePage(28605),
            "ISO_IR 13" => CodePage(932),
            "ISO_IR 166" => CodePage(874),
            _ => Default,
        };
    }

    private static Encoding CodePage(int codePage) =>
        CodePagesEncodingProvider.Instance.GetEncoding(codePage) ?? Encoding.GetEncoding(codePage);
}
