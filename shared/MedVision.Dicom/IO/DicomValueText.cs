using System.Text;

namespace MedVision.Dicom.IO;

/// <summary>Text rules shared by the JSON model and the dump: which VRs split on '\' and which padding is insignificant (PS3.5 6.2).</summary>
internal static class DicomValueText
{
    /// <summary>LT, ST, UT and UR hold one value that may contain '\'; every other string VR is multi-valued.</summary>
    public static bool IsSingleValued(DicomVR vr) => vr == DicomVR.LT || vr == DicomVR.ST || vr == DicomVR.UT || vr == DicomVR.UR;

    /// <summary>The encoding in force for <paramref name="dataset"/>: its own Specific Character Set, else the enclosing one's.</summary>
    public static Encoding EncodingOf(DicomDataset dataset, Encoding inherited) =>
        dataset.Contains(DicomTags.SpecificCharacterSet) ? dataset.Encoding : inherited;

    /// <summary>
    /// The values of a string element with insignificant padding removed: trailing spaces (and NULs, which some
    /// writers pad UIs and others with) always, leading spaces except in LT/ST/UT, whose leading blanks are text.
    /// </summary>
    public static string[] Values(DicomElement element, Encoding encoding)
    {
        var bytes = element.Buffer.GetBytes().Span;
        var text = DicomElement.UsesCharacterSet(element.VR) ? encoding.GetString(bytes) : Encoding.Latin1.GetString(bytes);
        if (IsSingleValued(element.VR))
        {
            var single = text.TrimEnd(' ', '\0');
            return single.Length == 0 ? [] : [single];
        }
        var parts = text.Split('\\');
        for (var i = 0; i < parts.Length; i++)
        {
            parts[i] = parts[i].Trim(' ', '\0');
        }
        return parts.Length == 1 && parts[0].Length == 0 ? [] : parts;
    }
}
