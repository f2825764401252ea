using System.Globalization;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using MedVision.Dicom.IO;
using MedVision.Dicom.Json;

namespace MedVision.Dicom.Tests.Json;

/// <summary>
/// Property: any dataset of valid values in any VR (nested sequences, UTF-8 text, empty values, extreme numbers)
/// survives dataset → JSON → dataset with the same values, and its JSON is stable.
/// </summary>
public sealed class DicomJsonPropertyTests
{
    [Property(MaxTest = 1000, Arbitrary = new[] { typeof(DatasetArbitrary) })]
    public void Any_dataset_round_trips_through_json(DicomDataset dataset)
    {
        var json = DicomJson.Serialize(dataset, new DicomJsonOptions { WriteIndented = false });
        var back = DicomJson.Deserialize(json);
        var again = DicomJson.Serialize(back, new DicomJsonOptions { WriteIndented = false });
        Assert.True(again == json, $"JSON changed:\n{json}\n{again}");
        Assert.True(SameValues(dataset, back, Encoding.UTF8), $"values changed: {json}");
    }

    private static bool SameValues(DicomDataset expected, DicomDataset actual, Encoding encoding)
    {
        foreach (var item in expected)
        {
            switch (item)
            {
                case DicomSequence sequence:
                    if (actual[item.Tag] is not DicomSequence other || other.Items.Count != sequence.Items.Count ||
                        sequence.Items.Zip(other.Items).Any(p => !SameValues(p.First, p.Second, encoding)))
                    {
                        return false;
                    }
                    break;
                case DicomElement element when element.VR.IsString:
                    if (actual[item.Tag] is not DicomElement text || !Canonical(element, encoding).SequenceEqual(Canonical(text, encoding)))
                    {
                        return false;
                    }
                    break;
                case DicomElement element when element.VR == DicomVR.FL || element.VR == DicomVR.FD:
                    // JSON has one NaN; a NaN's payload bits do not survive, its NaN-ness does.
                    if (actual[item.Tag] is not DicomElement real || !Reals(element).SequenceEqual(Reals(real)))
                    {
                        return false;
                    }
                    break;
                case DicomElement element:
                    var padded = element.Buffer.GetBytes().ToArray();
                    if (actual[item.Tag] is not DicomElement binary || !binary.Buffer.GetBytes().Span.SequenceEqual(padded))
                    {
                        return false;
                    }
                    break;
            }
        }
        return true;
    }

    /// <summary>
    /// Values as they mean: IS/DS as numbers ("+7" is 7), PN without trailing empty components, and a list of only
    /// empty values as no value at all (F.2.5 writes both without "Value").
    /// </summary>
    private static List<string> Canonical(DicomElement element, Encoding encoding)
    {
        var vr = element.VR;
        var values = DicomValueText.Values(element, encoding).Select(v =>
            vr == DicomVR.PN ? string.Join('=', v.Split('=').Select(g => g.TrimEnd('^', ' '))).TrimEnd('=')
            : (vr == DicomVR.IS || vr == DicomVR.DS) && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d.ToString("R", CultureInfo.InvariantCulture)
            : v).ToList();
        return values.All(v => v.Length == 0) ? [] : values;
    }

    private static IEnumerable<double> Reals(DicomElement element)
    {
        var bytes = element.Buffer.GetBytes().ToArray();
        return element.VR == DicomVR.FL
            ? Enumerable.Range(0, bytes.Length / 4).Select(i => (double)BitConverter.ToSingle(bytes, i * 4))
            : Enumerable.Range(0, bytes.Length / 8).Select(i => BitConverter.ToDouble(bytes, i * 8));
    }
}

public static class DatasetArbitrary
{
    private static readonly DicomVR[] StringVRs =
    [
        DicomVR.AE, DicomVR.AS, DicomVR.CS, DicomVR.DA, DicomVR.DS, DicomVR.DT, DicomVR.IS, DicomVR.LO, DicomVR.LT, DicomVR.PN,
        DicomVR.SH, DicomVR.ST, DicomVR.TM, DicomVR.UC, DicomVR.UI, DicomVR.UR, DicomVR.UT,
    ];

    private static readonly DicomVR[] BinaryVRs =
    [
        DicomVR.AT, DicomVR.FD, DicomVR.FL, DicomVR.OB, DicomVR.OD, DicomVR.OF, DicomVR.OL, DicomVR.OV, DicomVR.OW, DicomVR.SL,
        DicomVR.SS, DicomVR.SV, DicomVR.UL, DicomVR.UN, DicomVR.US, DicomVR.UV,
    ];

    // A standard tag per VR, taken from the dictionary so each value goes where its VR belongs.
    private static readonly Dictionary<DicomVR, DicomTag[]> Tags = StringVRs.Concat(BinaryVRs).Append(DicomVR.SQ).ToDictionary(vr => vr, vr =>
        DicomDictionary.Default.Entries
            .Where(e => !e.IsRepeating && e.VRs.Count == 1 && e.VR == vr && e.Tag.Group is > 0x0008 and < 0x7FE0)
            .Select(e => e.Tag).Take(40).DefaultIfEmpty(new DicomTag(0x0011, 0x1000)).ToArray());

    public static Arbitrary<DicomDataset> Dataset() => DatasetGen(2).ToArbitrary();

    private static Gen<DicomDataset> DatasetGen(int depth)
    {
        var attribute = depth > 0
            ? Gen.Frequency((8, ElementGen()), (1, SequenceGen(depth - 1)))
            : ElementGen();
        return from items in Gen.ListOf(attribute).Select(l => l.Take(12).ToList())
               select Build(items);
    }

    private static DicomDataset Build(List<Func<DicomDataset, DicomItem>> items)
    {
        var dataset = new DicomDataset().AddOrUpdate(DicomTags.SpecificCharacterSet, DicomVR.CS, "ISO_IR 192");
        foreach (var make in items)
        {
            dataset.AddOrUpdate(make(dataset));
        }
        return dataset;
    }

    private static Gen<Func<DicomDataset, DicomItem>> SequenceGen(int depth) =>
        from tag in Gen.Elements(Tags[DicomVR.SQ])
        from items in Gen.ListOf(DatasetGen(depth)).Select(l => l.Take(3).ToList())
        select (Func<DicomDataset, DicomItem>)(_ => new DicomSequence(tag, items.Select(i => { i.Remove(DicomTags.SpecificCharacterSet); return i; })));

    private static Gen<Func<DicomDataset, DicomItem>> ElementGen() =>
        Gen.OneOf(
            from vr in Gen.Elements(StringVRs)
            from tag in Gen.Elements(Tags[vr])
            from count in Gen.Choose(0, 3)
            from values in Gen.ArrayOf(StringValue(vr), count)
            select (Func<DicomDataset, DicomItem>)(owner =>
            {
                var text = DicomValueText.IsSingleValued(vr) ? string.Concat(values.Take(1)) : string.Join('\\', values);
                var bytes = (DicomElement.UsesCharacterSet(vr) ? Encoding.UTF8 : Encoding.ASCII).GetBytes(text);
                return new DicomElement(tag, vr, new MemoryByteBuffer(Pad(bytes, vr)));
            }),
            from vr in Gen.Elements(BinaryVRs)
            from tag in Gen.Elements(Tags[vr])
            from count in Gen.Choose(0, 6)
            from bytes in Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), count * (vr == DicomVR.AT ? 4 : Math.Max(2, vr.UnitSize)))
            select (Func<DicomDataset, DicomItem>)(_ => new DicomElement(tag, vr, new MemoryByteBuffer(bytes))));

    private static byte[] Pad(byte[] bytes, DicomVR vr) =>
        (bytes.Length & 1) == 0 ? bytes : [.. bytes, vr.PaddingByte];

    private static Gen<string> StringValue(DicomVR vr) => vr.Code switch
    {
        "AE" => Word("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _", 1, 16).Select(s => s.Trim() is { Length: > 0 } t ? t : "AE"),
        "AS" => from n in Gen.Choose(0, 999) from unit in Gen.Elements("DWMY") select $"{n:D3}{unit}",
        "CS" => Word("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", 0, 16),
        "DA" => from d in Gen.Choose(0, 40000) select new DateTime(1950, 1, 1).AddDays(d).ToString("yyyyMMdd", CultureInfo.InvariantCulture),
        "TM" => from s in Gen.Choose(0, 86399) select TimeSpan.FromSeconds(s).ToString("hhmmss", CultureInfo.InvariantCulture),
        "DT" => from d in Gen.Choose(0, 40000) select new DateTime(1950, 1, 1).AddDays(d).ToString("yyyyMMdd", CultureInfo.InvariantCulture) + "120000",
        "DS" => Gen.OneOf(
            from mantissa in Gen.Choose(-999_999, 999_999)
            from exponent in Gen.Choose(-12, 12)
            select (mantissa * Math.Pow(10, exponent)).ToString("G10", CultureInfo.InvariantCulture),
            Gen.Elements("1.50", "-0", "+7", ".5", "1e3", "1A")),
        "IS" => Gen.OneOf(from x in Gen.Choose(-99999999, 99999999) select x.ToString(CultureInfo.InvariantCulture), Gen.Constant("+12")),
        "UI" => from parts in Gen.ArrayOf(Gen.Choose(1, 99999), 4) select "1.2." + string.Join('.', parts),
        "UR" => Word("abcdefghijklmnopqrstuvwxyz0123456789/:.", 1, 40).Select(s => "http://" + s),
        "PN" => from family in Word("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyzÄÖÜé山田", 0, 10)
                from given in Word("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 0, 10)
                from ideographic in Word("山田太郎", 0, 4)
                select ideographic.Length > 0 ? $"{family}^{given}={ideographic}" : $"{family}^{given}",
        "LT" or "ST" or "UT" => Word("abc XYZ\\\r\n01 äöü山", 0, 60).Select(s => s.TrimEnd(' ')),
        _ => Word("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 -äöüéß山田", 0, 16).Select(s => s.Trim()),
    };

    private static Gen<string> Word(string alphabet, int min, int max) =>
        from length in Gen.Choose(min, max)
        from chars in Gen.ArrayOf(Gen.Elements(alphabet.ToCharArray()), length)
        select new string(chars);
}
