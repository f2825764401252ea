using System.Runtime.InteropServices;

namespace MedVision.Dicom.Codecs.Native;

/// <summary>libjpeg-turbo's TurboJPEG 2.x C API (Debian libturbojpeg0); only the calls that decoding needs.</summary>
internal static unsafe partial class TurboJpegNative
{
    public const string Library = "libturbojpeg.so.0";

    public const int PixelFormatRgb = 0;
    public const int PixelFormatGray = 6;
    public const int ColorspaceRgb = 0;
    public const int ColorspaceYCbCr = 1;
    public const int ColorspaceGray = 2;
    public const int Subsampling444 = 0;
    public const int FlagAccurateDct = 4096;

    [LibraryImport(Library)]
    public static partial nint tjInitDecompress();

    [LibraryImport(Library)]
    public static partial int tjDestroy(nint handle);

    [LibraryImport(Library)]
    public static partial int tjDecompressHeader3(nint handle, byte* jpegBuf, CULong jpegSize, out int width, out int height, out int jpegSubsamp, out int jpegColorspace);

    [LibraryImport(Library)]
    public static partial int tjDecompress2(nint handle, byte* jpegBuf, CULong jpegSize, byte* dstBuf, int width, int pitch, int height, int pixelFormat, int flags);

    [LibraryImport(Library)]
    public static partial int tjDecompressToYUVPlanes(nint handle, byte* jpegBuf, CULong jpegSize, byte** dstPlanes, int width, int* strides, int height, int flags);

    [LibraryImport(Library)]
    public static partial nint tjGetErrorStr2(nint handle);

    /// <summary>0 (TJERR_WARNING) when the last call only warned: the image was decoded.</summary>
    [LibraryImport(Library)]
    public static partial int tjGetErrorCode(nint handle);
}
