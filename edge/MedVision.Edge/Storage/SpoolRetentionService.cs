using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Storage;

/// <summary>
/// Deletes the spool and output files of finished studies: those completed longer than
/// <see cref="RetentionOptions.MaxAge"/> ago, and, while free disk is below the eviction level, the oldest finished
/// ones whatever their age. Rows stay (the audit trail); <c>studies.purged_utc</c> records the purge.
/// </summary>
/// <remarks>
/// Only studies nothing is waiting for are touched: no instance queued for the pipeline, no output still to make or
/// deliver, no alert still waiting for a person. Files are deleted before the study is marked, so a crash in between
/// leaves a study that is simply purged again.
/// </remarks>
public sealed partial class SpoolRetentionService : BackgroundService
{
    public const string MeterName = "MedVision.Edge.Retention";

    private readonly RetentionStore _store;
    private readonly IDiskSpace _disk;
    private readonly IOptions<RetentionOptions> _options;
    private readonly TimeProvider _clock;
    private readonly ILogger<SpoolRetentionService> _logger;
    private readonly Counter<long> _studiesPurged;
    private readonly Counter<long> _bytesFreed;
    private bool _warnedNothingToEvict;

    public SpoolRetentionService(RetentionStore store, IDiskSpace disk, IOptions<RetentionOptions> options, TimeProvider clock, IMeterFactory meters, ILogger<SpoolRetentionService> logger)
    {
        _store = store;
        _disk = disk;
        _options = options;
        _clock = clock;
        _logger = logger;
        var meter = meters.Create(MeterName);
        _studiesPurged = meter.CreateCounter<long>("retention_studies_purged", description: "Studies whose files were deleted, by reason");
        _bytesFreed = meter.CreateCounter<long>("retention_bytes_freed", unit: "By", description: "Bytes of spool and output files deleted");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Value.Enabled)
        {
            LogDisabled();
            return;
        }
        using var timer = new PeriodicTimer(_options.Value.Interval, _clock);
        do
        {
            try
            {
                await RunOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A locked database or an unreadable folder must not stop the next pass.
                LogPassFailed(ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    /// <summary>One pass: age first, then disk pressure. Returns the number of studies purged.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var options = _options.Value;
        var purged = 0;
        var cutoff = _clock.GetUtcNow() - options.MaxAge;
        while (true)
        {
            var due = await _store.ListPurgeableAsync(cutoff, options.BatchSize, cancellationToken).ConfigureAwait(false);
            var before = purged;
            foreach (var study in due)
            {
                purged += await PurgeAsync(study, "age", cancellationToken).ConfigureAwait(false) ? 1 : 0;
            }
            // A batch that purged nothing (files that cannot be deleted) would come back unchanged: wait for the next pass.
            if (due.Count < options.BatchSize || purged == before)
            {
                break;
            }
        }

        var evictBelow = (options.EvictBelowFreeMegabytes ?? 2 * _disk.MinFreeBytes / (1024 * 1024)) * 1024 * 1024;
        while (_disk.FreeBytes < evictBelow)
        {
            var oldest = await _store.ListPurgeableAsync(null, 1, cancellationToken).ConfigureAwait(false);
            if (oldest.Count == 0)
            {
                if (!_warnedNothingToEvict)
                {
                    LogNothingToEvict(_disk.FreeBytes / (1024 * 1024), evictBelow / (1024 * 1024));
                    _warnedNothingToEvict = true;
                }
                return purged;
            }
            if (await PurgeAsync(oldest[0], "disk-pressure", cancellationToken).ConfigureAwait(false))
            {
                purged++;
            }
            else
            {
                // Reopened between listing and marking: look again rather than spin on the same study.
                break;
            }
        }
        _warnedNothingToEvict = false;
        return purged;
    }

    private async Task<bool> PurgeAsync(PurgeCandidate study, string reason, CancellationToken cancellationToken)
    {
        long freed = 0;
        var failures = 0;
        foreach (var path in study.SpoolPaths.Concat(study.OutputPaths))
        {
            try
            {
                var file = new FileInfo(path);
                if (file.Exists)
                {
                    var length = file.Length;
                    file.Delete();
                    freed += length;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                failures++;
                LogDeleteFailed(path, ex.Message);
            }
        }
        if (failures > 0)
        {
            // Not marked: the next pass tries the remaining files again.
            return false;
        }
        foreach (var folder in study.OutputPaths.Select(Path.GetDirectoryName).OfType<string>().Distinct(StringComparer.Ordinal))
        {
            DeleteEmptyOutputFolders(folder);
        }
        var marked = await _store.MarkPurgedAsync(study, _clock.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        _bytesFreed.Add(freed);
        if (marked)
        {
            _studiesPurged.Add(1, new KeyValuePair<string, object?>("reason", reason));
            LogPurged(study.StudyUid, reason, study.SpoolPaths.Count, study.OutputPaths.Count, freed, study.CompletedUtc);
        }
        return marked;
    }

    /// <summary>outputs/&lt;study&gt;/&lt;generation&gt;/ folders left empty go too; a folder still holding anything stays.</summary>
    private static void DeleteEmptyOutputFolders(string folder)
    {
        for (var current = folder; current is not null && Directory.Exists(current) && !Directory.EnumerateFileSystemEntries(current).Any(); current = Path.GetDirectoryName(current))
        {
            if (Path.GetFileName(current) == "outputs")
            {
                return;
            }
            Directory.Delete(current);
        }
    }

    [LoggerMessage(EventId = 1160, Level = LogLevel.Information, Message = "Purged study {StudyUid} ({Reason}): {SpoolFiles} spool and {OutputFiles} output files, {Bytes} bytes; completed {CompletedUtc:u}")]
    private partial void LogPurged(string studyUid, string reason, int spoolFiles, int outputFiles, long bytes, DateTimeOffset completedUtc);

    [LoggerMessage(EventId = 1161, Level = LogLevel.Warning, Message = "Free disk {FreeMb} MB is below the eviction level {EvictMb} MB and no finished study can be purged (all are queued, undelivered or alerting)")]
    private partial void LogNothingToEvict(long freeMb, long evictMb);

    [LoggerMessage(EventId = 1162, Level = LogLevel.Warning, Message = "Could not delete {Path}: {Reason}; the study is retried on the next pass")]
    private partial void LogDeleteFailed(string path, string reason);

    [LoggerMessage(EventId = 1163, Level = LogLevel.Error, Message = "Retention pass failed; the next one runs as scheduled")]
    private partial void LogPassFailed(Exception exception);

    [LoggerMessage(EventId = 1164, Level = LogLevel.Warning, Message = "Retention is disabled (MedVision:Retention:Enabled=false): spool and output files are kept until someone deletes them")]
    private partial void LogDisabled();
}
