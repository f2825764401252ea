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
/// </remarks>
public sealed partial class SpoolSlots(IOptions<StorageOptions> storage, ILogger<SpoolSlots> logger)
{
    private readonly ConcurrentQueue<string> _free = new();
    private readonly SemaphoreSlim _refill = new(0, int.MaxValue);

    public string Directory => storage.Value.SlotDirectory;

    public int FreeCount => _free.Count;

    /// <summary>A durable, empty slot file for one incoming instance.</summary>
    public string Take()
    {
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

    /// <summary>Tops the pool up, then waits for <see cref="Take"/> to say it is running low.</summary>
    internal async Task RefillLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var missing = storage.Value.SpoolSlotPoolSize - _free.Count;
            if (missing > 0)
            {
                try
                {
                    foreach (var slot in CreateBatch(missing))
                    {
                        _free.Enqueue(slot);
                    }
                }
                catch (IOException ex)
                {
                    // Disk full or read-only: Take() falls back to inline creation and reports its own error.
                    LogRefillFailed(ex);
                    await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
                    continue;
                }
            }
            await _refill.WaitAsync(cancellationToken).ConfigureAwait(false);
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
