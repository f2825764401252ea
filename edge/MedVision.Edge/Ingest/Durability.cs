using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace MedVision.Edge.Ingest;

/// <summary>Makes a rename durable: on Linux a new directory entry survives power loss only after the folder is fsync'd.</summary>
internal static partial class Durability
{
    private const int ReadOnly = 0;
    private const uint SyncFileRangeWrite = 2;

    /// <summary>
    /// Starts (does not wait for) writeback of a range already written, so a large instance's final fsync finds most of
    /// it on disk and waits only for the tail. Durability still comes from that fsync alone; failure here is ignored.
    /// </summary>
    public static void StartWriteback(SafeHandle file, long offset, long length)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }
        var added = false;
        try
        {
            file.DangerousAddRef(ref added);
            _ = SyncFileRange((int)file.DangerousGetHandle(), offset, length, SyncFileRangeWrite);
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Flushes a file's data and size to the device. fdatasync skips the timestamps, which recovery never reads, and so
    /// can avoid a journal commit when the blocks were already allocated.
    /// </summary>
    public static void FlushData(SafeFileHandle file)
    {
        if (!OperatingSystem.IsLinux())
        {
            using var stream = new FileStream(file, FileAccess.ReadWrite, 1);
            stream.Flush(flushToDisk: true);
            return;
        }
        var added = false;
        try
        {
            file.DangerousAddRef(ref added);
            if (Fdatasync((int)file.DangerousGetHandle()) != 0)
            {
                throw new IOException($"fdatasync failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }

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

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int Fdatasync(int fd);

    [LibraryImport("libc", EntryPoint = "sync_file_range", SetLastError = true)]
    private static partial int SyncFileRange(int fd, long offset, long nbytes, uint flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
