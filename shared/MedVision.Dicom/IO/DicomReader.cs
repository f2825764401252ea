using System.IO.Compression;
using System.Text;

namespace MedVision.Dicom.IO;

/// <summary>
/// Parses Part 10 files and bare datasets. Lenient with what real devices write (odd lengths, unknown VRs, UN holding a
/// sequence, missing meta header): it records a warning and carries on; it throws only when the bytes cannot be DICOM.
/// </summary>
public sealed class DicomReader
{
    private const uint UndefinedLength = 0xFFFF_FFFF;
    private static readonly DicomTag PixelData = new(0x7FE0, 0x0010);

    private readonly DicomReadOptions _options;
    private readonly List<string> _warnings = [];
    private string? _filePath;
    private DicomDataset? _root;
    private int _sequenceDepth;

    // Sequences nest by recursion; a crafted file of nested undefined-length sequences (20 bytes a level) would
    // otherwise overflow the stack and kill the process. Real data (deep SR trees included) stays far below this.
    private const int MaxSequenceDepth = 128;

    public DicomReader(DicomReadOptions? options = null)
    {
        _options = options ?? DicomReadOptions.Default;
    }

    public IReadOnlyList<string> Warnings => _warnings;

    /// <summary>Reads a file; large values stay on disk until asked for.</summary>
    public static DicomFile ReadFile(string path, DicomReadOptions? options = null)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1, FileOptions.SequentialScan);
        var reader = new DicomReader(options) { _filePath = path };
        return reader.ReadPart10(stream, path);
    }

    /// <summary>Reads a whole Part 10 (or meta-less) file from a stream into memory.</summary>
    public static DicomFile Read(Stream stream, DicomReadOptions? options = null) => new DicomReader(options).ReadPart10(stream, null);

    /// <summary>Reads a bare dataset (no preamble or meta), e.g. a DIMSE data set, in the given transfer syntax.</summary>
    public static DicomDataset ReadDataset(Stream stream, DicomTransferSyntax syntax, DicomReadOptions? options = null)
    {
        var reader = new DicomReader(options);
        var source = reader.OpenBody(stream, syntax, 0);
        var dataset = new DicomDataset();
        ReadBody(() => reader.ReadItems(source, dataset, syntax.IsExplicitVR, -1, topLevel: true));
        return dataset;
    }

    /// <summary>A corrupt deflate stream (PS3.5 A.5) is damaged DICOM like any other, not a different kind of failure.</summary>
    private static void ReadBody(Action read)
    {
        try
        {
            read();
        }
        catch (InvalidDataException ex)
        {
            throw new DicomFormatException($"The deflated data set is corrupt: {ex.Message}", ex);
        }
    }

    private DicomFile ReadPart10(Stream stream, string? path)
    {
        var source = new ByteSource(stream);
        var meta = new DicomDataset();
        DicomTransferSyntax syntax;
        var hasPreamble = source.Ensure(132) && source.Peek(132)[128..].SequenceEqual("DICM"u8);
        if (hasPreamble)
        {
            source.Skip(132);
            ReadMeta(source, meta);
            if (meta.TryGetString(DicomTags.TransferSyntaxUID, out var tsUid))
            {
                syntax = DicomTransferSyntax.Parse(tsUid);
            }
            else
            {
                syntax = GuessSyntax(source);
                _warnings.Add($"File meta information has no Transfer Syntax UID; read as {syntax.Name}.");
            }
        }
        else
        {
            if (!source.Ensure(8))
            {
                throw new DicomFormatException("Not a DICOM file: fewer than 8 bytes.");
            }
            syntax = GuessSyntax(source);
            if (!LooksLikeDataset(source, syntax))
            {
                throw new DicomFormatException("Not a DICOM file: no 'DICM' prefix and the first bytes are not a DICOM element.");
            }
            _warnings.Add($"No DICOM preamble/meta header; read as {syntax.Name}.");
        }

        var body = syntax.IsDeflated ? OpenBody(stream, syntax, source) : source;
        body.BigEndian = syntax.IsBigEndian;
        var dataset = new DicomDataset();
        ReadBody(() => ReadItems(body, dataset, syntax.IsExplicitVR, -1, topLevel: true));
        return new DicomFile(meta, dataset, syntax, path, [.. _warnings]);
    }

    private ByteSource OpenBody(Stream stream, DicomTransferSyntax syntax, long start)
    {
        if (syntax.IsDeflated)
        {
            _filePath = null;
            return new ByteSource(new DeflateStream(stream, CompressionMode.Decompress, leaveOpen: true)) { BigEndian = false };
        }
        return new ByteSource(stream, start) { BigEndian = syntax.IsBigEndian };
    }

    private ByteSource OpenBody(Stream stream, DicomTransferSyntax syntax, ByteSource afterMeta)
    {
        // The deflated body starts right after the meta group; the buffered reader may have read past it.
        if (stream.CanSeek)
        {
            stream.Position = afterMeta.Position;
            return OpenBody(stream, syntax, 0);
        }
        var rest = new MemoryStream();
        while (afterMeta.Ensure(1))
        {
            rest.WriteByte(afterMeta.Peek(1)[0]);
            afterMeta.Skip(1);
        }
        rest.Position = 0;
        return OpenBody(rest, syntax, 0);
    }

    private void ReadMeta(ByteSource source, DicomDataset meta)
    {
        source.BigEndian = false;
        while (source.Ensure(4))
        {
            var group = (ushort)(source.Peek(2)[0] | (source.Peek(2)[1] << 8));
            if (group != 0x0002)
            {
                break;
            }
            // Some writers put the meta group in implicit VR; detect per element.
            var explicitVR = source.Ensure(6) && IsVRCode(source.Peek(6)[4..]);
            if (!explicitVR)
            {
                _warnings.Add("File meta information is not explicit VR little endian.");
            }
            var item = ReadItem(source, explicitVR, out _);
            if (item is not null)
            {
                meta.AddOrUpdate(item);
            }
        }
    }

    private static DicomTransferSyntax GuessSyntax(ByteSource source)
    {
        if (!source.Ensure(6))
        {
            return DicomTransferSyntax.ImplicitVRLittleEndian;
        }
        var b = source.Peek(6);
        var littleGroup = (ushort)(b[0] | (b[1] << 8));
        var bigGroup = (ushort)((b[0] << 8) | b[1]);
        var explicitVR = IsVRCode(b[4..]);
        var bigEndian = bigGroup < littleGroup && bigGroup != 0 && littleGroup > 0x00FF;
        return (explicitVR, bigEndian) switch
        {
            (true, true) => DicomTransferSyntax.ExplicitVRBigEndian,
            (true, false) => DicomTransferSyntax.ExplicitVRLittleEndian,
            _ => DicomTransferSyntax.ImplicitVRLittleEndian,
        };
    }

    private static bool LooksLikeDataset(ByteSource source, DicomTransferSyntax syntax)
    {
        var b = source.Peek(8);
        var group = syntax.IsBigEndian ? (ushort)((b[0] << 8) | b[1]) : (ushort)(b[0] | (b[1] << 8));
        // Datasets start with a low group (command, meta, identifying or patient groups).
        return group is > 0x0000 and <= 0x0028 || (syntax.IsExplicitVR && group <= 0x7FE0);
    }

    private static bool IsVRCode(ReadOnlySpan<byte> b) => b.Length >= 2 && b[0] is >= (byte)'A' and <= (byte)'Z' && b[1] is >= (byte)'A' and <= (byte)'Z';

    /// <summary>Reads items until <paramref name="end"/> (absolute position), an item delimiter, or end of data.</summary>
    private void ReadItems(ByteSource source, DicomDataset dataset, bool explicitVR, long end, bool topLevel)
    {
        if (topLevel)
        {
            _root = dataset;
        }
        while (end < 0 ? source.Ensure(1) : source.Position < end)
        {
            if (!source.Ensure(4))
            {
                // Fewer than 4 bytes are left; count them one by one, since a forward-only stream has no Length.
                var trailing = 0;
                while (source.Ensure(1))
                {
                    source.Skip(1);
                    trailing++;
                }
                _warnings.Add($"{trailing} trailing bytes after the last element were ignored.");
                return;
            }
            if (topLevel && _options.StopBeforeTag is { } stop && PeekTag(source) >= stop)
            {
                return;
            }
            var item = ReadItem(source, explicitVR, out var delimiter);
            if (delimiter == DicomTag.ItemDelimitationItem)
            {
                if (end >= 0 || topLevel)
                {
                    _warnings.Add($"Unexpected item delimiter at byte {source.Position - 8}.");
                    continue;
                }
                return;
            }
            if (delimiter == DicomTag.SequenceDelimitationItem)
            {
                _warnings.Add($"Unexpected sequence delimiter at byte {source.Position - 8}.");
                continue;
            }
            if (item is not null)
            {
                if (item is DicomElement { Tag.IsGroupLength: true } && topLevel)
                {
                    // Group lengths are recomputed on write; keeping stale ones would corrupt output.
                    continue;
                }
                dataset.AddOrUpdate(item);
            }
        }
        if (end >= 0 && source.Position > end)
        {
            _warnings.Add($"An element overran its enclosing item by {source.Position - end} bytes.");
        }
    }

    private DicomTag PeekTag(ByteSource source)
    {
        var b = source.Peek(4);
        return source.BigEndian
            ? new DicomTag((ushort)((b[0] << 8) | b[1]), (ushort)((b[2] << 8) | b[3]))
            : new DicomTag((ushort)(b[0] | (b[1] << 8)), (ushort)(b[2] | (b[3] << 8)));
    }

    private DicomItem? ReadItem(ByteSource source, bool explicitVR, out DicomTag? delimiter)
    {
        delimiter = null;
        var tag = new DicomTag(source.ReadUInt16(), source.ReadUInt16());
        if (tag.Group == 0xFFFE)
        {
            source.ReadUInt32();
            delimiter = tag;
            return null;
        }

        DicomVR vr;
        uint length;
        if (explicitVR && source.Ensure(2) && IsVRCode(source.Peek(2)))
        {
            var code = source.Peek(2);
            if (!DicomVR.TryParse(code, out vr))
            {
                // PS3.5 6.2: a VR unknown to this version is read as a long-length VR.
                _warnings.Add($"{tag}: unknown VR '{Encoding.ASCII.GetString(code)}' read as UN.");
                source.Skip(2);
                source.Skip(2);
                length = source.ReadUInt32();
                return ReadValue(source, tag, DicomVR.UN, length, explicitVR);
            }
            source.Skip(2);
            if (vr.HasLongExplicitLength)
            {
                source.Skip(2);
                length = source.ReadUInt32();
            }
            else
            {
                length = source.ReadUInt16();
            }
        }
        else
        {
            if (explicitVR)
            {
                _warnings.Add($"{tag}: expected an explicit VR; read this element as implicit VR.");
            }
            vr = ImplicitVR(tag);
            length = source.ReadUInt32();
        }
        return ReadValue(source, tag, vr, length, explicitVR);
    }

    private DicomVR ImplicitVR(DicomTag tag)
    {
        if (tag.IsGroupLength)
        {
            return DicomVR.UL;
        }
        if (tag.IsPrivateCreator)
        {
            return DicomVR.LO;
        }
        if (!DicomDictionary.Default.TryGetEntry(tag, out var entry))
        {
            return DicomVR.UN;
        }
        var vrs = entry.VRs;
        if (vrs.Count < 2)
        {
            return entry.VR;
        }
        // Ambiguous VRs resolve as dcmtk does: US or SS by Pixel Representation, otherwise OW (PS3.5 A.1).
        if (vrs.Contains(DicomVR.US) && vrs.Contains(DicomVR.SS) && !vrs.Contains(DicomVR.OW))
        {
            return _root?.GetIntOrDefault(DicomTags.PixelRepresentation, 0) == 1 ? DicomVR.SS : DicomVR.US;
        }
        return vrs.Contains(DicomVR.OW) ? DicomVR.OW : entry.VR;
    }

    private DicomItem ReadValue(ByteSource source, DicomTag tag, DicomVR vr, uint length, bool explicitVR)
    {
        if (vr == DicomVR.SQ || (length == UndefinedLength && vr == DicomVR.UN))
        {
            // UN with undefined length is a sequence in implicit VR little endian (PS3.5 6.2.2).
            var nestedExplicit = vr == DicomVR.SQ && explicitVR;
            return ReadSequence(source, tag, length, nestedExplicit);
        }
        if (length == UndefinedLength)
        {
            if (vr == DicomVR.OB || vr == DicomVR.OW || tag == PixelData)
            {
                return ReadFragments(source, tag, vr);
            }
            _warnings.Add($"{tag}: undefined length on a {vr} element; read as a sequence.");
            return ReadSequence(source, tag, length, explicitVR);
        }
        if ((length & 1) == 1)
        {
            _warnings.Add($"{tag}: odd value length {length}.");
        }
        if (source.Length >= 0 && source.Position + length > source.Length)
        {
            throw new DicomFormatException(
                $"Truncated data: {tag} {vr} declares {length} bytes at byte {source.Position} but only {source.Length - source.Position} remain.");
        }
        if (vr == DicomVR.UN && !tag.IsPrivate && DicomDictionary.Default.GetVR(tag) == DicomVR.SQ && length > 0)
        {
            return ReadUnknownAsSequence(source, tag, length);
        }
        var swapUnit = source.BigEndian ? SwapUnit(vr) : 1;
        if (_filePath is not null && source.CanSeek && length >= _options.LargeValueThreshold)
        {
            var buffer = new FileByteBuffer(_filePath, source.Position, length, swapUnit);
            source.Skip(length);
            return new DicomElement(tag, vr, buffer);
        }
        var bytes = ReadValueBytes(source, tag, length);
        ByteSwap.InPlace(bytes, swapUnit);
        return new DicomElement(tag, vr, new MemoryByteBuffer(bytes));
    }

    /// <summary>
    /// The value's bytes. A stream that cannot tell its length (network, inflate) is read in chunks, so a corrupt
    /// length field costs memory only for the bytes that actually arrive, never the declared (up to 4 GiB) amount.
    /// </summary>
    private static byte[] ReadValueBytes(ByteSource source, DicomTag tag, uint length)
    {
        const int Chunk = 1 << 20;
        if (length > Array.MaxLength)
        {
            throw new DicomFormatException($"{tag}: a value of {length} bytes is too large to read into memory.");
        }
        if (source.Length >= 0 || length <= Chunk)
        {
            var bytes = new byte[length];
            source.ReadExactly(bytes);
            return bytes;
        }
        var chunks = new List<byte[]>();
        for (long remaining = length; remaining > 0; remaining -= Chunk)
        {
            var chunk = new byte[Math.Min(Chunk, remaining)];
            source.ReadExactly(chunk);
            chunks.Add(chunk);
        }
        var value = new byte[length];
        var offset = 0;
        foreach (var chunk in chunks)
        {
            chunk.CopyTo(value, offset);
            offset += chunk.Length;
        }
        return value;
    }

    private DicomItem ReadUnknownAsSequence(ByteSource source, DicomTag tag, uint length)
    {
        var bytes = ReadValueBytes(source, tag, length);
        try
        {
            var nested = new ByteSource(new MemoryStream(bytes)) { BigEndian = false };
            var sequence = ReadSequence(nested, tag, length, explicitVR: false);
            _warnings.Add($"{tag}: UN value decoded as the sequence the dictionary defines.");
            return sequence;
        }
        catch (DicomFormatException)
        {
            return new DicomElement(tag, DicomVR.UN, new MemoryByteBuffer(bytes));
        }
    }

    private static int SwapUnit(DicomVR vr) => vr.Code switch
    {
        "OB" or "UN" => 1,
        _ when vr.IsString => 1,
        _ => vr.UnitSize,
    };

    private DicomSequence ReadSequence(ByteSource source, DicomTag tag, uint length, bool explicitVR)
    {
        if (_sequenceDepth >= MaxSequenceDepth)
        {
            throw new DicomFormatException($"{tag}: sequences nested deeper than {MaxSequenceDepth} levels at byte {source.Position}.");
        }
        _sequenceDepth++;
        try
        {
            return ReadSequenceItems(source, tag, length, explicitVR);
        }
        finally
        {
            _sequenceDepth--;
        }
    }

    private DicomSequence ReadSequenceItems(ByteSource source, DicomTag tag, uint length, bool explicitVR)
    {
        var sequence = new DicomSequence(tag);
        var end = length == UndefinedLength ? -1 : source.Position + length;
        while (end < 0 || source.Position < end)
        {
            var itemTag = new DicomTag(source.ReadUInt16(), source.ReadUInt16());
            var itemLength = source.ReadUInt32();
            if (itemTag == DicomTag.SequenceDelimitationItem)
            {
                if (end >= 0)
                {
                    _warnings.Add($"{tag}: sequence delimiter inside a defined-length sequence.");
                }
                break;
            }
            if (itemTag != DicomTag.Item)
            {
                throw new DicomFormatException($"{tag}: expected an item tag in the sequence at byte {source.Position - 8}, found {itemTag}.");
            }
            var item = new DicomDataset();
            ReadItems(source, item, explicitVR, itemLength == UndefinedLength ? -1 : source.Position + itemLength, topLevel: false);
            sequence.Items.Add(item);
        }
        return sequence;
    }

    private DicomFragmentSequence ReadFragments(ByteSource source, DicomTag tag, DicomVR vr)
    {
        var fragments = new DicomFragmentSequence(tag, vr);
        var first = true;
        while (true)
        {
            var itemTag = new DicomTag(source.ReadUInt16(), source.ReadUInt16());
            var length = source.ReadUInt32();
            if (itemTag == DicomTag.SequenceDelimitationItem)
            {
                break;
            }
            if (itemTag != DicomTag.Item || length == UndefinedLength)
            {
                throw new DicomFormatException($"{tag}: malformed encapsulated pixel data at byte {source.Position - 8} ({itemTag}).");
            }
            var element = (DicomElement)ReadValue(source, itemTag, DicomVR.OB, length, explicitVR: true);
            if (first)
            {
                fragments.OffsetTable = element.Buffer;
                first = false;
            }
            else
            {
                fragments.Fragments.Add(element.Buffer);
            }
        }
        return fragments;
    }
}
