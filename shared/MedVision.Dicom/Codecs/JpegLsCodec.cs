using MedVision.Dicom.Codecs.Native;
using System.Runtime.InteropServices;

namespace MedVision.Dicom.Codecs;

/// <summary>
/// JPEG-LS lossless and near-lossless (ISO 14495-1) through CharLS. Interleave mode "none" decodes colour-by-plane,
/// line and sample interleaving decode colour-by-pixel.
/// </summary>
public sealed class JpegLsCodec : IDicomCodec
{
    public string Name => "JPEG-LS (CharLS)";

    public IReadOnlyCollection<string> TransferSyntaxUids { get; } =
        [DicomCodecUids.JpegLsLossless, DicomCodecUids.JpegLsNearLossless];

    public unsafe DecodedFrame Decode(ReadOnlySpan<byte> encodedFrame, FrameInfo info)
    {
        nint decoder;
        try
        {
            decoder = CharLsNative.Create();
        }
        catch (DllNotFoundException ex)
        {
            throw new DicomCodecException($"JPEG-LS decoding needs {CharLsNative.Library} (Debian package libcharls2), which is not installed.", info.TransferSyntaxUid, ex);
        }
        if (decoder == 0)
        {
            throw new DicomCodecException("CharLS could not create a decoder.", info.TransferSyntaxUid);
        }
        try
        {
            fixed (byte* source = encodedFrame)
            {
                Check(CharLsNative.SetSourceBuffer(decoder, source, (nuint)encodedFrame.Length), info);
                Check(CharLsNative.ReadHeader(decoder), info);
                Check(CharLsNative.GetFrameInfo(decoder, out var frame), info);
                Check(CharLsNative.GetInterleaveMode(decoder, out var interleave), info);
                if (frame.Width != info.Columns || frame.Height != info.Rows || frame.ComponentCount != info.SamplesPerPixel)
                {
                    throw new DicomCodecException($"The JPEG-LS stream is {frame.Width}x{frame.Height} with {frame.ComponentCount} components; the dataset says {info.Columns}x{info.Rows} with {info.SamplesPerPixel}.", info.TransferSyntaxUid);
                }
                var streamBytes = frame.BitsPerSample <= 8 ? 1 : 2;
                if (streamBytes > info.BytesPerSample)
                {
                    throw new DicomCodecException($"The JPEG-LS stream has {frame.BitsPerSample}-bit samples; the dataset allocates {info.BitsAllocated} bits.", info.TransferSyntaxUid);
                }
                Check(CharLsNative.GetDestinationSize(decoder, 0, out var size), info);
                var decoded = streamBytes == info.BytesPerSample ? info.AllocateFrame() : new byte[(long)size];
                if ((ulong)decoded.Length < size)
                {
                    throw new DicomCodecException($"CharLS needs {size} bytes for a frame the dataset sizes at {decoded.Length}.", info.TransferSyntaxUid);
                }
                fixed (byte* destination = decoded)
                {
                    Check(CharLsNative.DecodeToBuffer(decoder, destination, size, 0), info);
                }
                var planar = interleave == CharLsNative.InterleaveNone && info.SamplesPerPixel > 1 ? 1 : 0;
                return new DecodedFrame(streamBytes == info.BytesPerSample ? decoded : Widen(decoded, info), info.PhotometricInterpretation, planar);
            }
        }
        finally
        {
            CharLsNative.Destroy(decoder);
        }
    }

    private static byte[] Widen(byte[] samples, FrameInfo info)
    {
        var output = info.AllocateFrame();
        var count = Math.Min(samples.Length, output.Length / info.BytesPerSample);
        for (var i = 0; i < count; i++)
        {
            output[i * info.BytesPerSample] = samples[i];
        }
        return output;
    }

    private static void Check(int error, FrameInfo info)
    {
        if (error != 0)
        {
            throw new DicomCodecException($"CharLS: {Marshal.PtrToStringUTF8(CharLsNative.GetErrorMessage(error))} (error {error}).", info.TransferSyntaxUid);
        }
    }
}
