using MedVision.Dicom.Codecs.Native;
using System.Runtime.InteropServices;

namespace MedVision.Dicom.Codecs;

/// <summary>
/// JPEG 2000 Part 1 and High-Throughput JPEG 2000 (Part 15) through OpenJPEG, decoding a codestream (or a JP2 file,
/// which some writers wrap it in) from memory. OpenJPEG undoes the multi-component transform, so YBR_RCT and YBR_ICT
/// decode to RGB.
/// </summary>
public sealed class Jpeg2000Codec : IDicomCodec
{
    public string Name => "JPEG 2000 / HTJ2K (OpenJPEG)";

    public IReadOnlyCollection<string> TransferSyntaxUids { get; } =
    [
        DicomCodecUids.Jpeg2000Lossless, DicomCodecUids.Jpeg2000,
        DicomCodecUids.HtJpeg2000Lossless, DicomCodecUids.HtJpeg2000LosslessRpcl, DicomCodecUids.HtJpeg2000,
    ];

    public unsafe DecodedFrame Decode(ReadOnlySpan<byte> encodedFrame, FrameInfo info)
    {
        var format = DetectFormat(encodedFrame) ?? throw new DicomCodecException("The frame is neither a JPEG 2000 codestream (FF4F FF51) nor a JP2 file.", info.TransferSyntaxUid);
        nint codec;
        try
        {
            codec = OpenJpegNative.opj_create_decompress(format);
        }
        catch (DllNotFoundException ex)
        {
            throw new DicomCodecException($"JPEG 2000 decoding needs {OpenJpegNative.Library} (Debian package libopenjp2-7), which is not installed.", info.TransferSyntaxUid, ex);
        }
        var errors = new List<string>();
        var errorsHandle = GCHandle.Alloc(errors);
        nint stream = 0;
        OpenJpegNative.Image* image = null;
        try
        {
            var parameters = stackalloc byte[OpenJpegNative.DecoderParametersSize];
            OpenJpegNative.opj_set_default_decoder_parameters(parameters);
            OpenJpegNative.opj_set_error_handler(codec, &OpenJpegNative.CollectError, (void*)GCHandle.ToIntPtr(errorsHandle));
            if (OpenJpegNative.opj_setup_decoder(codec, parameters) == 0)
            {
                throw Failure("setting up the decoder", errors, info);
            }
            fixed (byte* source = encodedFrame)
            {
                var state = new OpenJpegNative.MemoryStreamState { Data = source, Length = encodedFrame.Length };
                stream = OpenJpegNative.opj_stream_create(1 << 16, 1);
                OpenJpegNative.opj_stream_set_read_function(stream, &OpenJpegNative.Read);
                OpenJpegNative.opj_stream_set_skip_function(stream, &OpenJpegNative.Skip);
                OpenJpegNative.opj_stream_set_seek_function(stream, &OpenJpegNative.Seek);
                OpenJpegNative.opj_stream_set_user_data(stream, &state, &OpenJpegNative.NoFree);
                OpenJpegNative.opj_stream_set_user_data_length(stream, (ulong)encodedFrame.Length);
                if (OpenJpegNative.opj_read_header(stream, codec, &image) == 0 || image is null)
                {
                    throw Failure("reading the header", errors, info);
                }
                if (OpenJpegNative.opj_decode(codec, stream, image) == 0 || OpenJpegNative.opj_end_decompress(codec, stream) == 0)
                {
                    throw Failure("decoding", errors, info);
                }
            }
            return Convert(image, info);
        }
        finally
        {
            if (image is not null)
            {
                OpenJpegNative.opj_image_destroy(image);
            }
            if (stream != 0)
            {
                OpenJpegNative.opj_stream_destroy(stream);
            }
            OpenJpegNative.opj_destroy_codec(codec);
            errorsHandle.Free();
        }
    }

    private static int? DetectFormat(ReadOnlySpan<byte> data)
    {
        if (data.Length >= 4 && data[0] == 0xFF && data[1] == 0x4F && data[2] == 0xFF && data[3] == 0x51)
        {
            return OpenJpegNative.CodecJ2K;
        }
        if (data.Length >= 12 && data[..12].SequenceEqual((ReadOnlySpan<byte>)[0, 0, 0, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A]))
        {
            return OpenJpegNative.CodecJP2;
        }
        return null;
    }

    private static unsafe DecodedFrame Convert(OpenJpegNative.Image* image, FrameInfo info)
    {
        var components = (int)image->ComponentCount;
        if (components != info.SamplesPerPixel)
        {
            throw new DicomCodecException($"The JPEG 2000 stream has {components} components; the dataset says {info.SamplesPerPixel}.", info.TransferSyntaxUid);
        }
        var output = info.AllocateFrame();
        var bytes = info.BytesPerSample;
        var pixels = (int)info.Pixels;
        for (var c = 0; c < components; c++)
        {
            var component = image->Components[c];
            if (component.Width != info.Columns || component.Height != info.Rows || component.Dx != 1 || component.Dy != 1)
            {
                throw new DicomCodecException($"JPEG 2000 component {c} is {component.Width}x{component.Height} (subsampling {component.Dx}x{component.Dy}); the dataset says {info.Columns}x{info.Rows}.", info.TransferSyntaxUid);
            }
            if (component.Precision > bytes * 8)
            {
                throw new DicomCodecException($"JPEG 2000 component {c} has {component.Precision}-bit samples; the dataset allocates {info.BitsAllocated} bits.", info.TransferSyntaxUid);
            }
            if (component.Data is null)
            {
                throw new DicomCodecException($"OpenJPEG decoded no data for component {c}.", info.TransferSyntaxUid);
            }
            var data = component.Data;
            for (var p = 0; p < pixels; p++)
            {
                var v = data[p];
                var index = (p * components + c) * bytes;
                output[index] = (byte)v;
                if (bytes > 1)
                {
                    output[index + 1] = (byte)(v >> 8);
                }
                if (bytes > 2)
                {
                    output[index + 2] = (byte)(v >> 16);
                    output[index + 3] = (byte)(v >> 24);
                }
            }
        }
        var photometric = info.PhotometricInterpretation is "YBR_RCT" or "YBR_ICT" ? "RGB" : info.PhotometricInterpretation;
        return new DecodedFrame(output, photometric, 0);
    }

    private static DicomCodecException Failure(string step, List<string> errors, FrameInfo info) =>
        new($"OpenJPEG failed {step}: {(errors.Count > 0 ? string.Join("; ", errors) : "no detail given")}.", info.TransferSyntaxUid);
}
