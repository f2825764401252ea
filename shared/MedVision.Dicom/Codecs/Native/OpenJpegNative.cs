using System.Runtime.InteropServices;

namespace MedVision.Dicom.Codecs.Native;

/// <summary>OpenJPEG 2.5 C API (Debian libopenjp2-7): decoding from memory through a callback stream.</summary>
internal static unsafe partial class OpenJpegNative
{
    public const string Library = "libopenjp2.so.7";

    public const int CodecJ2K = 0;
    public const int CodecJP2 = 2;

    // sizeof(opj_dparameters_t) is 8,252 bytes in 2.5 on LP64; only the library touches it, so room to spare is enough.
    public const int DecoderParametersSize = 16384;

    [StructLayout(LayoutKind.Sequential)]
    public struct Image
    {
        public uint X0;
        public uint Y0;
        public uint X1;
        public uint Y1;
        public uint ComponentCount;
        public int ColorSpace;
        public ImageComponent* Components;
        public byte* IccProfile;
        public uint IccProfileLength;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct ImageComponent
    {
        public uint Dx;
        public uint Dy;
        public uint Width;
        public uint Height;
        public uint X0;
        public uint Y0;
        public uint Precision;
        public uint Bpp;
        public uint Signed;
        public uint ResolutionsDecoded;
        public uint Factor;
        public int* Data;
        public ushort Alpha;
    }

    /// <summary>The state of a read-only memory stream, passed to the callbacks as user data.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MemoryStreamState
    {
        public byte* Data;
        public long Length;
        public long Position;
    }

    [LibraryImport(Library)]
    public static partial nint opj_create_decompress(int format);

    [LibraryImport(Library)]
    public static partial void opj_set_default_decoder_parameters(void* parameters);

    [LibraryImport(Library)]
    public static partial int opj_setup_decoder(nint codec, void* parameters);

    [LibraryImport(Library)]
    public static partial int opj_set_error_handler(nint codec, delegate* unmanaged<byte*, void*, void> handler, void* userData);

    [LibraryImport(Library)]
    public static partial nint opj_stream_create(nuint bufferSize, int isInput);

    [LibraryImport(Library)]
    public static partial void opj_stream_set_read_function(nint stream, delegate* unmanaged<void*, nuint, void*, nuint> function);

    [LibraryImport(Library)]
    public static partial void opj_stream_set_skip_function(nint stream, delegate* unmanaged<long, void*, long> function);

    [LibraryImport(Library)]
    public static partial void opj_stream_set_seek_function(nint stream, delegate* unmanaged<long, void*, int> function);

    [LibraryImport(Library)]
    public static partial void opj_stream_set_user_data(nint stream, void* data, delegate* unmanaged<void*, void> free);

    [LibraryImport(Library)]
    public static partial void opj_stream_set_user_data_length(nint stream, ulong length);

    [LibraryImport(Library)]
    public static partial int opj_read_header(nint stream, nint codec, Image** image);

    [LibraryImport(Library)]
    public static partial int opj_decode(nint codec, nint stream, Image* image);

    [LibraryImport(Library)]
    public static partial int opj_end_decompress(nint codec, nint stream);

    [LibraryImport(Library)]
    public static partial void opj_image_destroy(Image* image);

    [LibraryImport(Library)]
    public static partial void opj_stream_destroy(nint stream);

    [LibraryImport(Library)]
    public static partial void opj_destroy_codec(nint codec);

    [UnmanagedCallersOnly]
    public static nuint Read(void* buffer, nuint count, void* user)
    {
        var state = (MemoryStreamState*)user;
        var left = state->Length - state->Position;
        if (left <= 0)
        {
            return nuint.MaxValue;
        }
        var n = (long)Math.Min((ulong)left, count);
        Buffer.MemoryCopy(state->Data + state->Position, buffer, (long)count, n);
        state->Position += n;
        return (nuint)n;
    }

    [UnmanagedCallersOnly]
    public static long Skip(long count, void* user)
    {
        var state = (MemoryStreamState*)user;
        var target = Math.Clamp(state->Position + count, 0, state->Length);
        var skipped = target - state->Position;
        state->Position = target;
        return skipped;
    }

    [UnmanagedCallersOnly]
    public static int Seek(long position, void* user)
    {
        var state = (MemoryStreamState*)user;
        if (position < 0 || position > state->Length)
        {
            return 0;
        }
        state->Position = position;
        return 1;
    }

    [UnmanagedCallersOnly]
    public static void NoFree(void* user)
    {
        // The state lives on the decoding call's stack.
    }

    /// <summary>Collects error messages into the List&lt;string&gt; whose GCHandle is the user data.</summary>
    [UnmanagedCallersOnly]
    public static void CollectError(byte* message, void* user)
    {
        if (GCHandle.FromIntPtr((nint)user).Target is List<string> errors)
        {
            errors.Add((Marshal.PtrToStringUTF8((nint)message) ?? string.Empty).Trim());
        }
    }
}
