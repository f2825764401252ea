using System.Buffers.Binary;
using System.IO.Compression;

namespace MedVision.Dicom.IO;

/// <summary>
/// Writes datasets in any uncompressed transfer syntax. Sequences and items are written with undefined length so no
/// length pass is needed; group lengths other than the meta group's are dropped (retired in PS3.5 7.2).
/// </summary>
public static class DicomWriter
{
    private const uint UndefinedLength = 0xFFFF_FFFF;

    public static void WriteFile(Stream stream, DicomFile file)
    {
        Span<byte> preamble = stackalloc byte[132];
        preamble.Clear();
        "DICM"u8.CopyTo(preamble[128..]);
        stream.Write(preamble);
        WriteFileMetaInfo(stream, file.FileMetaInfo, file.TransferSyntax);
        WriteDataset(stream, file.Dataset, file.TransferSyntax);
    }

    public static void WriteFileMetaInfo(Stream stream, DicomDataset meta, DicomTransferSyntax syntax)
    {
        var body = new MemoryStream();
        var writer = new Writer(body, explicitVR: true, bigEndian: false);
        foreach (var item in meta)
        {
            if (item.Tag.Group != 0x0002 || item.Tag.IsGroupLength)
            {
                continue;
            }
            if (item.Tag == DicomTags.TransferSyntaxUID)
            {
                writer.WriteItem(new DicomElement(item.Tag, DicomVR.UI, new MemoryByteBuffer(PadUid(syntax.Uid))));
                continue;
            }
            writer.WriteItem(item);
        }
        var header = new Writer(stream, explicitVR: true, bigEndian: false);
        var length = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)body.Length);
        header.WriteItem(new DicomElement(new DicomTag(0x0002, 0x0000), DicomVR.UL, new MemoryByteBuffer(length)));
        body.Position = 0;
        body.CopyTo(stream);
    }

    /// <summary>Writes a bare dataset (no preamble or meta), e.g. for a DIMSE data set or after a file meta group.</summary>
    public static void WriteDataset(Stream stream, DicomDataset dataset, DicomTransferSyntax syntax)
    {
        if (syntax.IsDeflated)
        {
            using var deflate = new DeflateStream(stream, CompressionLevel.Optimal, leaveOpen: true);
            WriteItems(new Writer(deflate, true, false), dataset, skipMeta: true);
            return;
        }
        WriteItems(new Writer(stream, syntax.IsExplicitVR, syntax.IsBigEndian), dataset, skipMeta: true);
    }

    private static void WriteItems(Writer writer, DicomDataset dataset, bool skipMeta)
    {
        foreach (var item in dataset)
        {
            if (item.Tag.IsGroupLength || (skipMeta && item.Tag.Group == 0x0002))
            {
                continue;
            }
            writer.WriteItem(item);
        }
    }

    private static byte[] PadUid(string uid)
    {
        var bytes = System.Text.Encoding.ASCII.GetBytes(uid);
        if ((bytes.Length & 1) == 1)
        {
            Array.Resize(ref bytes, bytes.Length + 1);
        }
        return bytes;
    }

    private sealed class Writer(Stream stream, bool explicitVR, bool bigEndian)
    {
        private readonly byte[] _header = new byte[12];

        public void WriteItem(DicomItem item)
        {
            switch (item)
            {
                case DicomElement element:
                    WriteElement(element);
                    break;
                case DicomSequence sequence:
                    WriteHeader(sequence.Tag, DicomVR.SQ, UndefinedLength);
                    foreach (var nested in sequence.Items)
                    {
                        WriteTagLength(DicomTag.Item, UndefinedLength);
                        WriteItems(this, nested, skipMeta: false);
                        WriteTagLength(DicomTag.ItemDelimitationItem, 0);
                    }
                    WriteTagLength(DicomTag.SequenceDelimitationItem, 0);
                    break;
                case DicomFragmentSequence fragments:
                    WriteHeader(fragments.Tag, fragments.VR, UndefinedLength);
                    WriteFragment(fragments.OffsetTable);
                    foreach (var fragment in fragments.Fragments)
                    {
                        WriteFragment(fragment);
                    }
                    WriteTagLength(DicomTag.SequenceDelimitationItem, 0);
                    break;
            }
        }

        private void WriteFragment(IByteBuffer buffer)
        {
            WriteTagLength(DicomTag.Item, (uint)(buffer.Length + (buffer.Length & 1)));
            buffer.CopyTo(stream);
            if ((buffer.Length & 1) == 1)
            {
                stream.WriteByte(0);
            }
        }

        private void WriteElement(DicomElement element)
        {
            var length = element.Length;
            var pad = (length & 1) == 1;
            WriteHeader(element.Tag, element.VR, (uint)(length + (pad ? 1 : 0)));
            var swap = bigEndian ? SwapUnit(element.VR) : 1;
            if (swap == 1)
            {
                element.Buffer.CopyTo(stream);
            }
            else
            {
                var bytes = element.Buffer.GetBytes().ToArray();
                ByteSwap.InPlace(bytes, swap);
                stream.Write(bytes);
            }
            if (pad)
            {
                stream.WriteByte(element.VR.PaddingByte);
            }
        }

        private static int SwapUnit(DicomVR vr) => vr.IsString || vr == DicomVR.OB || vr == DicomVR.UN ? 1 : vr.UnitSize;

        private void WriteHeader(DicomTag tag, DicomVR vr, uint length)
        {
            WriteTag(tag);
            if (!explicitVR)
            {
                WriteUInt32(_header, length);
                stream.Write(_header, 0, 4);
                return;
            }
            _header[0] = (byte)vr.Code[0];
            _header[1] = (byte)vr.Code[1];
            if (vr.HasLongExplicitLength)
            {
                _header[2] = 0;
                _header[3] = 0;
                WriteUInt32(_header.AsSpan(4), length);
                stream.Write(_header, 0, 8);
            }
            else
            {
                if (length > ushort.MaxValue)
                {
                    throw new InvalidOperationException($"{tag} {vr}: value of {length} bytes does not fit a 16-bit length.");
                }
                WriteUInt16(_header.AsSpan(2), (ushort)length);
                stream.Write(_header, 0, 4);
            }
        }

        private void WriteTagLength(DicomTag tag, uint length)
        {
            WriteTag(tag);
            WriteUInt32(_header, length);
            stream.Write(_header, 0, 4);
        }

        private void WriteTag(DicomTag tag)
        {
            Span<byte> b = stackalloc byte[4];
            WriteUInt16(b, tag.Group);
            WriteUInt16(b[2..], tag.Element);
            stream.Write(b);
        }

        private void WriteUInt16(Span<byte> b, ushort v)
        {
            if (bigEndian) BinaryPrimitives.WriteUInt16BigEndian(b, v);
            else BinaryPrimitives.WriteUInt16LittleEndian(b, v);
        }

        private void WriteUInt32(Span<byte> b, uint v)
        {
            if (bigEndian) BinaryPrimitives.WriteUInt32BigEndian(b, v);
            else BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        }
    }
}
