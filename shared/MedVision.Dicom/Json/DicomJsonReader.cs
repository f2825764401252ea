using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MedVision.Dicom.IO;

namespace MedVision.Dicom.Json;

/// <summary>
/// Builds a dataset from the DICOM JSON model. JSON text is Unicode, so text is stored as UTF-8 and the Specific
/// Character Set says ISO_IR 192 wherever a dataset declares one or holds non-ASCII text.
/// </summary>
internal sealed class DicomJsonReader(DicomJsonReadOptions options)
{
    private const string Utf8CharacterSet = "ISO_IR 192";

    private bool _nonAsciiText;

    public DicomDataset Read(string json)
    {
        JsonDocument document;
        try
        {
            // Each sequence level is three JSON levels (attribute object, Value array, item object); leave room so our
            // own depth check, with its clearer message, fires first.
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = Math.Max(64, options.MaxDepth * 3 + 8) });
        }
        catch (JsonException ex)
        {
            throw new DicomFormatException($"Not JSON: {ex.Message}", ex);
        }
        using (document)
        {
            var root = document.RootElement;
            // A DICOMweb response is an array of objects; a lone dataset in such an array is accepted too.
            if (root.ValueKind == JsonValueKind.Array && root.GetArrayLength() == 1)
            {
                root = root[0];
            }
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new DicomFormatException($"A DICOM JSON dataset is an object, not {root.ValueKind}.");
            }
            var dataset = ReadDataset(root, string.Empty, 0);
            if (_nonAsciiText && !dataset.Contains(DicomTags.SpecificCharacterSet))
            {
                dataset.AddOrUpdate(DicomTags.SpecificCharacterSet, DicomVR.CS, Utf8CharacterSet);
            }
            return dataset;
        }
    }

    private DicomDataset ReadDataset(JsonElement json, string path, int depth)
    {
        if (depth > options.MaxDepth)
        {
            throw new DicomFormatException($"{path}: sequences nested deeper than {options.MaxDepth}.");
        }
        var dataset = new DicomDataset { InheritedEncoding = Encoding.UTF8 };
        foreach (var property in json.EnumerateObject())
        {
            var where = path.Length == 0 ? property.Name : $"{path}/{property.Name}";
            if (property.Name.Length != 8 || !uint.TryParse(property.Name, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var tagValue))
            {
                throw new DicomFormatException($"{where}: attribute names are eight hexadecimal digits.");
            }
            var tag = DicomTag.FromValue(tagValue);
            if (property.Value.ValueKind != JsonValueKind.Object)
            {
                throw new DicomFormatException($"{where}: an attribute is an object with a \"vr\".");
            }
            var attribute = property.Value;
            if (!attribute.TryGetProperty("vr", out var vrJson) || vrJson.ValueKind != JsonValueKind.String)
            {
                throw new DicomFormatException($"{where}: no \"vr\".");
            }
            DicomVR vr;
            try
            {
                vr = DicomVR.Parse(vrJson.GetString()!);
            }
            catch (FormatException ex)
            {
                throw new DicomFormatException($"{where}: {ex.Message}", ex);
            }
            if (tag.IsGroupLength)
            {
                continue;
            }
            var item = ReadAttribute(tag, vr, attribute, where, depth);
            _nonAsciiText |= item is DicomElement e && DicomElement.UsesCharacterSet(e.VR) && !Ascii.IsValid(e.Buffer.GetBytes().Span);
            dataset.AddOrUpdate(item);
        }
        return dataset;
    }

    private DicomItem ReadAttribute(DicomTag tag, DicomVR vr, JsonElement attribute, string where, int depth)
    {
        var hasValue = attribute.TryGetProperty("Value", out var value);
        var hasInline = attribute.TryGetProperty("InlineBinary", out var inline);
        var hasBulk = attribute.TryGetProperty("BulkDataURI", out var bulk);
        if ((hasValue ? 1 : 0) + (hasInline ? 1 : 0) + (hasBulk ? 1 : 0) > 1)
        {
            throw new DicomFormatException($"{where}: at most one of Value, InlineBinary and BulkDataURI (F.2.2).");
        }
        if (vr == DicomVR.SQ)
        {
            var sequence = new DicomSequence(tag);
            if (hasValue)
            {
                RequireArray(value, where);
                var index = 0;
                foreach (var item in value.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.Object)
                    {
                        throw new DicomFormatException($"{where}/{index}: a sequence item is an object.");
                    }
                    sequence.Items.Add(ReadDataset(item, $"{where}/{index}", depth + 1));
                    index++;
                }
            }
            else if (hasInline || hasBulk)
            {
                throw new DicomFormatException($"{where}: a sequence has no binary value.");
            }
            return sequence;
        }
        if (hasInline || hasBulk)
        {
            byte[] bytes;
            if (hasInline)
            {
                if (inline.ValueKind != JsonValueKind.String || !inline.TryGetBytesFromBase64(out var decoded))
                {
                    throw new DicomFormatException($"{where}: InlineBinary is not base64.");
                }
                bytes = decoded;
            }
            else
            {
                if (bulk.ValueKind != JsonValueKind.String)
                {
                    throw new DicomFormatException($"{where}: BulkDataURI is not a string.");
                }
                var resolver = options.BulkDataResolver ?? throw new DicomFormatException($"{where}: BulkDataURI {bulk.GetString()} cannot be resolved (no resolver configured).");
                bytes = resolver(bulk.GetString()!).ToArray();
            }
            if (tag == DicomTags.PixelData && TryReadFragments(tag, vr, bytes) is { } fragments)
            {
                return fragments;
            }
            if (vr.IsString && !IsBulkDataVR(vr))
            {
                throw new DicomFormatException($"{where}: {vr} values are not binary.");
            }
            return new DicomElement(tag, vr, new MemoryByteBuffer(bytes));
        }
        if (tag == DicomTags.SpecificCharacterSet)
        {
            // Whatever repertoire the JSON names (if any), its text is Unicode and we store it as UTF-8.
            return Text(tag, vr, Utf8CharacterSet, Encoding.ASCII);
        }
        if (!hasValue)
        {
            return new DicomElement(tag, vr, MemoryByteBuffer.Empty);
        }
        RequireArray(value, where);
        return vr.IsString ? ReadStrings(tag, vr, value, where) : ReadNumbers(tag, vr, value, where);
    }

    private static bool IsBulkDataVR(DicomVR vr) => vr == DicomVR.DS || vr == DicomVR.IS || vr == DicomVR.LT || vr == DicomVR.ST || vr == DicomVR.UC || vr == DicomVR.UT;

    private static void RequireArray(JsonElement value, string where)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw new DicomFormatException($"{where}: \"Value\" is an array.");
        }
    }

    private static DicomElement ReadStrings(DicomTag tag, DicomVR vr, JsonElement values, string where)
    {
        var parts = new List<string>();
        foreach (var v in values.EnumerateArray())
        {
            parts.Add(v.ValueKind switch
            {
                JsonValueKind.Null => string.Empty,
                JsonValueKind.String => v.GetString()!,
                JsonValueKind.Number when vr == DicomVR.IS || vr == DicomVR.DS => v.GetRawText(),
                JsonValueKind.Object when vr == DicomVR.PN => PersonName(v, where),
                _ => throw new DicomFormatException($"{where}: {v.ValueKind} is not a {vr} value."),
            });
        }
        if (DicomValueText.IsSingleValued(vr) && parts.Count > 1)
        {
            throw new DicomFormatException($"{where}: {vr} holds a single value.");
        }
        if (parts.Any(p => p.Contains('\\', StringComparison.Ordinal)) && !DicomValueText.IsSingleValued(vr))
        {
            throw new DicomFormatException($"{where}: a {vr} value cannot contain '\\' (it separates values).");
        }
        var encoding = DicomElement.UsesCharacterSet(vr) ? Encoding.UTF8 : Encoding.Latin1;
        return Text(tag, vr, string.Join('\\', parts), encoding);
    }

    private static DicomElement Text(DicomTag tag, DicomVR vr, string text, Encoding encoding)
    {
        var bytes = encoding.GetBytes(text);
        if ((bytes.Length & 1) == 1)
        {
            Array.Resize(ref bytes, bytes.Length + 1);
            bytes[^1] = vr.PaddingByte;
        }
        return new DicomElement(tag, vr, new MemoryByteBuffer(bytes));
    }

    private static string PersonName(JsonElement name, string where)
    {
        var groups = new string[3];
        ReadOnlySpan<string> names = ["Alphabetic", "Ideographic", "Phonetic"];
        foreach (var property in name.EnumerateObject())
        {
            var index = names.IndexOf(property.Name);
            if (index < 0 || property.Value.ValueKind != JsonValueKind.String)
            {
                throw new DicomFormatException($"{where}: person name component group '{property.Name}' is not Alphabetic, Ideographic or Phonetic with a string.");
            }
            groups[index] = property.Value.GetString()!;
        }
        // Trailing empty component groups are dropped with their '=' (PS3.5 6.2.1.1).
        var last = Array.FindLastIndex(groups, g => !string.IsNullOrEmpty(g));
        return string.Join('=', groups.Take(last + 1).Select(g => g ?? string.Empty));
    }

    private static DicomElement ReadNumbers(DicomTag tag, DicomVR vr, JsonElement values, string where)
    {
        var size = vr == DicomVR.AT ? 4 : vr.UnitSize;
        if (vr != DicomVR.AT && vr != DicomVR.US && vr != DicomVR.SS && vr != DicomVR.UL && vr != DicomVR.SL &&
            vr != DicomVR.FL && vr != DicomVR.FD && vr != DicomVR.SV && vr != DicomVR.UV)
        {
            throw new DicomFormatException($"{where}: {vr} is written as InlineBinary or BulkDataURI, not Value.");
        }
        var bytes = new byte[values.GetArrayLength() * size];
        var i = 0;
        foreach (var v in values.EnumerateArray())
        {
            var slot = bytes.AsSpan(i * size, size);
            try
            {
                WriteNumber(vr, v, slot);
            }
            catch (Exception ex) when (ex is FormatException or OverflowException or InvalidOperationException)
            {
                throw new DicomFormatException($"{where}[{i}]: {v.GetRawText()} is not a {vr} value.", ex);
            }
            i++;
        }
        return new DicomElement(tag, vr, new MemoryByteBuffer(bytes));
    }

    private static void WriteNumber(DicomVR vr, JsonElement v, Span<byte> slot)
    {
        switch (vr.Code)
        {
            case "AT":
                var text = v.GetString() ?? throw new FormatException("null tag");
                if (text.Length != 8 || !uint.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var at))
                {
                    throw new FormatException("not GGGGEEEE");
                }
                BinaryPrimitives.WriteUInt16LittleEndian(slot, (ushort)(at >> 16));
                BinaryPrimitives.WriteUInt16LittleEndian(slot[2..], (ushort)at);
                break;
            case "US": BinaryPrimitives.WriteUInt16LittleEndian(slot, v.GetUInt16()); break;
            case "SS": BinaryPrimitives.WriteInt16LittleEndian(slot, v.GetInt16()); break;
            case "UL": BinaryPrimitives.WriteUInt32LittleEndian(slot, v.GetUInt32()); break;
            case "SL": BinaryPrimitives.WriteInt32LittleEndian(slot, v.GetInt32()); break;
            case "FL": BinaryPrimitives.WriteSingleLittleEndian(slot, (float)Real(v)); break;
            case "FD": BinaryPrimitives.WriteDoubleLittleEndian(slot, Real(v)); break;
            case "SV":
                BinaryPrimitives.WriteInt64LittleEndian(slot, v.ValueKind == JsonValueKind.String
                    ? long.Parse(v.GetString()!, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)
                    : v.GetInt64());
                break;
            case "UV":
                BinaryPrimitives.WriteUInt64LittleEndian(slot, v.ValueKind == JsonValueKind.String
                    ? ulong.Parse(v.GetString()!, NumberStyles.None, CultureInfo.InvariantCulture)
                    : v.GetUInt64());
                break;
        }
    }

    /// <summary>Numbers, or the IEEE special values the writer puts in strings because JSON has no literal for them.</summary>
    private static double Real(JsonElement v) => v.ValueKind == JsonValueKind.String
        ? v.GetString() switch
        {
            "NaN" => double.NaN,
            "Infinity" => double.PositiveInfinity,
            "-Infinity" => double.NegativeInfinity,
            var other => throw new FormatException($"'{other}' is not a number"),
        }
        : v.GetDouble();

    /// <summary>
    /// Encapsulated pixel data arrives as its item stream (see the writer). It is taken as fragments only when the
    /// bytes parse exactly as items from first to last byte; native pixel data does not.
    /// </summary>
    private static DicomFragmentSequence? TryReadFragments(DicomTag tag, DicomVR vr, byte[] bytes)
    {
        var items = new List<IByteBuffer>();
        var position = 0;
        while (position < bytes.Length)
        {
            if (bytes.Length - position < 8 ||
                BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(position)) != DicomTag.Item.Group ||
                BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(position + 2)) != DicomTag.Item.Element)
            {
                return null;
            }
            var length = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(position + 4));
            if (length > (uint)(bytes.Length - position - 8))
            {
                return null;
            }
            items.Add(new MemoryByteBuffer(bytes.AsMemory(position + 8, (int)length)));
            position += 8 + (int)length;
        }
        if (items.Count == 0)
        {
            return null;
        }
        var fragments = new DicomFragmentSequence(tag, vr) { OffsetTable = items[0] };
        fragments.Fragments.AddRange(items.Skip(1));
        return fragments;
    }
}
