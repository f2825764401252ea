using System.Runtime.InteropServices;

namespace MedVision.Dicom.Codecs.Native;

/// <summary>CharLS 2.x C API (Debian libcharls2): the JPEG-LS decoder calls.</summary>
internal static unsafe partial class CharLsNative
{
    public const string Library = "libcharls.so.2";

    public const int InterleaveNone = 0;

    [StructLayout(LayoutKind.Sequential)]
    public struct FrameInfo
    {
        public uint Width;
        public uint Height;
        public int BitsPerSample;
        public int ComponentCount;
    }

    [LibraryImport(Library, EntryPoint = "charls_jpegls_decoder_create")]
    public static partial nint Create();

    [LibraryImport(Library, EntryPoint = "charls_jpegls_decoder_destroy")]
    public static partial void Destroy(nint decoder);

    [LibraryImport(Library, EntryPoint = "charls_jpegls_decoder_set_source_buffer")]
    public static partial int SetSourceBuffer(nint decoder, byte* source, nuint size);

    [LibraryImport(Library, EntryPoint = "charls_jpegls_decoder_read_header")]
    public static partial int ReadHeader(nint decoder);

    [LibraryImport(Library, EntryPoint = "charls_jpegls_decoder_get_frame_info")]
    public static partial int GetFrameInfo(nint decoder, out FrameInfo frameInfo);

    [LibraryImport(Library, EntryPoint = "charls_jpegls_decoder_get_interleave_mode")]
    public static partial int GetInterleaveMode(nint decoder, out int interleaveMode);

    [LibraryImport(Library, EntryPoint = "charls_jpegls_decoder_get_destination_size")]
    public static partial int GetDestinationSize(nint decoder, uint stride, out nuint size);

    [LibraryImport(Library, EntryPoint = "charls_jpegls_decoder_decode_to_buffer")]
    public static partial int DecodeToBuffer(nint decoder, byte* destination, nuint size, uint stride);

    [LibraryImport(Library, EntryPoint = "charls_get_error_message")]
    public static partial nint GetErrorMessage(int error);
}
