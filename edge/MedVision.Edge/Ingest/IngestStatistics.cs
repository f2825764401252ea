using System.Collections.Concurrent;

namespace MedVision.Edge.Ingest;

/// <summary>Counters of what ingest accepted and refused, for health and metrics.</summary>
public sealed class IngestStatistics
{
    private readonly ConcurrentDictionary<string, long> _rejects = new(StringComparer.Ordinal);
    private long _instances;
    private long _bytes;
    private long _duplicates;

    public long Instances => Interlocked.Read(ref _instances);

    public long Bytes => Interlocked.Read(ref _bytes);

    public long Duplicates => Interlocked.Read(ref _duplicates);

    public IReadOnlyDictionary<string, long> RejectsByReason => _rejects;

    public void Stored(long bytes)
    {
        Interlocked.Increment(ref _instances);
        Interlocked.Add(ref _bytes, bytes);
    }

    public void Duplicate() => Interlocked.Increment(ref _duplicates);

    public void Rejected(string reason) => _rejects.AddOrUpdate(reason, 1, (_, n) => n + 1);
}
