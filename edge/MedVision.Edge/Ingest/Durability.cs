using System.Runtime.InteropServices;

namespace MedVision.Edge.Ingest;

/// <summary>Makes a rename durable: on Linux a new directory entry survives power loss only after the folder is fsync'd.</summary>
internal static partial class Durability
{
    private const int ReadOnly = 0;

    public static void FsyncDirectory(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }
        var fd = Open(path, ReadOnly);
        if (fd < 0)
        {
            throw new IOException($"Cannot open folder {path} to make it durable (errno {Marshal.GetLastPInvokeError()}).");
        }
        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"fsync of folder {path} failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
