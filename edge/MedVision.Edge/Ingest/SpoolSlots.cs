using System.Collections.Concurrent;
using MedVision.Edge.Storage;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Ingest;

/// <summary>
/// A bounded pool of empty spool files whose directory entries are already durable, so receiving an instance costs
/// one flush (write + fsync of an existing file) instead of create + fsync + rename + folder fsync.
/// </summary>
/// <remarks>
/// Slots are created in batches and the folder is fsync'd once per batch before any of them is handed out. A used
/// slot keeps its name for good: the database maps SOP Instance UID → spool path. When the pool runs dry the caller
/// creates its own slot inline (slower, same guarantee), so a burst never waits on the refiller.
/// Creating a file is the costliest step of receiving a small instance on some file systems (ext4 without a journal
/// scans for recently freed inodes on each one), so refilling waits until instances stop arriving, and the pool is
/// sized to carry a whole study's burst; only a pool nearly dry (an eighth left) is refilled while a burst goes on.
/// </remarks>
public sealed partial class SpoolSlots(IOptions<StorageOptions> storage, TimeProvider clock, ILogger<SpoolSlots> logger)
{
    private const int RefillBatch = 64;
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(250);
    private readonly ConcurrentQueue<string> _free = new();
    private readonly SemaphoreSlim _refill = new(0, int.MaxValue);
    private long _lastTakeTimestamp;

    public string Directory => storage.Value.SlotDirectory;

    public int FreeCount => _free.Count;

    /// <summary>Whether the pool holds its configured number of slots (a burst of that many needs no file creation).</summary>
    public bool IsFull => _free.Count >= storage.Value.SpoolSlotPoolSize;

    /// <summary>A durable, empty slot file for one incoming instance.</summary>
    public string Take()
    {
        Volatile.Write(ref _lastTakeTimestamp, clock.GetTimestamp());
        if (_free.TryDequeue(out var path))
        {
            if (_free.Count < storage.Value.SpoolSlotPoolSize / 2)
            {
                _refill.Release();
            }
            return path;
        }
        _refill.Release();
        LogPoolDry();
        return CreateBatch(1)[0];
    }

    /// <summary>Start-up: makes every empty slot left from the last run durable and offers it again.</summary>
    internal void AdoptEmpty(IEnumerable<string> emptySlots)
    {
        Durability.FsyncDirectory(Directory);
        foreach (var slot in emptySlots)
        {
            _free.Enqueue(slot);
        }
    }

    /// <summary>Tops the pool up (in batches, while no burst is arriving), then waits for <see cref="Take"/> to say it is running low.</summary>
    internal async Task RefillLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var size = storage.Value.SpoolSlotPoolSize;
            var missing = size - _free.Count;
            if (missing <= 0)
            {
                await _refill.WaitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }
            var sinceTake = clock.GetElapsedTime(Volatile.Read(ref _lastTakeTimestamp));
            if (_free.Count >= size / 8 && sinceTake < Quiet)
            {
                await Task.Delay(Quiet - sinceTake, clock, cancellationToken).ConfigureAwait(false);
                continue;
            }
            try
            {
                foreach (var slot in CreateBatch(Math.Min(missing, RefillBatch)))
                {
                    _free.Enqueue(slot);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Disk full, read-only or not permitted: Take() falls back to inline creation and reports its own error.
                LogRefillFailed(ex);
                await Task.Delay(TimeSpan.FromSeconds(1), clock, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private string[] CreateBatch(int count)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var created = new string[count];
        for (var i = 0; i < count; i++)
        {
            created[i] = Path.Combine(Directory, $"{Guid.NewGuid():N}.dcm");
            using (new FileStream(created[i], FileMode.CreateNew, FileAccess.Write, FileShare.None, 1))
            {
            }
        }
        // One folder flush makes the whole batch's names survive a power cut.
        Durability.FsyncDirectory(Directory);
        return created;
    }

    [LoggerMessage(EventId = 1150, Level = LogLevel.Debug, Message = "Spool slot pool ran dry; creating a slot inline")]
    private partial void LogPoolDry();

    [LoggerMessage(EventId = 1151, Level = LogLevel.Warning, Message = "Could not refill the spool slot pool")]
    private partial void LogRefillFailed(Exception exception);
}
