using System.Buffers.Binary;
using System.Collections;
using System.Globalization;
using System.Text;
using MedVision.Dicom.IO;

namespace MedVision.Dicom;

/// <summary>
/// An ordered set of attributes. Getters never throw for absent or malformed data: use the Try* forms, and
/// validate on write or on request rather than on read.
/// </summary>
public sealed class DicomDataset : IEnumerable<DicomItem>
{
    private readonly List<DicomItem> _items = [];

    public DicomDataset() { }

    public DicomDataset(IEnumerable<DicomItem> items)
    {
        foreach (var item in items)
        {
            AddOrUpdate(item);
        }
    }

    /// <summary>Encoding inherited from the enclosing dataset, for sequence items without their own (0008,0005).</summary>
    public Encoding? InheritedEncoding { get; set; }

    /// <summary>Encoding for PN/LO/SH/LT/ST/UT/UC values of this dataset.</summary>
    public Encoding Encoding =>
        TryGetElement(DicomTags.SpecificCharacterSet, out var cs)
            ? DicomCharacterSet.GetEncoding(Encoding.Latin1.GetString(cs.Buffer.GetBytes().Span))
            : InheritedEncoding ?? DicomCharacterSet.Default;

    public int Count => _items.Count;

    public bool Contains(DicomTag tag) => IndexOf(tag) >= 0;

    public DicomItem? this[DicomTag tag]
    {
        get
        {
            var i = IndexOf(tag);
            return i >= 0 ? _items[i] : null;
        }
    }

    /// <summary>Adds the item, replacing any with the same tag. Appending in tag order is O(1).</summary>
    public DicomDataset AddOrUpdate(DicomItem item)
    {
        if (_items.Count == 0 || _items[^1].Tag < item.Tag)
        {
            _items.Add(item);
            return this;
        }
        var i = IndexOf(item.Tag);
        if (i >= 0)
        {
            _items[i] = item;
        }
        else
        {
            _items.Insert(~i, item);
        }
        return this;
    }

    public DicomDataset AddOrUpdate(DicomTag tag, DicomVR vr, string value)
    {
        var encoding = DicomElement.UsesCharacterSet(vr) ? Encoding : Encoding.Latin1;
        var bytes = encoding.GetBytes(value);
        if ((bytes.Length & 1) == 1)
        {
            Array.Resize(ref bytes, bytes.Length + 1);
            bytes[^1] = vr.PaddingByte;
        }
        return AddOrUpdate(new DicomElement(tag, vr, new MemoryByteBuffer(bytes)));
    }

    public DicomDataset AddOrUpdate(DicomTag tag, DicomVR vr, params ushort[] values)
    {
        var bytes = new byte[values.Length * 2];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), values[i]);
        }
        return AddOrUpdate(new DicomElement(tag, vr, new MemoryByteBuffer(bytes)));
    }

    public DicomDataset AddOrUpdate(DicomTag tag, DicomVR vr, params uint[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i * 4), values[i]);
        }
        return AddOrUpdate(new DicomElement(tag, vr, new MemoryByteBuffer(bytes)));
    }

    public DicomDataset AddOrUpdate(DicomTag tag, DicomVR vr, ReadOnlyMemory<byte> bytes) =>
        AddOrUpdate(new DicomElement(tag, vr, new MemoryByteBuffer(bytes)));

    public bool Remove(DicomTag tag)
    {
        var i = IndexOf(tag);
        if (i < 0)
        {
            return false;
        }
        _items.RemoveAt(i);
        return true;
    }

    public void RemoveWhere(Func<DicomItem, bool> predicate) => _items.RemoveAll(x => predicate(x));

    public bool TryGetElement(DicomTag tag, out DicomElement element)
    {
        if (this[tag] is DicomElement e)
        {
            element = e;
            return true;
        }
        element = null!;
        return false;
    }

    public bool TryGetSequence(DicomTag tag, out DicomSequence sequence)
    {
        if (this[tag] is DicomSequence s)
        {
            sequence = s;
            return true;
        }
        sequence = null!;
        return false;
    }

    /// <summary>The whole value as text (multiple values joined by '\'), padding removed; false when absent or empty.</summary>
    public bool TryGetString(DicomTag tag, out string value)
    {
        if (TryGetElement(tag, out var e) && e.Length > 0)
        {
            value = e.GetText(Encoding);
            return value.Length > 0;
        }
        value = string.Empty;
        return false;
    }

    public string? GetStringOrDefault(DicomTag tag) => TryGetString(tag, out var v) ? v : null;

    public string[] GetStrings(DicomTag tag) =>
        TryGetString(tag, out var v) ? v.Split('\\').Select(s => s.Trim()).ToArray() : [];

    /// <summary>Reads value <paramref name="index"/> of a numeric attribute, binary (US, SS, UL, SL, FL, FD…) or text (IS, DS).</summary>
    public bool TryGetNumber(DicomTag tag, int index, out double value)
    {
        value = 0;
        if (!TryGetElement(tag, out var e))
        {
            return false;
        }
        if (e.VR == DicomVR.IS || e.VR == DicomVR.DS)
        {
            var parts = e.GetText(Encoding.Latin1).Split('\\');
            return index < parts.Length &&
                   double.TryParse(parts[index].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        }
        var b = e.Buffer.GetBytes().Span;
        var size = e.VR.UnitSize;
        if (size <= 1 || (index + 1) * size > b.Length)
        {
            return false;
        }
        var s = b[(index * size)..];
        value = e.VR.Code switch
        {
            "US" or "OW" => BinaryPrimitives.ReadUInt16LittleEndian(s),
            "SS" => BinaryPrimitives.ReadInt16LittleEndian(s),
            "UL" or "OL" => BinaryPrimitives.ReadUInt32LittleEndian(s),
            "SL" => BinaryPrimitives.ReadInt32LittleEndian(s),
            "FL" or "OF" => BinaryPrimitives.ReadSingleLittleEndian(s),
            "FD" or "OD" => BinaryPrimitives.ReadDoubleLittleEndian(s),
            "SV" => BinaryPrimitives.ReadInt64LittleEndian(s),
            "UV" or "OV" => BinaryPrimitives.ReadUInt64LittleEndian(s),
            _ => double.NaN,
        };
        return !double.IsNaN(value);
    }

    public bool TryGetInt(DicomTag tag, out int value)
    {
        if (TryGetNumber(tag, 0, out var d) && d is >= int.MinValue and <= int.MaxValue)
        {
            value = (int)Math.Round(d);
            return true;
        }
        value = 0;
        return false;
    }

    public int GetIntOrDefault(DicomTag tag, int defaultValue) => TryGetInt(tag, out var v) ? v : defaultValue;

    public double GetDoubleOrDefault(DicomTag tag, double defaultValue) => TryGetNumber(tag, 0, out var v) ? v : defaultValue;

    public IEnumerator<DicomItem> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private int IndexOf(DicomTag tag)
    {
        int lo = 0, hi = _items.Count - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var c = _items[mid].Tag.Value.CompareTo(tag.Value);
            if (c == 0)
            {
                return mid;
            }
            if (c < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return ~lo;
    }
}
