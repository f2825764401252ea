using System.Buffers.Binary;
using MedVision.Dicom.Codecs.Native;
using System.Runtime.InteropServices;

namespace MedVision.Dicom.Codecs;

/// <summary>
/// JPEG baseline and extended (processes 1 and 2/4) through libjpeg-turbo. YCbCr streams decode to RGB. A 3-component
/// stream that the dataset calls RGB and that carries neither a JFIF marker nor an Adobe marker asking for a colour
/// transform is taken as RGB as coded: libjpeg would otherwise guess YCbCr and shift every colour.
/// Debian's libturbojpeg0 (2.1) decodes 8-bit samples only; 12-bit sequential greyscale (process 4) goes to a managed
/// decoder (<see cref="JpegDct12Decoder"/>), other 12-bit streams are refused.
/// </summary>
public sealed class JpegTurboCodec : IDicomCodec
{
    private readonly JpegLosslessCodec _lossless = new();

    public string Name => "JPEG baseline/extended (libjpeg-turbo)";

    public IReadOnlyCollection<string> TransferSyntaxUids { get; } =
        [DicomCodecUids.JpegBaseline8Bit, DicomCodecUids.JpegExtended12Bit];

    public unsafe DecodedFrame Decode(ReadOnlySpan<byte> encodedFrame, FrameInfo info)
    {
        var header = JpegHeader.Read(encodedFrame, info.TransferSyntaxUid);
        if (header.IsLossless)
        {
            // Some writers label lossless streams with a lossy syntax; the stream's own SOF marker decides.
            return _lossless.Decode(encodedFrame, info);
        }
        if (header.Precision == 12 && header.FrameMarker is 0xC0 or 0xC1 && header.Components == 1)
        {
            return DecodeTwelveBit(encodedFrame, info);
        }
        if (header.Precision != 8)
        {
            throw new DicomCodecException(
                $"{header.Precision}-bit JPEG (SOF{header.FrameMarker - 0xC0}, {header.Components} components) cannot be decoded: Debian's libturbojpeg0 2.1 decodes 8-bit JPEG only, and the managed decoder handles 12-bit sequential greyscale only. Convert the file with dcmdjpeg first.",
                info.TransferSyntaxUid);
        }
        if (header.FrameMarker is not (0xC0 or 0xC1 or 0xC2))
        {
            throw new DicomCodecException($"JPEG process SOF{header.FrameMarker - 0xC0} (arithmetic or hierarchical coding) is not supported.", info.TransferSyntaxUid);
        }
        if (header.Width != info.Columns || header.Height != info.Rows || header.Components != info.SamplesPerPixel || header.Components is not (1 or 3))
        {
            throw new DicomCodecException($"The JPEG stream is {header.Width}x{header.Height} with {header.Components} components; the dataset says {info.Columns}x{info.Rows} with {info.SamplesPerPixel}.", info.TransferSyntaxUid);
        }

        var handle = InitDecompress(info);
        try
        {
            fixed (byte* source = encodedFrame)
            {
                var size = new CULong((nuint)encodedFrame.Length);
                if (TurboJpegNative.tjDecompressHeader3(handle, source, size, out var width, out var height, out var subsampling, out var colorspace) != 0 && !OnlyWarned(handle))
                {
                    throw Failure(handle, info, "reading the JPEG header");
                }
                var pixels = width * height;
                var components = info.SamplesPerPixel;
                var output = new byte[pixels * components];
                string photometric;
                fixed (byte* destination = output)
                {
                    if (components == 1)
                    {
                        Check(TurboJpegNative.tjDecompress2(handle, source, size, destination, width, width, height, TurboJpegNative.PixelFormatGray, TurboJpegNative.FlagAccurateDct), handle, info);
                        photometric = info.PhotometricInterpretation;
                    }
                    else if (colorspace == TurboJpegNative.ColorspaceYCbCr && subsampling == TurboJpegNative.Subsampling444 && StoredAsRgb(header, info))
                    {
                        DecodeRawComponents(handle, source, size, output, width, height, info);
                        photometric = "RGB";
                    }
                    else
                    {
                        Check(TurboJpegNative.tjDecompress2(handle, source, size, destination, width, width * 3, height, TurboJpegNative.PixelFormatRgb, TurboJpegNative.FlagAccurateDct), handle, info);
                        photometric = "RGB";
                    }
                }
                return new DecodedFrame(Widen(output, info), photometric, 0);
            }
        }
        finally
        {
            TurboJpegNative.tjDestroy(handle);
        }
    }

    private static DecodedFrame DecodeTwelveBit(ReadOnlySpan<byte> encodedFrame, FrameInfo info)
    {
        var decoder = new JpegDct12Decoder(info.TransferSyntaxUid);
        var samples = decoder.Decode(encodedFrame);
        if (decoder.Width != info.Columns || decoder.Height != info.Rows || info.BytesPerSample != 2)
        {
            throw new DicomCodecException($"The 12-bit JPEG stream is {decoder.Width}x{decoder.Height}; the dataset says {info.Columns}x{info.Rows} at {info.BitsAllocated} bits allocated.", info.TransferSyntaxUid);
        }
        var output = info.AllocateFrame();
        for (var i = 0; i < samples.Length; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(output.AsSpan(2 * i), samples[i]);
        }
        return new DecodedFrame(output, info.PhotometricInterpretation, 0);
    }

    private static bool StoredAsRgb(JpegHeader header, FrameInfo info) =>
        info.PhotometricInterpretation == "RGB" && !header.HasJfif && header.AdobeTransform != 1;

    /// <summary>The components as coded, without libjpeg's YCbCr→RGB step (all planes are full size at 4:4:4).</summary>
    private static unsafe void DecodeRawComponents(nint handle, byte* source, CULong size, byte[] output, int width, int height, FrameInfo info)
    {
        var pixels = width * height;
        var planes = new byte[3 * pixels];
        fixed (byte* p = planes)
        {
            var pointers = stackalloc byte*[3] { p, p + pixels, p + 2 * pixels };
            var strides = stackalloc int[3] { width, width, width };
            Check(TurboJpegNative.tjDecompressToYUVPlanes(handle, source, size, pointers, width, strides, height, TurboJpegNative.FlagAccurateDct), handle, info);
        }
        for (var i = 0; i < pixels; i++)
        {
            output[3 * i] = planes[i];
            output[3 * i + 1] = planes[pixels + i];
            output[3 * i + 2] = planes[2 * pixels + i];
        }
    }

    /// <summary>8-bit samples in a dataset that allocates 16 bits per sample.</summary>
    private static byte[] Widen(byte[] samples, FrameInfo info)
    {
        if (info.BytesPerSample == 1)
        {
            return samples;
        }
        var output = info.AllocateFrame();
        for (var i = 0; i < samples.Length; i++)
        {
            output[i * info.BytesPerSample] = samples[i];
        }
        return output;
    }

    private static nint InitDecompress(FrameInfo info)
    {
        try
        {
            var handle = TurboJpegNative.tjInitDecompress();
            return handle != 0 ? handle : throw new DicomCodecException("libturbojpeg could not create a decompressor.", info.TransferSyntaxUid);
        }
        catch (DllNotFoundException ex)
        {
            throw new DicomCodecException($"JPEG decoding needs {TurboJpegNative.Library} (Debian package libturbojpeg0), which is not installed.", info.TransferSyntaxUid, ex);
        }
    }

    // libjpeg warns about recoverable damage (a truncated scan, an unknown Adobe transform code) and still decodes.
    private static bool OnlyWarned(nint handle) => TurboJpegNative.tjGetErrorCode(handle) == 0;

    private static void Check(int result, nint handle, FrameInfo info)
    {
        if (result != 0 && !OnlyWarned(handle))
        {
            throw Failure(handle, info, "decoding");
        }
    }

    private static DicomCodecException Failure(nint handle, FrameInfo info, string step) =>
        new($"libturbojpeg failed {step}: {Marshal.PtrToStringUTF8(TurboJpegNative.tjGetErrorStr2(handle))}", info.TransferSyntaxUid);
}
