using static MedVision.Edge.Storage.SqliteTransactions;

namespace MedVision.Edge.Storage;

/// <summary>A finished study whose files may go: its spool files and the output files made from it.</summary>
public sealed record PurgeCandidate(string StudyUid, DateTimeOffset CompletedUtc, IReadOnlyList<string> SpoolPaths, IReadOnlyList<string> OutputPaths)
{
    /// <summary>completed_utc exactly as stored: the mark only applies if the study did not reopen and complete again.</summary>
    internal string CompletedStamp { get; init; } = "";
}

/// <summary>Which studies the retention may purge, and the record that it did (migration 0009).</summary>
public sealed class RetentionStore
{
    private readonly SqliteTransactions _transactions;

    public RetentionStore(EdgeDatabase database, ILogger<RetentionStore> logger, TimeProvider timeProvider)
    {
        _transactions = SqliteTransactions.Create(database, retries: 3, logger, timeProvider);
    }

    /// <summary>
    /// Oldest first, studies that are done with: complete, nothing queued for the pipeline, no outputs still to make or
    /// deliver, no alert still waiting for a person. <paramref name="completedBefore"/> null means any age (disk pressure).
    /// </summary>
    public Task<IReadOnlyList<PurgeCandidate>> ListPurgeableAsync(DateTimeOffset? completedBefore, int limit, CancellationToken cancellationToken) =>
        _transactions.ReadAsync<IReadOnlyList<PurgeCandidate>>(async (connection, ct) =>
        {
            var studies = new List<(string Uid, string Completed)>();
            await using (var command = Command(connection, null, """
                SELECT s.study_uid, s.completed_utc FROM studies s
                WHERE s.purged_utc IS NULL AND s.completed_utc IS NOT NULL
                  AND ($before IS NULL OR s.completed_utc < $before)
                  AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.study_uid = s.study_uid AND i.state = 'received')
                  AND NOT EXISTS (SELECT 1 FROM output_generations g WHERE g.study_uid = s.study_uid AND g.state = 'pending')
                  AND NOT EXISTS (SELECT 1 FROM outputs o JOIN deliveries d ON d.output_id = o.id
                                  WHERE o.study_uid = s.study_uid AND d.state IN ('pending', 'delivering'))
                  AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.study_uid = s.study_uid AND a.state IN ('active', 'deferred'))
                ORDER BY s.completed_utc
                LIMIT $limit;
                """))
            {
                command.Parameters.AddWithValue("$before", completedBefore is { } before ? SqliteStudyStore.Timestamp(before) : DBNull.Value);
                command.Parameters.AddWithValue("$limit", limit);
                await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    studies.Add((reader.GetString(0), reader.GetString(1)));
                }
            }
            var candidates = new List<PurgeCandidate>(studies.Count);
            foreach (var (uid, completed) in studies)
            {
                var spool = await PathsAsync(connection, "SELECT spool_path FROM instances WHERE study_uid = $study;", uid, ct).ConfigureAwait(false);
                var outputs = await PathsAsync(connection, "SELECT path FROM outputs WHERE study_uid = $study;", uid, ct).ConfigureAwait(false);
                candidates.Add(new PurgeCandidate(uid, SqliteStudyStore.ParseTimestamp(completed), spool, outputs) { CompletedStamp = completed });
            }
            return candidates;
        }, cancellationToken);

    /// <summary>
    /// Marks the study purged, after its files were deleted, unless a late instance reopened it since it was listed:
    /// false then, and the study comes round again once it completes (the files already deleted were all processed).
    /// </summary>
    public Task<bool> MarkPurgedAsync(PurgeCandidate candidate, DateTimeOffset now, CancellationToken cancellationToken) =>
        _transactions.WriteAsync(async (connection, transaction, ct) =>
        {
            await using var command = Command(connection, transaction, """
                UPDATE studies SET purged_utc = $now
                WHERE study_uid = $study AND purged_utc IS NULL AND completed_utc = $completed
                  AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.study_uid = $study AND i.state = 'received');
                """);
            command.Parameters.AddWithValue("$now", SqliteStudyStore.Timestamp(now));
            command.Parameters.AddWithValue("$study", candidate.StudyUid);
            command.Parameters.AddWithValue("$completed", candidate.CompletedStamp);
            return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false) == 1;
        }, cancellationToken);

    private static async Task<IReadOnlyList<string>> PathsAsync(Microsoft.Data.Sqlite.SqliteConnection connection, string sql, string studyUid, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, null, sql);
        command.Parameters.AddWithValue("$study", studyUid);
        var paths = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            paths.Add(reader.GetString(0));
        }
        return paths;
    }
}
