using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace MedVision.Dicom.Codecs;

/// <summary>
/// JPEG lossless, non-hierarchical (ITU T.81 Annex H; DICOM processes 14 and 14 SV1): Huffman-coded differences
/// from predictors 1–7, any point transform, 2–16 bits, any number of scans and restart intervals.
/// </summary>
public sealed class JpegLosslessCodec : IDicomCodec
{
    public string Name => "JPEG Lossless (managed)";

    public IReadOnlyCollection<string> TransferSyntaxUids { get; } =
        [DicomCodecUids.JpegLosslessProcess14, DicomCodecUids.JpegLosslessSV1];

    public DecodedFrame Decode(ReadOnlySpan<byte> encodedFrame, FrameInfo info)
    {
        var decoder = new LosslessDecoder(info.TransferSyntaxUid);
        var planes = decoder.Decode(encodedFrame);
        if (decoder.Width != info.Columns || decoder.Height != info.Rows || planes.Length != info.SamplesPerPixel)
        {
            throw new DicomCodecException($"The JPEG stream is {decoder.Width}x{decoder.Height} with {planes.Length} components; the dataset says {info.Columns}x{info.Rows} with {info.SamplesPerPixel}.", info.TransferSyntaxUid);
        }
        if (decoder.Precision > info.BytesPerSample * 8)
        {
            throw new DicomCodecException($"The JPEG stream has {decoder.Precision}-bit samples; the dataset allocates {info.BitsAllocated} bits.", info.TransferSyntaxUid);
        }
        var output = info.AllocateFrame();
        var pixels = (int)info.Pixels;
        var components = planes.Length;
        var bytes = info.BytesPerSample;
        for (var c = 0; c < components; c++)
        {
            var plane = planes[c];
            for (var p = 0; p < pixels; p++)
            {
                var index = (p * components + c) * bytes;
                var v = plane[p];
                output[index] = (byte)v;
                if (bytes > 1)
                {
                    output[index + 1] = (byte)(v >> 8);
                }
            }
        }
        return new DecodedFrame(output, info.PhotometricInterpretation, 0);
    }

    private sealed class LosslessDecoder(string transferSyntaxUid)
    {
        private readonly JpegHuffmanTable?[] _tables = new JpegHuffmanTable?[4];
        private int[] _componentIds = [];
        private ushort[][] _planes = [];
        private int _restartInterval;

        public int Width { get; private set; }
        public int Height { get; private set; }
        public int Precision { get; private set; }

        public ushort[][] Decode(ReadOnlySpan<byte> data)
        {
            if (data.Length < 4 || data[0] != 0xFF || data[1] != 0xD8)
            {
                throw Error("The frame is not a JPEG stream (no SOI marker).");
            }
            var pos = 2;
            var scans = 0;
            while (pos + 1 < data.Length)
            {
                if (data[pos] != 0xFF)
                {
                    pos++;
                    continue;
                }
                var marker = data[pos + 1];
                pos += 2;
                if (marker is 0xFF or 0x00 or 0x01 or (>= 0xD0 and <= 0xD7))
                {
                    if (marker == 0xFF)
                    {
                        pos--;
                    }
                    continue;
                }
                if (marker == 0xD9)
                {
                    break;
                }
                if (pos + 2 > data.Length)
                {
                    throw Error("The JPEG stream ends inside a marker segment.");
                }
                var length = BinaryPrimitives.ReadUInt16BigEndian(data[pos..]);
                if (length < 2 || pos + length > data.Length)
                {
                    throw Error($"JPEG marker FF{marker:X2} claims {length} bytes; the stream ends first.");
                }
                var segment = data.Slice(pos + 2, length - 2);
                pos += length;
                switch (marker)
                {
                    case 0xC4:
                        ReadJpegHuffmanTables(segment);
                        break;
                    case 0xDD:
                        _restartInterval = segment.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(segment) : 0;
                        break;
                    case 0xC3:
                        ReadFrame(segment);
                        break;
                    case 0xDA:
                        pos = DecodeScan(data, segment, pos);
                        scans++;
                        break;
                    case 0xDC:
                        if (segment.Length >= 2 && Height == 0)
                        {
                            SetHeight(BinaryPrimitives.ReadUInt16BigEndian(segment));
                        }
                        break;
                    case >= 0xC0 and <= 0xCF when marker is not (0xC4 or 0xC8 or 0xCC):
                        throw Error($"JPEG process SOF{marker - 0xC0} is not lossless Huffman (SOF3); this decoder handles DICOM processes 14 and 14 SV1 only.");
                }
            }
            if (scans == 0 || _planes.Length == 0)
            {
                throw Error("The JPEG stream has no scan.");
            }
            return _planes;
        }

        private DicomCodecException Error(string message) => new(message, transferSyntaxUid);

        private void ReadJpegHuffmanTables(ReadOnlySpan<byte> segment)
        {
            var pos = 0;
            while (pos + 17 <= segment.Length)
            {
                var tableClass = segment[pos] >> 4;
                var id = segment[pos] & 0x0F;
                var counts = segment.Slice(pos + 1, 16);
                var total = 0;
                foreach (var c in counts)
                {
                    total += c;
                }
                if (id > 3 || pos + 17 + total > segment.Length || total > 256)
                {
                    throw Error("A JPEG Huffman table (DHT) is malformed.");
                }
                if (tableClass == 0)
                {
                    _tables[id] = new JpegHuffmanTable(counts, segment.Slice(pos + 17, total));
                }
                pos += 17 + total;
            }
        }

        private void ReadFrame(ReadOnlySpan<byte> segment)
        {
            if (segment.Length < 6)
            {
                throw Error("The JPEG frame header (SOF3) is truncated.");
            }
            Precision = segment[0];
            Width = BinaryPrimitives.ReadUInt16BigEndian(segment[3..]);
            var components = segment[5];
            if (Precision is < 2 or > 16 || components is < 1 or > 4 || segment.Length < 6 + 3 * components || Width == 0)
            {
                throw Error($"Unsupported JPEG lossless frame: {Precision} bits, {components} components, width {Width}.");
            }
            _componentIds = new int[components];
            for (var c = 0; c < components; c++)
            {
                _componentIds[c] = segment[6 + 3 * c];
                var sampling = segment[7 + 3 * c];
                if (components > 1 && sampling != 0x11)
                {
                    throw Error("Subsampled JPEG lossless components are not supported.");
                }
            }
            var height = BinaryPrimitives.ReadUInt16BigEndian(segment[1..]);
            if (height > 0)
            {
                SetHeight(height);
            }
        }

        private void SetHeight(int height)
        {
            Height = height;
            if ((long)Width * Height > Array.MaxLength)
            {
                throw Error($"A {Width}x{Height} JPEG frame is too large.");
            }
            _planes = new ushort[_componentIds.Length][];
            for (var c = 0; c < _planes.Length; c++)
            {
                _planes[c] = new ushort[Width * Height];
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static int ReadDifference(JpegHuffmanTable table, ref JpegBitReader reader)
        {
            var category = table.Decode(ref reader);
            if (category == 0)
            {
                return 0;
            }
            if (category >= 16)
            {
                return 32768;
            }
            var difference = reader.GetBits(category);
            return difference < 1 << (category - 1) ? difference + 1 - (1 << category) : difference;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static int Predict(int predictor, int ra, int rb, int rc) => predictor switch
        {
            1 => ra,
            2 => rb,
            3 => rc,
            4 => ra + rb - rc,
            5 => ra + ((rb - rc) >> 1),
            6 => rb + ((ra - rc) >> 1),
            _ => (ra + rb) >> 1,
        };

        /// <summary>No restart markers: row 0 predicts from the left, column 0 from above, the rest by the selector (H.1.2.1).</summary>
        private void DecodeRows(ref JpegBitReader reader, ushort[][] planes, JpegHuffmanTable[] tables, int predictor, int initial)
        {
            var width = Width;
            var count = planes.Length;
            for (var c = 0; c < count; c++)
            {
                planes[c][0] = (ushort)(initial + ReadDifference(tables[c], ref reader));
            }
            for (var x = 1; x < width; x++)
            {
                for (var c = 0; c < count; c++)
                {
                    var plane = planes[c];
                    plane[x] = (ushort)(plane[x - 1] + ReadDifference(tables[c], ref reader));
                }
            }
            for (var y = 1; y < Height; y++)
            {
                var row = y * width;
                var up = row - width;
                for (var c = 0; c < count; c++)
                {
                    var plane = planes[c];
                    plane[row] = (ushort)(plane[up] + ReadDifference(tables[c], ref reader));
                }
                if (count == 1)
                {
                    var plane = planes[0].AsSpan(up, 2 * width);
                    var table = tables[0];
                    for (var x = 1; x < width; x++)
                    {
                        var prediction = Predict(predictor, plane[width + x - 1], plane[x], plane[x - 1]);
                        plane[width + x] = (ushort)(prediction + ReadDifference(table, ref reader));
                    }
                    continue;
                }
                for (var x = 1; x < width; x++)
                {
                    var i = row + x;
                    for (var c = 0; c < count; c++)
                    {
                        var plane = planes[c];
                        var prediction = Predict(predictor, plane[i - 1], plane[i - width], plane[i - width - 1]);
                        plane[i] = (ushort)(prediction + ReadDifference(tables[c], ref reader));
                    }
                }
            }
        }

        /// <summary>
        /// With a restart interval, the first line of each interval (from the restart point to the end of that row)
        /// predicts like the first line of the scan (H.1.2.1), and the decoder resynchronises at each RSTn marker.
        /// </summary>
        private void DecodeRowsWithRestarts(ref JpegBitReader reader, ushort[][] planes, JpegHuffmanTable[] tables, int predictor, int initial)
        {
            var width = Width;
            var count = planes.Length;
            var restartLeft = _restartInterval;
            var firstLine = true;
            var restartColumn = 0;
            var restartRow = 0;
            for (var y = 0; y < Height; y++)
            {
                var row = y * width;
                for (var x = 0; x < width; x++)
                {
                    if (restartLeft == 0)
                    {
                        reader.Restart();
                        restartLeft = _restartInterval;
                        firstLine = true;
                        restartColumn = x;
                        restartRow = y;
                    }
                    restartLeft--;
                    if (firstLine && x == 0 && y > restartRow)
                    {
                        firstLine = false;
                    }
                    for (var c = 0; c < count; c++)
                    {
                        var plane = planes[c];
                        int prediction;
                        if (firstLine)
                        {
                            prediction = x == restartColumn && y == restartRow ? initial : plane[row + x - 1];
                        }
                        else if (x == 0)
                        {
                            prediction = plane[row - width];
                        }
                        else
                        {
                            prediction = Predict(predictor, plane[row + x - 1], plane[row - width + x], plane[row - width + x - 1]);
                        }
                        plane[row + x] = (ushort)(prediction + ReadDifference(tables[c], ref reader));
                    }
                }
            }
        }

        private int DecodeScan(ReadOnlySpan<byte> data, ReadOnlySpan<byte> header, int start)
        {
            if (Height == 0)
            {
                throw Error("JPEG streams whose height comes in a DNL marker are not supported.");
            }
            var count = header.Length > 0 ? header[0] : 0;
            if (count < 1 || header.Length < 1 + 2 * count + 3)
            {
                throw Error("The JPEG scan header (SOS) is malformed.");
            }
            var planes = new ushort[count][];
            var tables = new JpegHuffmanTable[count];
            for (var i = 0; i < count; i++)
            {
                var index = Array.IndexOf(_componentIds, header[1 + 2 * i]);
                var table = header[2 + 2 * i] >> 4;
                if (index < 0 || table > 3 || _tables[table] is null)
                {
                    throw Error($"JPEG scan refers to component {header[1 + 2 * i]} or Huffman table {table} that is not defined.");
                }
                planes[i] = _planes[index];
                tables[i] = _tables[table]!;
            }
            var predictor = header[1 + 2 * count];
            var pointTransform = header[3 + 2 * count] & 0x0F;
            if (predictor is < 1 or > 7)
            {
                throw Error($"JPEG lossless predictor {predictor} is not defined for non-hierarchical streams (1–7).");
            }
            if (pointTransform >= Precision)
            {
                throw Error($"JPEG point transform {pointTransform} is not below the precision {Precision}.");
            }

            var reader = new JpegBitReader(data, start);
            var initial = 1 << (Precision - pointTransform - 1);
            if (_restartInterval == 0)
            {
                DecodeRows(ref reader, planes, tables, predictor, initial);
            }
            else
            {
                DecodeRowsWithRestarts(ref reader, planes, tables, predictor, initial);
            }
            if (pointTransform > 0)
            {
                foreach (var plane in planes)
                {
                    for (var i = 0; i < plane.Length; i++)
                    {
                        plane[i] = (ushort)(plane[i] << pointTransform);
                    }
                }
            }
            // Resume marker parsing after the entropy-coded data.
            var pos = reader.Position;
            while (pos + 1 < data.Length && !(data[pos] == 0xFF && data[pos + 1] is not 0x00 and not (>= 0xD0 and <= 0xD7)))
            {
                pos++;
            }
            return pos;
        }
    }
}
