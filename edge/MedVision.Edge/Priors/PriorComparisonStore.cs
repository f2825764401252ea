using System.Text.Json;
using MedVision.Edge.Outputs;
using MedVision.Edge.Storage;
using Microsoft.Data.Sqlite;

namespace MedVision.Edge.Priors;

/// <summary>A study's comparison as stored; <see cref="Changes"/> is set when <see cref="State"/> is compared.</summary>
public sealed record PriorComparisonRecord(
    string StudyUid,
    string State,
    int Attempts,
    string? PriorStudyUid,
    string? PriorStudyDate,
    string? PriorAccessionNumber,
    int? PriorInstances,
    IReadOnlyList<FindingChange>? Changes,
    string? Detail,
    DateTimeOffset RequestedUtc,
    DateTimeOffset? FinishedUtc);

public static class PriorComparisonStates
{
    public const string Pending = "pending";
    public const string Compared = "compared";
    public const string NoPrior = "no-prior";
    public const string Failed = "failed";
}

/// <summary>The prior-comparison queue and its results in SQLite, so a restart neither forgets nor repeats a comparison.</summary>
public sealed class PriorComparisonStore(EdgeDatabase database, TimeProvider clock)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Queues a comparison; a study compared before (it was re-sent and completed again) is compared afresh.</summary>
    public Task RequestAsync(string studyUid, CancellationToken cancellationToken) =>
        ExecuteAsync("""
            INSERT INTO prior_comparisons (study_uid, state, attempts, requested_utc, next_attempt_utc)
            VALUES ($study, 'pending', 0, $now, $now)
            ON CONFLICT (study_uid) DO UPDATE SET state = 'pending', attempts = 0, next_attempt_utc = excluded.next_attempt_utc,
                requested_utc = excluded.requested_utc, detail = NULL, finished_utc = NULL;
            """, cancellationToken, ("$study", studyUid), ("$now", Now()));

    /// <summary>
    /// Queues studies completed since <paramref name="since"/> that have no comparison row: the completion notice is not durable,
    /// so a crash between completion and <see cref="RequestAsync"/> is caught up here.
    /// </summary>
    public Task<int> RequestMissingAsync(DateTimeOffset since, CancellationToken cancellationToken) =>
        ExecuteAsync("""
            INSERT OR IGNORE INTO prior_comparisons (study_uid, state, attempts, requested_utc, next_attempt_utc)
            SELECT study_uid, 'pending', 0, $now, $now FROM studies
            WHERE completed_utc IS NOT NULL AND completed_utc >= $since
              AND study_uid NOT IN (SELECT study_uid FROM prior_comparisons);
            """, cancellationToken, ("$now", Now()), ("$since", since.ToString("O")));

    public async Task<IReadOnlyList<(string StudyUid, int Attempts)>> GetDueAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT study_uid, attempts FROM prior_comparisons WHERE state = 'pending' AND next_attempt_utc <= $now ORDER BY requested_utc LIMIT 20;";
        command.Parameters.AddWithValue("$now", Now());
        var due = new List<(string, int)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            due.Add((reader.GetString(0), reader.GetInt32(1)));
        }
        return due;
    }

    /// <summary>Looks again later without counting an attempt (the study's own findings are not all in yet).</summary>
    public Task PostponeAsync(string studyUid, DateTimeOffset next, CancellationToken cancellationToken) =>
        ExecuteAsync("UPDATE prior_comparisons SET next_attempt_utc = $next WHERE study_uid = $study AND state = 'pending';",
            cancellationToken, ("$study", studyUid), ("$next", next.ToString("O")));

    public Task MarkComparedAsync(string studyUid, PriorStudy prior, int instances, IReadOnlyList<FindingChange> changes, CancellationToken cancellationToken) =>
        ExecuteAsync("""
            UPDATE prior_comparisons SET state = 'compared', attempts = attempts + 1, prior_study_uid = $prior, prior_study_date = $date,
                prior_accession = $accession, prior_instances = $instances, changes_json = $changes, detail = NULL, finished_utc = $now
            WHERE study_uid = $study;
            """, cancellationToken, ("$study", studyUid), ("$prior", prior.StudyInstanceUid), ("$date", prior.StudyDate), ("$accession", prior.AccessionNumber),
            ("$instances", instances), ("$changes", JsonSerializer.Serialize(changes, Json)), ("$now", Now()));

    public Task MarkNoPriorAsync(string studyUid, string reason, CancellationToken cancellationToken) =>
        ExecuteAsync("UPDATE prior_comparisons SET state = 'no-prior', attempts = attempts + 1, detail = $detail, finished_utc = $now WHERE study_uid = $study;",
            cancellationToken, ("$study", studyUid), ("$detail", reason), ("$now", Now()));

    public Task MarkAttemptFailedAsync(string studyUid, string error, DateTimeOffset next, bool giveUp, CancellationToken cancellationToken) =>
        ExecuteAsync("""
            UPDATE prior_comparisons SET attempts = attempts + 1, detail = $detail, next_attempt_utc = $next,
                state = CASE WHEN $giveUp THEN 'failed' ELSE state END, finished_utc = CASE WHEN $giveUp THEN $now ELSE NULL END
            WHERE study_uid = $study;
            """, cancellationToken, ("$study", studyUid), ("$detail", error), ("$next", next.ToString("O")), ("$giveUp", giveUp), ("$now", Now()));

    public async Task<PriorComparisonRecord?> GetAsync(string studyUid, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT study_uid, state, attempts, prior_study_uid, prior_study_date, prior_accession, prior_instances, changes_json, detail, requested_utc, finished_utc
            FROM prior_comparisons WHERE study_uid = $study;
            """;
        command.Parameters.AddWithValue("$study", studyUid);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }
        return new PriorComparisonRecord(
            reader.GetString(0), reader.GetString(1), reader.GetInt32(2), Text(reader, 3), Text(reader, 4), Text(reader, 5),
            reader.IsDBNull(6) ? null : reader.GetInt32(6),
            reader.IsDBNull(7) ? null : JsonSerializer.Deserialize<List<FindingChange>>(reader.GetString(7), Json),
            Text(reader, 8), DateTimeOffset.Parse(reader.GetString(9), System.Globalization.CultureInfo.InvariantCulture),
            reader.IsDBNull(10) ? null : DateTimeOffset.Parse(reader.GetString(10), System.Globalization.CultureInfo.InvariantCulture));
    }

    public async Task<IReadOnlyDictionary<string, long>> CountsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT state, COUNT(*) FROM prior_comparisons GROUP BY state;";
        var counts = new Dictionary<string, long>
        {
            [PriorComparisonStates.Pending] = 0, [PriorComparisonStates.Compared] = 0, [PriorComparisonStates.NoPrior] = 0, [PriorComparisonStates.Failed] = 0,
        };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            counts[reader.GetString(0)] = reader.GetInt64(1);
        }
        return counts;
    }

    private static string? Text(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private string Now() => clock.GetUtcNow().ToString("O");

    private async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
