using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MedVision.Dicom.IO;

namespace MedVision.Dicom.Json;

internal sealed class DicomJsonWriter(DicomJsonOptions options)
{
    // Integers beyond ±2^53 lose precision as JSON numbers in most parsers; PS3.18 F.2.3 allows a string then.
    private const long MaxSafeInteger = 9_007_199_254_740_991;

    public void Write(Stream destination, DicomDataset dataset)
    {
        using var writer = new Utf8JsonWriter(destination, new JsonWriterOptions { Indented = options.WriteIndented, SkipValidation = false });
        WriteDataset(writer, dataset, DicomCharacterSet.Default, string.Empty);
        writer.Flush();
    }

    private void WriteDataset(Utf8JsonWriter writer, DicomDataset dataset, Encoding inherited, string path)
    {
        var encoding = DicomValueText.EncodingOf(dataset, inherited);
        writer.WriteStartObject();
        foreach (var item in dataset)
        {
            if (item.Tag.IsGroupLength || item.Tag.Group == 0xFFFE)
            {
                // F.2.2: group lengths are never part of the model; delimiters are encoding, not attributes.
                continue;
            }
            var key = Key(item.Tag);
            var itemPath = path.Length == 0 ? key : $"{path}/{key}";
            writer.WritePropertyName(key);
            writer.WriteStartObject();
            writer.WriteString("vr"u8, item.VR.Code);
            switch (item)
            {
                case DicomSequence sequence:
                    if (sequence.Items.Count > 0)
                    {
                        writer.WriteStartArray("Value"u8);
                        for (var i = 0; i < sequence.Items.Count; i++)
                        {
                            WriteDataset(writer, sequence.Items[i], encoding, $"{itemPath}/{i}");
                        }
                        writer.WriteEndArray();
                    }
                    break;
                case DicomFragmentSequence fragments:
                    WriteFragments(writer, fragments, itemPath);
                    break;
                case DicomElement element:
                    WriteElement(writer, element, encoding, itemPath);
                    break;
            }
            writer.WriteEndObject();
        }
        writer.WriteEndObject();
    }

    private void WriteElement(Utf8JsonWriter writer, DicomElement element, Encoding encoding, string path)
    {
        if (element.Tag == DicomTags.SpecificCharacterSet)
        {
            WriteCharacterSet(writer);
            return;
        }
        if (element.Length == 0)
        {
            return;
        }
        var vr = element.VR;
        if (vr.IsString)
        {
            WriteStrings(writer, element, encoding);
            return;
        }
        if (vr == DicomVR.AT || vr == DicomVR.US || vr == DicomVR.SS || vr == DicomVR.UL || vr == DicomVR.SL ||
            vr == DicomVR.FL || vr == DicomVR.FD || vr == DicomVR.SV || vr == DicomVR.UV)
        {
            WriteBinaryNumbers(writer, element);
            return;
        }
        WriteBinary(writer, element, element.Length, path, destination => element.Buffer.CopyTo(destination), element.Buffer.GetBytes);
    }

    /// <summary>
    /// The JSON text is Unicode, so the declared repertoire no longer applies: it is ISO_IR 192 (UTF-8) from here on,
    /// even where the original was empty (the default repertoire is a subset), as dcm2json writes it.
    /// </summary>
    private static void WriteCharacterSet(Utf8JsonWriter writer)
    {
        writer.WriteStartArray("Value"u8);
        writer.WriteStringValue("ISO_IR 192");
        writer.WriteEndArray();
    }

    private static void WriteStrings(Utf8JsonWriter writer, DicomElement element, Encoding encoding)
    {
        var values = DicomValueText.Values(element, encoding);
        if (element.VR == DicomVR.PN)
        {
            values = values.Select(v => IsEmptyName(v) ? string.Empty : v).ToArray();
        }
        if (values.All(v => v.Length == 0))
        {
            return;
        }
        writer.WriteStartArray("Value"u8);
        foreach (var value in values)
        {
            if (value.Length == 0)
            {
                // F.2.5: an empty value among others is null.
                writer.WriteNullValue();
            }
            else if (element.VR == DicomVR.PN)
            {
                WritePersonName(writer, value);
            }
            else if (element.VR == DicomVR.IS || element.VR == DicomVR.DS)
            {
                WriteDecimalString(writer, value);
            }
            else
            {
                writer.WriteStringValue(value);
            }
        }
        writer.WriteEndArray();
    }

    /// <summary>A name of only separators ("^^", "==") has no component and counts as empty.</summary>
    private static bool IsEmptyName(string value) => value.AsSpan().IndexOfAnyExcept("^= ") < 0;

    private static void WritePersonName(Utf8JsonWriter writer, string value)
    {
        var groups = value.Split('=');
        writer.WriteStartObject();
        ReadOnlySpan<string> names = ["Alphabetic", "Ideographic", "Phonetic"];
        for (var i = 0; i < groups.Length && i < names.Length; i++)
        {
            // Trailing empty components and their '^' carry nothing (PS3.5 6.2.1.1); dcm2json drops them too.
            var group = groups[i].Trim().TrimEnd('^', ' ');
            if (group.Length > 0)
            {
                writer.WriteString(names[i], group);
            }
        }
        writer.WriteEndObject();
    }

    /// <summary>IS and DS are numbers where the text is a JSON number; other valid decimals are normalised; anything else stays a string.</summary>
    private static void WriteDecimalString(Utf8JsonWriter writer, string value)
    {
        if (IsJsonNumber(value))
        {
            writer.WriteRawValue(value, skipInputValidation: true);
        }
        else if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number))
        {
            writer.WriteNumberValue(number);
        }
        else
        {
            writer.WriteStringValue(value);
        }
    }

    /// <summary>RFC 8259 number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?</summary>
    internal static bool IsJsonNumber(ReadOnlySpan<char> s)
    {
        var i = 0;
        if (i < s.Length && s[i] == '-')
        {
            i++;
        }
        if (i >= s.Length || !char.IsAsciiDigit(s[i]))
        {
            return false;
        }
        if (s[i] == '0')
        {
            i++;
        }
        else
        {
            while (i < s.Length && char.IsAsciiDigit(s[i])) i++;
        }
        if (i < s.Length && s[i] == '.')
        {
            i++;
            var start = i;
            while (i < s.Length && char.IsAsciiDigit(s[i])) i++;
            if (i == start) return false;
        }
        if (i < s.Length && (s[i] == 'e' || s[i] == 'E'))
        {
            i++;
            if (i < s.Length && (s[i] == '+' || s[i] == '-')) i++;
            var start = i;
            while (i < s.Length && char.IsAsciiDigit(s[i])) i++;
            if (i == start) return false;
        }
        return i == s.Length;
    }

    private static void WriteBinaryNumbers(Utf8JsonWriter writer, DicomElement element)
    {
        var b = element.Buffer.GetBytes().Span;
        var vr = element.VR;
        var size = vr == DicomVR.AT ? 4 : vr.UnitSize;
        var count = b.Length / size;
        if (count == 0)
        {
            return;
        }
        writer.WriteStartArray("Value"u8);
        for (var i = 0; i < count; i++)
        {
            var v = b.Slice(i * size, size);
            switch (vr.Code)
            {
                case "AT":
                    writer.WriteStringValue(string.Create(CultureInfo.InvariantCulture,
                        $"{BinaryPrimitives.ReadUInt16LittleEndian(v):X4}{BinaryPrimitives.ReadUInt16LittleEndian(v[2..]):X4}"));
                    break;
                case "US": writer.WriteNumberValue(BinaryPrimitives.ReadUInt16LittleEndian(v)); break;
                case "SS": writer.WriteNumberValue(BinaryPrimitives.ReadInt16LittleEndian(v)); break;
                case "UL": writer.WriteNumberValue(BinaryPrimitives.ReadUInt32LittleEndian(v)); break;
                case "SL": writer.WriteNumberValue(BinaryPrimitives.ReadInt32LittleEndian(v)); break;
                case "FL": WriteFloat(writer, BinaryPrimitives.ReadSingleLittleEndian(v)); break;
                case "FD": WriteFloat(writer, BinaryPrimitives.ReadDoubleLittleEndian(v)); break;
                case "SV":
                    var sv = BinaryPrimitives.ReadInt64LittleEndian(v);
                    if (sv is >= -MaxSafeInteger and <= MaxSafeInteger) writer.WriteNumberValue(sv);
                    else writer.WriteStringValue(sv.ToString(CultureInfo.InvariantCulture));
                    break;
                case "UV":
                    var uv = BinaryPrimitives.ReadUInt64LittleEndian(v);
                    if (uv <= MaxSafeInteger) writer.WriteNumberValue(uv);
                    else writer.WriteStringValue(uv.ToString(CultureInfo.InvariantCulture));
                    break;
            }
        }
        writer.WriteEndArray();
    }

    // JSON has no NaN or infinity; the IEEE names as strings keep the value rather than failing the whole dataset.
    private static void WriteFloat(Utf8JsonWriter writer, float value)
    {
        if (float.IsFinite(value)) writer.WriteNumberValue(value);
        else writer.WriteStringValue(value.ToString(CultureInfo.InvariantCulture));
    }

    private static void WriteFloat(Utf8JsonWriter writer, double value)
    {
        if (double.IsFinite(value)) writer.WriteNumberValue(value);
        else writer.WriteStringValue(value.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Encapsulated pixel data as its Value Field (F.2.7): the items (offset table first, then fragments) with their
    /// headers, little endian, without the closing sequence delimiter.
    /// </summary>
    private void WriteFragments(Utf8JsonWriter writer, DicomFragmentSequence fragments, string path)
    {
        var buffers = new List<IByteBuffer> { fragments.OffsetTable };
        buffers.AddRange(fragments.Fragments);
        var length = buffers.Sum(b => 8 + b.Length + (b.Length & 1));
        WriteBinary(writer, fragments, length, path, destination =>
        {
            Span<byte> header = stackalloc byte[8];
            foreach (var buffer in buffers)
            {
                var padded = buffer.Length + (buffer.Length & 1);
                BinaryPrimitives.WriteUInt16LittleEndian(header, DicomTag.Item.Group);
                BinaryPrimitives.WriteUInt16LittleEndian(header[2..], DicomTag.Item.Element);
                BinaryPrimitives.WriteUInt32LittleEndian(header[4..], (uint)padded);
                destination.Write(header);
                buffer.CopyTo(destination);
                if (padded != buffer.Length)
                {
                    destination.WriteByte(0);
                }
            }
        }, null);
    }

    private void WriteBinary(Utf8JsonWriter writer, DicomItem item, long length, string path, Action<Stream> copy, Func<ReadOnlyMemory<byte>>? direct)
    {
        if (options.BulkDataUri is { } uri && length >= options.BulkDataThreshold)
        {
            writer.WriteString("BulkDataURI"u8, uri(new DicomJsonBulkData(path, item, length)));
            return;
        }
        ReadOnlyMemory<byte> bytes;
        if (direct is not null)
        {
            bytes = direct();
        }
        else
        {
            using var buffer = new MemoryStream();
            copy(buffer);
            bytes = buffer.ToArray();
        }
        if ((bytes.Length & 1) == 1)
        {
            // The Value Field is always even (PS3.5 7.1.1); odd values read from lenient sources get their pad byte here.
            var padded = new byte[bytes.Length + 1];
            bytes.CopyTo(padded);
            bytes = padded;
        }
        writer.WriteBase64String("InlineBinary"u8, bytes.Span);
    }

    internal static string Key(DicomTag tag) => string.Create(CultureInfo.InvariantCulture, $"{tag.Group:X4}{tag.Element:X4}");
}
