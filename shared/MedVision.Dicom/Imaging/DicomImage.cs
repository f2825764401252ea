using System.Buffers.Binary;
using MedVision.Dicom.Codecs;

namespace MedVision.Dicom.Imaging;

/// <summary>
/// The pixel pipeline of one image (PS3.3 C.7.6.3, C.11): decoding (native or through a codec), stored values
/// (bits stored, high bit, sign), colour (planar configuration, YBR, palette), modality LUT, VOI LUT, overlays and
/// 8-bit / PNG rendering. Not thread-safe for one instance (it caches the native pixel data); make one per thread.
/// </summary>
public sealed class DicomImage
{
    private readonly DicomDataset _dataset;
    private readonly DicomCodecRegistry _codecs;
    private readonly DicomImageOptions _options;
    private ReadOnlyMemory<byte>? _nativePixelData;

    public DicomImage(DicomDataset dataset, DicomTransferSyntax syntax, DicomCodecRegistry? codecs = null, DicomImageOptions? options = null)
    {
        _dataset = dataset;
        _codecs = codecs ?? DicomCodecRegistry.Default;
        _options = options ?? DicomImageOptions.Default;
        TransferSyntax = syntax;
        Rows = dataset.GetIntOrDefault(DicomTags.Rows, 0);
        Columns = dataset.GetIntOrDefault(DicomTags.Columns, 0);
        BitsAllocated = dataset.GetIntOrDefault(DicomTags.BitsAllocated, 0);
        BitsStored = dataset.GetIntOrDefault(DicomTags.BitsStored, BitsAllocated);
        HighBit = dataset.GetIntOrDefault(DicomTags.HighBit, BitsStored - 1);
        PixelRepresentation = dataset.GetIntOrDefault(DicomTags.PixelRepresentation, 0);
        SamplesPerPixel = dataset.GetIntOrDefault(DicomTags.SamplesPerPixel, 1);
        PlanarConfiguration = dataset.GetIntOrDefault(DicomTags.PlanarConfiguration, 0);
        NumberOfFrames = Math.Max(1, dataset.GetIntOrDefault(DicomTags.NumberOfFrames, 1));
        PhotometricInterpretation = (dataset.GetStringOrDefault(DicomTags.PhotometricInterpretation) ?? (SamplesPerPixel == 3 ? "RGB" : "MONOCHROME2")).Trim().ToUpperInvariant();
        if (BitsStored <= 0 || BitsStored > BitsAllocated)
        {
            BitsStored = BitsAllocated;
        }
        if (HighBit < BitsStored - 1 || HighBit >= BitsAllocated)
        {
            HighBit = BitsStored - 1;
        }
    }

    public static DicomImage Open(DicomFile file, DicomCodecRegistry? codecs = null, DicomImageOptions? options = null) =>
        new(file.Dataset, file.TransferSyntax, codecs, options);

    public DicomTransferSyntax TransferSyntax { get; }
    public int Rows { get; }
    public int Columns { get; }
    public int BitsAllocated { get; }
    public int BitsStored { get; }
    public int HighBit { get; }
    public int PixelRepresentation { get; }
    public int SamplesPerPixel { get; }
    public int PlanarConfiguration { get; }
    public int NumberOfFrames { get; }
    public string PhotometricInterpretation { get; }

    public bool IsSigned => PixelRepresentation == 1;

    /// <summary>Colour images render to RGB, the rest to grey.</summary>
    public bool IsColor => SamplesPerPixel > 1 || PhotometricInterpretation == "PALETTE COLOR";

    private bool IsSubsampled422 => SamplesPerPixel == 3 && PhotometricInterpretation is "YBR_FULL_422" or "YBR_PARTIAL_422";

    /// <summary>One frame in native form: the codec's output, or the frame's bytes of uncompressed pixel data.</summary>
    public DecodedFrame DecodeFrame(int frame)
    {
        ValidateGeometry();
        CheckFrame(frame);
        var item = _dataset[DicomTags.PixelData] ?? throw new DicomFormatException("The dataset has no Pixel Data (7FE0,0010).");
        if (item is DicomFragmentSequence fragments)
        {
            var codec = _codecs.GetCodec(TransferSyntax);
            var info = new FrameInfo(Rows, Columns, SamplesPerPixel, BitsAllocated, BitsStored, PixelRepresentation, PlanarConfiguration, PhotometricInterpretation, TransferSyntax.Uid);
            if (info.FrameBytes > _options.MaxFrameBytes)
            {
                throw new DicomCodecException($"A {Columns}x{Rows} frame of {SamplesPerPixel} x {BitsAllocated} bits ({info.FrameBytes} bytes) exceeds the limit of {_options.MaxFrameBytes} bytes.", TransferSyntax.Uid);
            }
            var encoded = EncapsulatedFrames.GetFrame(_dataset, fragments, frame, NumberOfFrames);
            var decoded = codec.Decode(encoded, info);
            if (decoded.Data.Length < info.FrameBytes)
            {
                throw new DicomCodecException($"{codec.Name} returned {decoded.Data.Length} bytes for a {info.FrameBytes}-byte frame.", TransferSyntax.Uid);
            }
            return decoded;
        }
        if (TransferSyntax.IsEncapsulated)
        {
            throw new DicomCodecException($"{TransferSyntax.Name} requires encapsulated pixel data, but Pixel Data is a plain value.", TransferSyntax.Uid);
        }
        return new DecodedFrame(NativeFrameBytes(frame), PhotometricInterpretation, PlanarConfiguration);
    }

    /// <summary>Stored values of one frame, colour-by-pixel, in the colour space the decoder produced.</summary>
    public PixelFrame GetStoredFrame(int frame)
    {
        var decoded = DecodeFrame(frame);
        var compressed = _dataset[DicomTags.PixelData] is DicomFragmentSequence;
        var pixels = Rows * Columns;
        var samples = SamplesPerPixel;
        var values = new int[pixels * samples];
        var data = decoded.Data;

        // Decoders return values aligned at bit 0; native data keeps them at HighBit (PS3.5 8.1.1).
        var shift = compressed ? 0 : HighBit + 1 - BitsStored;
        var mask = BitsStored >= 32 ? uint.MaxValue : (1u << BitsStored) - 1;
        var signBit = 1u << (BitsStored - 1);
        var planar = samples > 1 && decoded.PlanarConfiguration == 1;
        var photometric = decoded.PhotometricInterpretation;

        if (!compressed && IsSubsampled422)
        {
            ExpandYbr422(data, values);
        }
        else
        {
            for (var i = 0; i < values.Length; i++)
            {
                var source = planar ? (i % samples) * pixels + i / samples : i;
                var raw = RawSample(data, source) >> shift;
                var v = raw & mask;
                if (IsSigned && BitsStored < 32 && (v & signBit) != 0)
                {
                    v |= ~mask;
                }
                values[i] = (int)v;
            }
        }
        return new PixelFrame(Columns, Rows, samples, values, photometric, BitsStored);
    }

    /// <summary>
    /// A colour frame as RGB values: YBR converted, PALETTE COLOR looked up. <see cref="PixelFrame.BitsStored"/> is the
    /// depth of the result (the palette's entry size for palette images).
    /// </summary>
    public PixelFrame GetRgbFrame(int frame)
    {
        if (!IsColor)
        {
            throw new InvalidOperationException($"{PhotometricInterpretation} is not a colour image.");
        }
        var stored = GetStoredFrame(frame);
        if (PhotometricInterpretation == "PALETTE COLOR")
        {
            return ApplyPalette(stored);
        }
        if (stored.SamplesPerPixel != 3)
        {
            throw new DicomCodecException($"{stored.SamplesPerPixel} samples per pixel in {stored.PhotometricInterpretation} cannot be shown as RGB.");
        }
        var values = stored.Values;
        switch (stored.PhotometricInterpretation)
        {
            case "RGB":
                break;
            case "YBR_FULL" or "YBR_FULL_422":
                ColorConversion.YbrFullToRgb(values, BitsStored);
                break;
            case "YBR_PARTIAL_422" or "YBR_PARTIAL_420":
                ColorConversion.YbrPartialToRgb(values, BitsStored);
                break;
            default:
                throw new DicomCodecException($"Photometric interpretation {stored.PhotometricInterpretation} is not supported for display.");
        }
        return stored with { PhotometricInterpretation = "RGB" };
    }

    /// <summary>Single-channel values after the modality LUT; colour images give their luminance (BT.601 weights).</summary>
    public ModalityFrame GetModalityFrame(int frame)
    {
        var pixels = Rows * Columns;
        var result = new float[pixels];
        if (IsColor)
        {
            var rgb = GetRgbFrame(frame).Values;
            for (var i = 0; i < pixels; i++)
            {
                result[i] = (float)(0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2]);
            }
            return new ModalityFrame(Columns, Rows, result, "MONOCHROME2");
        }
        var stored = GetStoredFrame(frame).Values;
        var modality = ModalityLut.For(_dataset, frame, IsSigned);
        var unsigned32 = !IsSigned && BitsStored == 32;
        for (var i = 0; i < pixels; i++)
        {
            result[i] = (float)(unsigned32 ? (uint)stored[i] * modality.Slope + modality.Intercept : modality.Apply(stored[i]));
        }
        return new ModalityFrame(Columns, Rows, result, PhotometricInterpretation == "MONOCHROME1" ? "MONOCHROME1" : "MONOCHROME2");
    }

    /// <summary>
    /// 8-bit rendering: grey images through modality LUT, VOI (the options' window, else the dataset's first window or
    /// VOI LUT, else the frame's min–max) and MONOCHROME1 inversion; colour images as RGB scaled to 8 bits.
    /// </summary>
    public RenderedImage Render(int frame, RenderOptions? options = null)
    {
        options ??= new RenderOptions();
        var pixels = Rows * Columns;
        if (IsColor)
        {
            var rgb = GetRgbFrame(frame);
            var shift = Math.Max(0, rgb.BitsStored - 8);
            var output = new byte[pixels * 3];
            for (var i = 0; i < output.Length; i++)
            {
                output[i] = (byte)Math.Clamp(rgb.Values[i] >> shift, 0, 255);
            }
            return new RenderedImage(Columns, Rows, 3, output);
        }

        var modality = GetModalityFrame(frame).Values;
        VoiLut voi;
        if (options.WindowCenter is { } center && options.WindowWidth is { } width)
        {
            voi = VoiLut.Window(center, width);
        }
        else
        {
            voi = VoiLut.FromDataset(_dataset, frame, IsSigned || modality.Any(v => v < 0)) ?? MinMax(modality);
        }
        var gray = new byte[pixels];
        var invert = PhotometricInterpretation == "MONOCHROME1";
        for (var i = 0; i < pixels; i++)
        {
            gray[i] = voi.Apply(modality[i], invert);
        }
        if (options.BurnInOverlays)
        {
            foreach (var overlay in GetOverlays(frame))
            {
                for (var y = 0; y < Rows; y++)
                {
                    for (var x = 0; x < Columns; x++)
                    {
                        if (overlay.Covers(x, y))
                        {
                            gray[y * Columns + x] = 255;
                        }
                    }
                }
            }
        }
        return new RenderedImage(Columns, Rows, 1, gray);
    }

    /// <summary>The frame rendered (see <see cref="Render"/>) and encoded as PNG.</summary>
    public byte[] RenderPng(int frame, RenderOptions? options = null)
    {
        using var buffer = new MemoryStream();
        RenderPng(buffer, frame, options);
        return buffer.ToArray();
    }

    public void RenderPng(Stream destination, int frame, RenderOptions? options = null)
    {
        var image = Render(frame, options);
        PngWriter.Write(destination, image.Width, image.Height, image.Channels, image.Pixels);
    }

    /// <summary>The overlay planes (groups 6000–601E) that apply to a frame, from Overlay Data or, in old files, from unused pixel bits.</summary>
    public IReadOnlyList<OverlayPlane> GetOverlays(int frame)
    {
        CheckFrame(frame);
        var planes = new List<OverlayPlane>();
        for (ushort group = 0x6000; group <= 0x601E; group += 2)
        {
            var rows = _dataset.GetIntOrDefault(new DicomTag(group, 0x0010), 0);
            var columns = _dataset.GetIntOrDefault(new DicomTag(group, 0x0011), 0);
            if (rows <= 0 || columns <= 0)
            {
                continue;
            }
            var framesInOverlay = Math.Max(1, _dataset.GetIntOrDefault(new DicomTag(group, 0x0015), 1));
            var firstFrame = Math.Max(1, _dataset.GetIntOrDefault(new DicomTag(group, 0x0051), 1)) - 1;
            var overlayFrame = frame - firstFrame;
            if (overlayFrame < 0 || overlayFrame >= framesInOverlay)
            {
                continue;
            }
            var originRow = _dataset.TryGetNumber(new DicomTag(group, 0x0050), 0, out var r) ? (int)r : 1;
            var originColumn = _dataset.TryGetNumber(new DicomTag(group, 0x0050), 1, out var c) ? (int)c : 1;
            var type = _dataset.GetStringOrDefault(new DicomTag(group, 0x0040)) ?? "G";
            var description = _dataset.GetStringOrDefault(new DicomTag(group, 0x0022));
            var bits = rows * columns;
            var mask = new byte[bits];
            if (_dataset.TryGetElement(new DicomTag(group, 0x3000), out var data))
            {
                var bytes = data.Buffer.GetBytes().Span;
                var start = (long)overlayFrame * bits;
                if ((start + bits + 7) / 8 > bytes.Length)
                {
                    throw new DicomFormatException($"Overlay ({group:X4},3000) holds {bytes.Length} bytes; frame {overlayFrame} of {rows}x{columns} needs more.");
                }
                for (var i = 0; i < bits; i++)
                {
                    var bit = start + i;
                    mask[i] = (byte)((bytes[(int)(bit >> 3)] >> (int)(bit & 7)) & 1);
                }
            }
            else
            {
                var position = _dataset.GetIntOrDefault(new DicomTag(group, 0x0102), -1);
                if (position <= HighBit || position >= BitsAllocated || rows != Rows || columns != Columns || _dataset[DicomTags.PixelData] is not DicomElement)
                {
                    continue;
                }
                // Retired embedded overlay: a bit of the pixel cell above the stored bits (PS3.5 8.1.2 of 2004).
                var raw = NativeFrameBytes(frame);
                for (var i = 0; i < bits; i++)
                {
                    mask[i] = (byte)((RawSample(raw, i) >> position) & 1);
                }
            }
            planes.Add(new OverlayPlane(group, rows, columns, originRow, originColumn, type, description, mask));
        }
        return planes;
    }

    private static VoiLut MinMax(float[] values)
    {
        if (values.Length == 0)
        {
            return VoiLut.MinMax(0, 0);
        }
        float min = values[0], max = values[0];
        foreach (var v in values)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }
        return VoiLut.MinMax(min, max);
    }

    private PixelFrame ApplyPalette(PixelFrame stored)
    {
        if (_dataset.Contains(DicomTags.SegmentedRedPaletteColorLookupTableData))
        {
            throw new DicomCodecException("Segmented palette colour LUTs (0028,1221-1223) are not supported.");
        }
        var red = LookupTable.Read(_dataset, DicomTags.RedPaletteColorLookupTableDescriptor, DicomTags.RedPaletteColorLookupTableData, IsSigned, "red palette");
        var green = LookupTable.Read(_dataset, DicomTags.GreenPaletteColorLookupTableDescriptor, DicomTags.GreenPaletteColorLookupTableData, IsSigned, "green palette");
        var blue = LookupTable.Read(_dataset, DicomTags.BluePaletteColorLookupTableDescriptor, DicomTags.BluePaletteColorLookupTableData, IsSigned, "blue palette");
        var pixels = stored.Pixels;
        var rgb = new int[pixels * 3];
        var max = 0;
        for (var i = 0; i < pixels; i++)
        {
            var index = stored.Values[i];
            rgb[3 * i] = red[index];
            rgb[3 * i + 1] = green[index];
            rgb[3 * i + 2] = blue[index];
            max = Math.Max(max, Math.Max(rgb[3 * i], Math.Max(rgb[3 * i + 1], rgb[3 * i + 2])));
        }
        // Some writers declare 16-bit entries but store 8-bit values; dcmtk reads those as 8-bit, and so do we.
        var bits = red.BitsPerEntry == 16 && max <= 255 ? 8 : Math.Clamp(red.BitsPerEntry, 8, 16);
        return new PixelFrame(stored.Width, stored.Height, 3, rgb, "RGB", bits);
    }

    private void ValidateGeometry()
    {
        if (Rows <= 0 || Columns <= 0 || BitsAllocated is not (1 or 8 or 16 or 32) || SamplesPerPixel is not (1 or 3 or 4))
        {
            throw new DicomFormatException($"Unsupported or missing image geometry: {Rows}x{Columns}, {SamplesPerPixel} samples, {BitsAllocated} bits allocated.");
        }
        if ((BitsAllocated == 1 && SamplesPerPixel != 1) || (IsSubsampled422 && Columns % 2 != 0))
        {
            throw new DicomFormatException($"{BitsAllocated}-bit {PhotometricInterpretation} with {SamplesPerPixel} samples and {Columns} columns is not a valid layout.");
        }
    }

    private void CheckFrame(int frame)
    {
        if (frame < 0 || frame >= NumberOfFrames)
        {
            throw new ArgumentOutOfRangeException(nameof(frame), $"Frame {frame} of {NumberOfFrames}.");
        }
    }

    /// <summary>The bytes of one uncompressed frame; 1-bit frames come unpacked to one byte per pixel.</summary>
    private byte[] NativeFrameBytes(int frame)
    {
        var all = NativePixelData();
        var pixels = (long)Rows * Columns;
        if (BitsAllocated == 1)
        {
            var firstBit = pixels * frame;
            if ((firstBit + pixels + 7) / 8 > all.Length)
            {
                throw new DicomFormatException($"Pixel data holds {all.Length} bytes; 1-bit frame {frame} needs {(firstBit + pixels + 7) / 8}.");
            }
            var unpacked = new byte[pixels];
            var span = all.Span;
            for (long i = 0; i < pixels; i++)
            {
                var bit = firstBit + i;
                unpacked[i] = (byte)((span[(int)(bit >> 3)] >> (int)(bit & 7)) & 1);
            }
            return unpacked;
        }
        var samplesPerFrame = IsSubsampled422 ? pixels * 2 : pixels * SamplesPerPixel;
        var frameBytes = samplesPerFrame * (BitsAllocated / 8);
        if (frameBytes > _options.MaxFrameBytes)
        {
            throw new DicomFormatException($"A frame of {frameBytes} bytes exceeds the limit of {_options.MaxFrameBytes} bytes.");
        }
        if (all.Length < frameBytes * (frame + 1))
        {
            throw new DicomFormatException($"Pixel data holds {all.Length} bytes; frame {frame} needs {frameBytes * (frame + 1)}.");
        }
        return all.Slice((int)(frameBytes * frame), (int)frameBytes).ToArray();
    }

    private ReadOnlyMemory<byte> NativePixelData()
    {
        if (_nativePixelData is { } cached)
        {
            return cached;
        }
        if (!_dataset.TryGetElement(DicomTags.PixelData, out var element))
        {
            throw new DicomFormatException("The dataset has no native Pixel Data (7FE0,0010).");
        }
        var bytes = element.Buffer.GetBytes();
        if (TransferSyntax.IsBigEndian && BitsAllocated == 32 && element.VR == DicomVR.OW)
        {
            // The reader swapped OW as 16-bit words; 32-bit samples also need their two halves exchanged.
            var copy = bytes.ToArray();
            for (var i = 0; i + 3 < copy.Length; i += 4)
            {
                (copy[i], copy[i + 1], copy[i + 2], copy[i + 3]) = (copy[i + 2], copy[i + 3], copy[i], copy[i + 1]);
            }
            bytes = copy;
        }
        _nativePixelData = bytes;
        return bytes;
    }

    /// <summary>Sample <paramref name="index"/> of native little-endian data (1-bit data is already one byte a pixel).</summary>
    private uint RawSample(ReadOnlySpan<byte> data, int index) => BitsAllocated switch
    {
        1 or 8 => data[index],
        16 => BinaryPrimitives.ReadUInt16LittleEndian(data[(index * 2)..]),
        _ => BinaryPrimitives.ReadUInt32LittleEndian(data[(index * 4)..]),
    };

    /// <summary>Native YBR_*_422: each pair of pixels is Y1 Y2 Cb Cr (PS3.3 C.7.6.3.1.2); expands to full YBR per pixel.</summary>
    private void ExpandYbr422(ReadOnlySpan<byte> data, int[] values)
    {
        var mask = BitsStored >= 32 ? uint.MaxValue : (1u << BitsStored) - 1;
        var shift = HighBit + 1 - BitsStored;
        var pairs = Rows * Columns / 2;
        for (var p = 0; p < pairs; p++)
        {
            var y1 = (int)((RawSample(data, 4 * p) >> shift) & mask);
            var y2 = (int)((RawSample(data, 4 * p + 1) >> shift) & mask);
            var cb = (int)((RawSample(data, 4 * p + 2) >> shift) & mask);
            var cr = (int)((RawSample(data, 4 * p + 3) >> shift) & mask);
            var o = 6 * p;
            (values[o], values[o + 1], values[o + 2]) = (y1, cb, cr);
            (values[o + 3], values[o + 4], values[o + 5]) = (y2, cb, cr);
        }
    }
}
