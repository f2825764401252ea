using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace MedVision.Dicom.IO;

/// <summary>
/// A human-readable listing in dcmdump's layout: <c>(gggg,eeee) VR value  # length, VM Keyword</c>, one line per
/// attribute, sequence items indented by two spaces per level. Long values are cut with "..." so a line stays readable.
/// Sequences are always listed as undefined length ("u/l"), which is how our writer encodes them.
/// </summary>
public sealed class DicomDumper(DicomDumpOptions? options = null)
{
    private readonly DicomDumpOptions _options = options ?? DicomDumpOptions.Default;

    public string Dump(DicomFile file)
    {
        var text = new StringWriter(CultureInfo.InvariantCulture);
        Dump(text, file);
        return text.ToString();
    }

    public string Dump(DicomDataset dataset)
    {
        var text = new StringWriter(CultureInfo.InvariantCulture);
        WriteDataset(text, dataset, DicomCharacterSet.Default, 0);
        return text.ToString();
    }

    public void Dump(TextWriter output, DicomFile file)
    {
        output.WriteLine();
        output.WriteLine("# Dicom-File-Format");
        if (file.FileMetaInfo.Count > 0)
        {
            output.WriteLine();
            output.WriteLine("# Dicom-Meta-Information-Header");
            output.WriteLine("# Used TransferSyntax: Little Endian Explicit");
            WriteDataset(output, file.FileMetaInfo, DicomCharacterSet.Default, 0);
        }
        output.WriteLine();
        output.WriteLine("# Dicom-Data-Set");
        output.WriteLine($"# Used TransferSyntax: {file.TransferSyntax.Name}");
        WriteDataset(output, file.Dataset, DicomCharacterSet.Default, 0);
        foreach (var warning in file.Warnings)
        {
            output.WriteLine($"# warning: {warning}");
        }
    }

    private void WriteDataset(TextWriter output, DicomDataset dataset, Encoding inherited, int depth)
    {
        var encoding = DicomValueText.EncodingOf(dataset, inherited);
        foreach (var item in dataset)
        {
            switch (item)
            {
                case DicomSequence sequence:
                    WriteLine(output, depth, item.Tag, "SQ", $"(Sequence #={sequence.Items.Count})", "u/l", 1, Keyword(item.Tag, dataset));
                    foreach (var nested in sequence.Items)
                    {
                        WriteLine(output, depth + 1, DicomTag.Item, "na", $"(Item #={nested.Count})", "u/l", 1, "Item");
                        WriteDataset(output, nested, encoding, depth + 2);
                        WriteLine(output, depth + 1, DicomTag.ItemDelimitationItem, "na", "(ItemDelimitationItem)", "0", 0, "ItemDelimitationItem");
                    }
                    WriteLine(output, depth, DicomTag.SequenceDelimitationItem, "na", "(SequenceDelimitationItem)", "0", 0, "SequenceDelimitationItem");
                    break;
                case DicomFragmentSequence fragments:
                    WriteLine(output, depth, item.Tag, item.VR.Code, $"(PixelSequence #={fragments.Fragments.Count + 1})", "u/l", 1, Keyword(item.Tag, dataset));
                    foreach (var buffer in fragments.Fragments.Prepend(fragments.OffsetTable))
                    {
                        var value = buffer.Length == 0 ? "(no value available)" : Hex(buffer, DicomVR.OB);
                        WriteLine(output, depth + 1, DicomTag.Item, "pi", value, buffer.Length.ToString(CultureInfo.InvariantCulture), 1, "Item");
                    }
                    WriteLine(output, depth, DicomTag.SequenceDelimitationItem, "na", "(SequenceDelimitationItem)", "0", 0, "SequenceDelimitationItem");
                    break;
                case DicomElement element:
                    var (text, vm) = Format(element, encoding);
                    WriteLine(output, depth, item.Tag, item.VR.Code, text, element.Length.ToString(CultureInfo.InvariantCulture), vm, Keyword(item.Tag, dataset));
                    break;
            }
        }
    }

    private void WriteLine(TextWriter output, int depth, DicomTag tag, string vr, string value, string length, int vm, string keyword)
    {
        var indent = new string(' ', depth * 2);
        if (value.Length > _options.MaxValueLength)
        {
            value = string.Concat(value.AsSpan(0, _options.MaxValueLength), "...");
        }
        var left = $"{indent}({tag.Group:x4},{tag.Element:x4}) {vr} {value}";
        output.WriteLine($"{left.PadRight(indent.Length + 55)} # {length,3}, {vm} {keyword}");
    }

    private (string Text, int VM) Format(DicomElement element, Encoding encoding)
    {
        if (element.Length == 0)
        {
            return ("(no value available)", 0);
        }
        var vr = element.VR;
        if (vr.IsString)
        {
            var values = DicomValueText.Values(element, encoding);
            if (values.Length == 0)
            {
                return ("(no value available)", 0);
            }
            if (vr == DicomVR.UI && values.Length == 1 && DicomUidRegistry.Default.TryGet(values[0], out var uid) && uid.Keyword is { Length: > 0 } name)
            {
                return ($"={name}", 1);
            }
            // Control characters (CR/LF in LT/UT) would break the one-line-per-attribute layout.
            var joined = string.Join('\\', values).ReplaceLineEndings(".").Replace('\t', '.');
            return ($"[{joined}]", values.Length);
        }
        if (element.Buffer.Length > _options.MaxLoadBytes && !element.Buffer.IsLoaded)
        {
            return ($"({element.Buffer.Length} bytes on disk, not shown)", 1);
        }
        var bytes = element.Buffer.GetBytes().Span;
        var size = vr == DicomVR.AT ? 4 : vr.UnitSize;
        if (vr == DicomVR.AT || vr == DicomVR.US || vr == DicomVR.SS || vr == DicomVR.UL || vr == DicomVR.SL ||
            vr == DicomVR.FL || vr == DicomVR.FD || vr == DicomVR.SV || vr == DicomVR.UV)
        {
            var count = bytes.Length / size;
            var parts = new List<string>();
            for (var i = 0; i < count && i < _options.MaxBinaryValues; i++)
            {
                parts.Add(Number(vr, bytes.Slice(i * size, size)));
            }
            return (string.Join('\\', parts) + (count > parts.Count ? "..." : string.Empty), count);
        }
        return (Hex(element.Buffer, vr), 1);
    }

    private static string Number(DicomVR vr, ReadOnlySpan<byte> v) => vr.Code switch
    {
        "AT" => $"({BinaryPrimitives.ReadUInt16LittleEndian(v):x4},{BinaryPrimitives.ReadUInt16LittleEndian(v[2..]):x4})",
        "US" => BinaryPrimitives.ReadUInt16LittleEndian(v).ToString(CultureInfo.InvariantCulture),
        "SS" => BinaryPrimitives.ReadInt16LittleEndian(v).ToString(CultureInfo.InvariantCulture),
        "UL" => BinaryPrimitives.ReadUInt32LittleEndian(v).ToString(CultureInfo.InvariantCulture),
        "SL" => BinaryPrimitives.ReadInt32LittleEndian(v).ToString(CultureInfo.InvariantCulture),
        "FL" => BinaryPrimitives.ReadSingleLittleEndian(v).ToString("G9", CultureInfo.InvariantCulture),
        "FD" => BinaryPrimitives.ReadDoubleLittleEndian(v).ToString("G17", CultureInfo.InvariantCulture),
        "SV" => BinaryPrimitives.ReadInt64LittleEndian(v).ToString(CultureInfo.InvariantCulture),
        _ => BinaryPrimitives.ReadUInt64LittleEndian(v).ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>OB and UN byte by byte, OW in 16-bit words, OF/OL in 32 and OD/OV in 64, as dcmdump shows them.</summary>
    private string Hex(IByteBuffer buffer, DicomVR vr)
    {
        var unit = vr == DicomVR.OB || vr == DicomVR.UN ? 1 : Math.Max(1, vr.UnitSize);
        if (!buffer.IsLoaded && buffer.Length > _options.MaxLoadBytes)
        {
            return $"({buffer.Length} bytes on disk, not shown)";
        }
        var bytes = buffer.GetBytes().Span;
        var text = new StringBuilder();
        var count = (int)Math.Min(bytes.Length / unit, _options.MaxBinaryValues);
        for (var i = 0; i < count; i++)
        {
            if (i > 0)
            {
                text.Append('\\');
            }
            var v = bytes.Slice(i * unit, unit);
            text.Append(unit switch
            {
                1 => v[0].ToString("x2", CultureInfo.InvariantCulture),
                2 => BinaryPrimitives.ReadUInt16LittleEndian(v).ToString("x4", CultureInfo.InvariantCulture),
                4 => BinaryPrimitives.ReadUInt32LittleEndian(v).ToString("x8", CultureInfo.InvariantCulture),
                _ => BinaryPrimitives.ReadUInt64LittleEndian(v).ToString("x16", CultureInfo.InvariantCulture),
            });
        }
        if (bytes.Length / unit > count)
        {
            text.Append("...");
        }
        return text.ToString();
    }

    /// <summary>Standard keyword, the private dictionary's keyword via the block's creator, or dcmtk's placeholders.</summary>
    private static string Keyword(DicomTag tag, DicomDataset dataset)
    {
        if (tag.IsPrivate && !tag.IsPrivateCreator && !tag.IsGroupLength)
        {
            var creatorTag = new DicomTag(tag.Group, (ushort)(tag.Element >> 8));
            if (tag.Element >= 0x1000 && dataset.TryGetString(creatorTag, out var creator) &&
                DicomDictionary.Default.TryGetPrivateEntry(tag.Group, creator, (byte)tag.Element, out var privateEntry))
            {
                // dcmtk reads its private.dic name field without blanks ("End NumberForBaseline" is shown joined).
                return privateEntry.Keyword.Replace(" ", string.Empty, StringComparison.Ordinal);
            }
            return "Unknown Tag & Data";
        }
        if (!DicomDictionary.Default.TryGetEntry(tag, out var entry))
        {
            return "Unknown Tag & Data";
        }
        return entry.Retired ? "RETIRED_" + entry.Keyword : entry.Keyword;
    }
}

public sealed record DicomDumpOptions
{
    public static DicomDumpOptions Default { get; } = new();

    /// <summary>Characters of a value shown before it is cut with "...".</summary>
    public int MaxValueLength { get; init; } = 64;

    /// <summary>Numbers or hex words of a binary value formatted at most (the rest is cut anyway).</summary>
    public int MaxBinaryValues { get; init; } = 32;

    /// <summary>Values still on disk and larger than this are not read just to show their first bytes.</summary>
    public long MaxLoadBytes { get; init; } = 16 * 1024 * 1024;
}
