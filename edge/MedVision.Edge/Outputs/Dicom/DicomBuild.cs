using System.Buffers.Binary;
using System.Globalization;
using MedVision.Dicom;

namespace MedVision.Edge.Outputs.Dicom;

/// <summary>A coded entry (PS3.3 Table 8.8-1a): value, coding scheme designator and meaning.</summary>
public sealed record Code(string Value, string Scheme, string Meaning)
{
    public DicomDataset ToItem()
    {
        var item = DicomBuild.Item();
        // Code Value is SH (16 characters); longer ones (e.g. SNOMED CT extension codes) go in Long Code Value (PS3.3 8.8).
        if (Value.Length > 16)
        {
            item.AddOrUpdate(DicomTags.LongCodeValue, DicomVR.UC, Value);
        }
        else
        {
            item.AddOrUpdate(DicomTags.CodeValue, DicomVR.SH, Value);
        }
        item.AddOrUpdate(DicomTags.CodingSchemeDesignator, DicomVR.SH, Scheme);
        item.AddOrUpdate(DicomTags.CodeMeaning, DicomVR.LO, Meaning.Length > 64 ? Meaning[..64] : Meaning);
        return item;
    }
}

/// <summary>Small helpers for building data sets attribute by attribute.</summary>
internal static class DicomBuild
{
    /// <summary>The character set of every object made here: Unicode, so names and labels survive whatever the source used.</summary>
    public const string CharacterSet = "ISO_IR 192";

    /// <summary>A sequence item whose text is encoded as the enclosing object declares (<see cref="CharacterSet"/>).</summary>
    public static DicomDataset Item() => new() { InheritedEncoding = System.Text.Encoding.UTF8 };

    public static DicomDataset Text(this DicomDataset dataset, DicomTag tag, DicomVR vr, string? value) =>
        dataset.AddOrUpdate(tag, vr, value ?? "");

    public static DicomDataset Sequence(this DicomDataset dataset, DicomTag tag, params DicomDataset[] items) =>
        dataset.AddOrUpdate(new DicomSequence(tag, items));

    public static DicomDataset Sequence(this DicomDataset dataset, DicomTag tag, IEnumerable<DicomDataset> items) =>
        dataset.AddOrUpdate(new DicomSequence(tag, items));

    public static DicomDataset CodeSequence(this DicomDataset dataset, DicomTag tag, Code code) =>
        dataset.Sequence(tag, code.ToItem());

    public static DicomDataset Decimal(this DicomDataset dataset, DicomTag tag, params double[] values) =>
        dataset.AddOrUpdate(tag, DicomVR.DS, string.Join('\\', values.Select(FormatDecimal)));

    public static DicomDataset Integer(this DicomDataset dataset, DicomTag tag, int value) =>
        dataset.AddOrUpdate(tag, DicomVR.IS, value.ToString(CultureInfo.InvariantCulture));

    public static DicomDataset Double(this DicomDataset dataset, DicomTag tag, double value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteDoubleLittleEndian(bytes, value);
        return dataset.AddOrUpdate(tag, DicomVR.FD, bytes);
    }

    public static DicomDataset Float(this DicomDataset dataset, DicomTag tag, float value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
        return dataset.AddOrUpdate(tag, DicomVR.FL, bytes);
    }

    public static DicomDataset AttributeTag(this DicomDataset dataset, DicomTag tag, DicomTag value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt16LittleEndian(bytes, value.Group);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2), value.Element);
        return dataset.AddOrUpdate(tag, DicomVR.AT, bytes);
    }

    /// <summary>A DS value within its 16 characters: shortest round-trip text, else fewer significant digits.</summary>
    public static string FormatDecimal(double value)
    {
        var text = value.ToString("R", CultureInfo.InvariantCulture);
        for (var digits = 15; text.Length > 16 && digits > 1; digits--)
        {
            text = value.ToString("G" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        }
        return text;
    }

    public static string Date(DateTimeOffset value) => value.ToString("yyyyMMdd", CultureInfo.InvariantCulture);

    public static string Time(DateTimeOffset value) => value.ToString("HHmmss.ffffff", CultureInfo.InvariantCulture);

    public static string DateTime(DateTimeOffset value) => value.ToString("yyyyMMddHHmmss.ffffff", CultureInfo.InvariantCulture) + "+0000";

    public static byte[] Serialize(DicomDataset dataset)
    {
        using var buffer = new MemoryStream();
        MedVision.Dicom.IO.DicomWriter.WriteFile(buffer, DicomFile.Create(dataset, DicomTransferSyntax.ExplicitVRLittleEndian));
        return buffer.ToArray();
    }
}
