using MedVision.Dicom.Codecs;
using MedVision.Dicom.Imaging;
using MedVision.Dicom.IO;
using MedVision.Testing;

namespace MedVision.Dicom.Tests.Imaging;

/// <summary>
/// No peer encoder here writes restart markers into lossless JPEG, so this test writes such streams itself (a small
/// ITU T.81 Annex H encoder with a DRI segment) and requires dcmtk's dcmdjpeg and our decoder both to return the
/// source pixels: if the encoder were wrong, dcmdjpeg would disagree.
/// </summary>
public sealed class RestartIntervalTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(4, 1)]
    [InlineData(7, 3)]
    [InlineData(6, 0)]
    public async Task Lossless_streams_with_restart_markers_decode_like_dcmtk(int predictor, int rowsPerInterval)
    {
        var source = DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, "CT_small.dcm"), new DicomReadOptions { LargeValueThreshold = long.MaxValue });
        var image = DicomImage.Open(source);
        var samples = image.GetStoredFrame(0).Values.Select(v => (ushort)v).ToArray();
        var stream = LosslessJpegWriter.Encode(samples, image.Columns, image.Rows, 16, predictor, rowsPerInterval * image.Columns);

        var dataset = new DicomDataset(source.Dataset);
        var pixelData = new DicomFragmentSequence(DicomTags.PixelData, DicomVR.OB);
        pixelData.Fragments.Add(new MemoryByteBuffer(stream.Length % 2 == 0 ? stream : [.. stream, 0]));
        dataset.AddOrUpdate(pixelData);
        using var temp = new TempDirectory("medvision-dri");
        var path = temp.Combine("dri.dcm");
        var syntax = DicomTransferSyntax.Parse(DicomCodecUids.JpegLosslessProcess14);
        new DicomFile(DicomFile.CreateFileMetaInfo(
            dataset.GetStringOrDefault(DicomTags.SOPClassUID)!, dataset.GetStringOrDefault(DicomTags.SOPInstanceUID)!, syntax), dataset, syntax).Save(path);

        var reference = await ReferenceDecoder.DecodeAsync(path, syntax.Uid, temp.Path);
        Assert.True(reference.Tool == "dcmdjpeg", reference.Log);
        var theirs = DicomImage.Open(DicomFile.Open(reference.Path!)).GetStoredFrame(0).Values;
        var ours = DicomImage.Open(DicomFile.Open(path)).GetStoredFrame(0).Values;
        var original = image.GetStoredFrame(0).Values;
        Assert.Equal(original, theirs);
        Assert.Equal(original, ours);
    }

    /// <summary>One component, Huffman table for categories 0–16 (4- and 5-bit codes, none all ones).</summary>
    private static class LosslessJpegWriter
    {
        public static byte[] Encode(ushort[] samples, int width, int height, int precision, int predictor, int restartInterval)
        {
            var output = new List<byte> { 0xFF, 0xD8 };
            // SOF3: precision, height, width, 1 component (id 1, sampling 1x1, no quantisation table).
            output.AddRange([0xFF, 0xC3, 0, 11, (byte)precision, (byte)(height >> 8), (byte)height, (byte)(width >> 8), (byte)width, 1, 1, 0x11, 0]);
            var counts = new byte[16];
            counts[3] = 14;
            counts[4] = 3;
            output.AddRange([0xFF, 0xC4, 0, (byte)(2 + 1 + 16 + 17), 0x00]);
            output.AddRange(counts);
            output.AddRange(Enumerable.Range(0, 17).Select(i => (byte)i));
            var codes = new (int Code, int Length)[17];
            var code = 0;
            for (var i = 0; i < 17; i++)
            {
                var length = i < 14 ? 4 : 5;
                if (i == 14)
                {
                    code <<= 1;
                }
                codes[i] = (code++, length);
            }
            if (restartInterval > 0)
            {
                output.AddRange([0xFF, 0xDD, 0, 4, (byte)(restartInterval >> 8), (byte)restartInterval]);
            }
            output.AddRange([0xFF, 0xDA, 0, 8, 1, 1, 0x00, (byte)predictor, 0, 0]);

            var bits = new BitWriter(output);
            var initial = 1 << (precision - 1);
            var left = restartInterval;
            var restartRow = 0;
            var marker = 0;
            for (var y = 0; y < height; y++)
            {
                for (var x = 0; x < width; x++)
                {
                    if (restartInterval > 0 && left == 0)
                    {
                        bits.Flush();
                        output.AddRange([0xFF, (byte)(0xD0 + marker)]);
                        marker = (marker + 1) & 7;
                        left = restartInterval;
                        restartRow = y;
                    }
                    left--;
                    var i = y * width + x;
                    int prediction;
                    if (y == restartRow)
                    {
                        prediction = x == 0 ? initial : samples[i - 1];
                    }
                    else if (x == 0)
                    {
                        prediction = samples[i - width];
                    }
                    else
                    {
                        int ra = samples[i - 1], rb = samples[i - width], rc = samples[i - width - 1];
                        prediction = predictor switch
                        {
                            1 => ra, 2 => rb, 3 => rc, 4 => ra + rb - rc, 5 => ra + ((rb - rc) >> 1), 6 => rb + ((ra - rc) >> 1), _ => (ra + rb) >> 1,
                        };
                    }
                    var difference = (samples[i] - prediction) & 0xFFFF;
                    if (difference > 32768)
                    {
                        difference -= 65536;
                    }
                    var magnitude = Math.Abs(difference);
                    var category = magnitude == 0 ? 0 : 32 - int.LeadingZeroCount(magnitude);
                    bits.Write(codes[category].Code, codes[category].Length);
                    if (category is > 0 and < 16)
                    {
                        bits.Write(difference < 0 ? difference + (1 << category) - 1 : difference, category);
                    }
                }
            }
            bits.Flush();
            output.AddRange([0xFF, 0xD9]);
            return [.. output];
        }

        private sealed class BitWriter(List<byte> output)
        {
            private int _buffer;
            private int _count;

            public void Write(int value, int length)
            {
                for (var b = length - 1; b >= 0; b--)
                {
                    _buffer = (_buffer << 1) | ((value >> b) & 1);
                    if (++_count == 8)
                    {
                        Emit();
                    }
                }
            }

            /// <summary>Pads the last byte with 1-bits (T.81 F.1.2.3).</summary>
            public void Flush()
            {
                while (_count != 0)
                {
                    Write(1, 1);
                }
            }

            private void Emit()
            {
                output.Add((byte)_buffer);
                if (_buffer == 0xFF)
                {
                    output.Add(0);
                }
                _buffer = 0;
                _count = 0;
            }
        }
    }
}
