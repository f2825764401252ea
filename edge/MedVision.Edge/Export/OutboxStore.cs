using System.Globalization;
using MedVision.Edge.Storage;
using Microsoft.Data.Sqlite;

namespace MedVision.Edge.Export;

/// <summary>
/// The export outbox in SQLite (migration 0006): generation requests, the outputs made for them and one delivery per output
/// and destination. Every method is one short transaction; the state machine of a delivery lives here.
/// </summary>
public sealed class OutboxStore
{
    private const string OutputColumns = """
        o.id, o.generation_id, o.study_uid, o.kind, o.file_name, o.content_type, o.sop_class_uid, o.sop_instance_uid,
        o.size_bytes, o.sha256, o.path, o.created_utc
        """;

    private const string DeliveryColumns = """
        d.id, d.output_id, d.destination, d.state, d.attempts, d.last_error, d.created_utc, d.next_attempt_utc,
        d.last_attempt_utc, d.delivered_utc
        """;

    private const int OutboxMigration = 6;

    private readonly SqliteTransactions _transactions;

    public OutboxStore(EdgeDatabase database, ILogger<OutboxStore> logger, TimeProvider timeProvider)
    {
        _transactions = SqliteTransactions.Create(database, retries: 3, logger, timeProvider);
    }

    /// <summary>
    /// Records that a completed study wants its outputs, keyed by the study's last received time: asking twice for the same
    /// completion is a no-op. Returns false when the study is unknown, not complete, or already asked for.
    /// </summary>
    public Task<bool> RequestGenerationAsync(string studyUid, DateTimeOffset now, CancellationToken cancellationToken) =>
        _transactions.WriteAsync(async (connection, transaction, ct) =>
        {
            await using var command = Command(connection, transaction, """
                INSERT OR IGNORE INTO output_generations (study_uid, generation_key, state, requested_utc, next_attempt_utc)
                SELECT study_uid, last_received_utc, 'pending', $now, $now FROM studies
                WHERE study_uid = $study AND completed_utc IS NOT NULL;
                """, ("$study", studyUid), ("$now", Ts(now)));
            return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false) > 0;
        }, cancellationToken);

    /// <summary>
    /// Requests generations for studies that completed since the outbox existed but have none for their current state: the
    /// appliance may have stopped between marking a study complete and telling the export. Returns how many were added.
    /// </summary>
    public Task<int> CatchUpGenerationsAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        _transactions.WriteAsync(async (connection, transaction, ct) =>
        {
            await using var command = Command(connection, transaction, """
                INSERT OR IGNORE INTO output_generations (study_uid, generation_key, state, requested_utc, next_attempt_utc)
                SELECT s.study_uid, s.last_received_utc, 'pending', $now, $now FROM studies s
                WHERE s.completed_utc IS NOT NULL
                  AND s.completed_utc >= (SELECT applied_utc FROM schema_migrations WHERE version = $migration)
                  AND NOT EXISTS (SELECT 1 FROM output_generations g WHERE g.study_uid = s.study_uid AND g.generation_key = s.last_received_utc);
                """, ("$now", Ts(now)), ("$migration", OutboxMigration));
            return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }, cancellationToken);

    public Task<IReadOnlyList<GenerationRecord>> ListDueGenerationsAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken) =>
        _transactions.ReadAsync<IReadOnlyList<GenerationRecord>>(async (connection, ct) =>
        {
            await using var command = Command(connection, null, """
                SELECT id, study_uid, generation_key, state, attempts, last_error FROM output_generations
                WHERE state = 'pending' AND next_attempt_utc <= $now ORDER BY next_attempt_utc, id LIMIT $limit;
                """, ("$now", Ts(now)), ("$limit", limit));
            var list = new List<GenerationRecord>();
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                list.Add(new GenerationRecord(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4), Str(reader, 5)));
            }
            return list;
        }, cancellationToken);

    public Task<DateTimeOffset?> NextGenerationDueAsync(CancellationToken cancellationToken) =>
        NextDueAsync("SELECT MIN(next_attempt_utc) FROM output_generations WHERE state = 'pending';", cancellationToken);

    /// <summary>The study's current completion and how many of its instances the pipeline has still to process.</summary>
    public Task<StudyProgress> GetStudyProgressAsync(string studyUid, CancellationToken cancellationToken) =>
        _transactions.ReadAsync(async (connection, ct) =>
        {
            await using var command = Command(connection, null, """
                SELECT s.last_received_utc, s.completed_utc IS NOT NULL,
                       (SELECT COUNT(*) FROM instances i WHERE i.study_uid = s.study_uid AND i.state = 'received')
                FROM studies s WHERE s.study_uid = $study;
                """, ("$study", studyUid));
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            return await reader.ReadAsync(ct).ConfigureAwait(false)
                ? new StudyProgress(reader.GetString(0), reader.GetInt64(1) != 0, reader.GetInt32(2))
                : new StudyProgress(null, false, 0);
        }, cancellationToken);

    /// <summary>Moves a pending generation's next check; <paramref name="countAttempt"/> when a try at it failed.</summary>
    public Task PostponeGenerationAsync(long id, DateTimeOffset next, string? error, bool countAttempt, CancellationToken cancellationToken) =>
        _transactions.WriteAsync(async (connection, transaction, ct) =>
        {
            await using var command = Command(connection, transaction, """
                UPDATE output_generations SET next_attempt_utc = $next, last_error = COALESCE($error, last_error),
                    attempts = attempts + $count WHERE id = $id AND state = 'pending';
                """, ("$id", id), ("$next", Ts(next)), ("$error", error), ("$count", countAttempt ? 1 : 0));
            return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>Closes a pending generation without outputs (superseded or failed).</summary>
    public Task CloseGenerationAsync(long id, string state, string? error, DateTimeOffset now, CancellationToken cancellationToken) =>
        _transactions.WriteAsync(async (connection, transaction, ct) =>
        {
            await using var command = Command(connection, transaction, """
                UPDATE output_generations SET state = $state, last_error = $error, done_utc = $now, attempts = attempts + 1
                WHERE id = $id AND state = 'pending';
                """, ("$id", id), ("$state", state), ("$error", error), ("$now", Ts(now)));
            return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>
    /// Records the outputs (already on disk and fsync'd) with one pending delivery per destination and closes the generation,
    /// in one transaction: either the whole set is in the outbox or none of it. Returns the new output ids; empty when the
    /// generation was no longer pending (nothing recorded).
    /// </summary>
    public Task<IReadOnlyList<long>> CompleteGenerationAsync(
        long generationId, string studyUid, IReadOnlyList<NewOutput> outputs, string? error, DateTimeOffset now, CancellationToken cancellationToken) =>
        _transactions.WriteAsync<IReadOnlyList<long>>(async (connection, transaction, ct) =>
        {
            await using (var close = Command(connection, transaction, """
                UPDATE output_generations SET state = 'done', last_error = $error, done_utc = $now, attempts = attempts + 1
                WHERE id = $id AND state = 'pending';
                """, ("$id", generationId), ("$error", error), ("$now", Ts(now))))
            {
                if (await close.ExecuteNonQueryAsync(ct).ConfigureAwait(false) == 0)
                {
                    return [];
                }
            }
            var ids = new List<long>();
            foreach (var output in outputs)
            {
                long outputId;
                await using (var insert = Command(connection, transaction, """
                    INSERT INTO outputs (generation_id, study_uid, kind, file_name, content_type, sop_class_uid, sop_instance_uid,
                        size_bytes, sha256, path, created_utc)
                    VALUES ($gen, $study, $kind, $file, $type, $class, $sop, $size, $sha, $path, $now) RETURNING id;
                    """,
                    ("$gen", generationId), ("$study", studyUid), ("$kind", output.Kind), ("$file", output.FileName),
                    ("$type", output.ContentType), ("$class", output.SopClassUid), ("$sop", output.SopInstanceUid),
                    ("$size", output.SizeBytes), ("$sha", output.Sha256), ("$path", output.Path), ("$now", Ts(now))))
                {
                    outputId = Convert.ToInt64(await insert.ExecuteScalarAsync(ct).ConfigureAwait(false), CultureInfo.InvariantCulture);
                }
                ids.Add(outputId);
                foreach (var destination in output.Destinations)
                {
                    await using var delivery = Command(connection, transaction, """
                        INSERT INTO deliveries (output_id, destination, state, created_utc, next_attempt_utc)
                        VALUES ($output, $destination, 'pending', $now, $now);
                        """, ("$output", outputId), ("$destination", destination), ("$now", Ts(now)));
                    await delivery.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                }
            }
            return ids;
        }, cancellationToken);

    /// <summary>At start-up: attempts cut short by a stop are due again (the count already includes them).</summary>
    public Task<int> ResetDeliveringAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        _transactions.WriteAsync(async (connection, transaction, ct) =>
        {
            await using var command = Command(connection, transaction,
                "UPDATE deliveries SET state = 'pending', next_attempt_utc = $now WHERE state = 'delivering';", ("$now", Ts(now)));
            return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>Pending deliveries that are due, oldest due first, for one destination.</summary>
    public Task<IReadOnlyList<DeliveryWork>> ListDueDeliveriesAsync(string destination, DateTimeOffset now, int limit, CancellationToken cancellationToken) =>
        _transactions.ReadAsync<IReadOnlyList<DeliveryWork>>(async (connection, ct) =>
        {
            await using var command = Command(connection, null, $"""
                SELECT {DeliveryColumns}, {OutputColumns} FROM deliveries d JOIN outputs o ON o.id = d.output_id
                WHERE d.state = 'pending' AND d.destination = $destination AND d.next_attempt_utc <= $now
                ORDER BY d.next_attempt_utc, d.id LIMIT $limit;
                """, ("$destination", destination), ("$now", Ts(now)), ("$limit", limit));
            var list = new List<DeliveryWork>();
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                list.Add(new DeliveryWork(ReadDelivery(reader, 0), ReadOutput(reader, 10)));
            }
            return list;
        }, cancellationToken);

    /// <summary>Earliest next attempt among pending deliveries to these destinations; null when none.</summary>
    public Task<DateTimeOffset?> NextDeliveryDueAsync(IReadOnlyCollection<string> destinations, CancellationToken cancellationToken)
    {
        if (destinations.Count == 0)
        {
            return Task.FromResult<DateTimeOffset?>(null);
        }
        var names = string.Join(", ", destinations.Select((_, i) => "$d" + i.ToString(CultureInfo.InvariantCulture)));
        return NextDueAsync(
            $"SELECT MIN(next_attempt_utc) FROM deliveries WHERE state = 'pending' AND destination IN ({names});",
            cancellationToken,
            destinations.Select((d, i) => ("$d" + i.ToString(CultureInfo.InvariantCulture), (object?)d)).ToArray());
    }

    /// <summary>Takes a pending delivery for one attempt (counted now, so a crash mid-send still counts). False if taken or gone.</summary>
    public Task<bool> ClaimAsync(long id, DateTimeOffset now, CancellationToken cancellationToken) =>
        _transactions.WriteAsync(async (connection, transaction, ct) =>
        {
            await using var command = Command(connection, transaction, """
                UPDATE deliveries SET state = 'delivering', attempts = attempts + 1, last_attempt_utc = $now
                WHERE id = $id AND state = 'pending';
                """, ("$id", id), ("$now", Ts(now)));
            return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false) == 1;
        }, cancellationToken);

    public Task MarkDeliveredAsync(long id, DateTimeOffset now, CancellationToken cancellationToken) =>
        _transactions.WriteAsync(async (connection, transaction, ct) =>
        {
            await using var command = Command(connection, transaction, """
                UPDATE deliveries SET state = 'delivered', delivered_utc = $now, last_error = NULL WHERE id = $id AND state = 'delivering';
                """, ("$id", id), ("$now", Ts(now)));
            return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>A failed attempt: pending again at <paramref name="nextAttempt"/>, or dead when it is null.</summary>
    public Task MarkFailedAsync(long id, string error, DateTimeOffset now, DateTimeOffset? nextAttempt, CancellationToken cancellationToken) =>
        _transactions.WriteAsync(async (connection, transaction, ct) =>
        {
            await using var command = Command(connection, transaction, """
                UPDATE deliveries SET state = CASE WHEN $next IS NULL THEN 'dead' ELSE 'pending' END,
                    next_attempt_utc = COALESCE($next, $now), last_error = $error
                WHERE id = $id AND state = 'delivering';
                """, ("$id", id), ("$error", error), ("$now", Ts(now)), ("$next", nextAttempt is { } n ? Ts(n) : null));
            return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>
    /// Puts a dead delivery, or a pending one that has failed before, back to pending with its attempts reset and due now.
    /// Delivered and in-flight deliveries are refused (<see cref="RetryOutcome.Conflict"/>).
    /// </summary>
    public Task<(RetryOutcome Outcome, DeliveryRecord? Delivery)> RetryAsync(long id, DateTimeOffset now, CancellationToken cancellationToken) =>
        _transactions.WriteAsync(async (connection, transaction, ct) =>
        {
            await using (var update = Command(connection, transaction, """
                UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_utc = $now
                WHERE id = $id AND (state = 'dead' OR (state = 'pending' AND attempts > 0));
                """, ("$id", id), ("$now", Ts(now))))
            {
                var changed = await update.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                var current = await GetDeliveryAsync(connection, transaction, id, ct).ConfigureAwait(false);
                return current is null ? (RetryOutcome.NotFound, null)
                    : changed == 1 ? (RetryOutcome.Done, current)
                    : (RetryOutcome.Conflict, current);
            }
        }, cancellationToken);

    public Task<IReadOnlyList<OutputRecord>> ListOutputsAsync(string studyUid, CancellationToken cancellationToken) =>
        _transactions.ReadAsync<IReadOnlyList<OutputRecord>>(async (connection, ct) =>
        {
            await using var command = Command(connection, null, $"SELECT {OutputColumns} FROM outputs o WHERE o.study_uid = $study ORDER BY o.id;",
                ("$study", studyUid));
            var list = new List<OutputRecord>();
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                list.Add(ReadOutput(reader, 0));
            }
            return list;
        }, cancellationToken);

    public Task<OutputRecord?> GetOutputAsync(long id, CancellationToken cancellationToken) =>
        _transactions.ReadAsync(async (connection, ct) =>
        {
            await using var command = Command(connection, null, $"SELECT {OutputColumns} FROM outputs o WHERE o.id = $id;", ("$id", id));
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            return await reader.ReadAsync(ct).ConfigureAwait(false) ? ReadOutput(reader, 0) : null;
        }, cancellationToken);

    /// <summary>Deliveries of the given outputs, by output id then destination.</summary>
    public Task<IReadOnlyList<DeliveryRecord>> ListDeliveriesForOutputsAsync(IReadOnlyCollection<long> outputIds, CancellationToken cancellationToken) =>
        _transactions.ReadAsync<IReadOnlyList<DeliveryRecord>>(async (connection, ct) =>
        {
            var list = new List<DeliveryRecord>();
            if (outputIds.Count == 0)
            {
                return list;
            }
            // Ids are numbers we read ourselves, so they can go into the statement as text.
            var ids = string.Join(",", outputIds.Select(i => i.ToString(CultureInfo.InvariantCulture)));
            await using var command = Command(connection, null,
                $"SELECT {DeliveryColumns} FROM deliveries d WHERE d.output_id IN ({ids}) ORDER BY d.output_id, d.destination;");
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                list.Add(ReadDelivery(reader, 0));
            }
            return list;
        }, cancellationToken);

    /// <summary>Deliveries with their outputs, newest first, optionally of one state and destination.</summary>
    public Task<IReadOnlyList<DeliveryWork>> ListDeliveriesAsync(string? state, string? destination, int limit, int offset, CancellationToken cancellationToken) =>
        _transactions.ReadAsync<IReadOnlyList<DeliveryWork>>(async (connection, ct) =>
        {
            await using var command = Command(connection, null, $"""
                SELECT {DeliveryColumns}, {OutputColumns} FROM deliveries d JOIN outputs o ON o.id = d.output_id
                WHERE ($state IS NULL OR d.state = $state) AND ($destination IS NULL OR d.destination = $destination)
                ORDER BY d.id DESC LIMIT $limit OFFSET $offset;
                """, ("$state", state), ("$destination", destination), ("$limit", limit), ("$offset", offset));
            var list = new List<DeliveryWork>();
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                list.Add(new DeliveryWork(ReadDelivery(reader, 0), ReadOutput(reader, 10)));
            }
            return list;
        }, cancellationToken);

    public Task<OutboxCounts> CountAsync(CancellationToken cancellationToken) =>
        _transactions.ReadAsync(async (connection, ct) =>
        {
            var byDestination = new Dictionary<string, Dictionary<string, long>>(StringComparer.Ordinal);
            await using (var command = Command(connection, null, "SELECT destination, state, COUNT(*) FROM deliveries GROUP BY destination, state;"))
            {
                await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    if (!byDestination.TryGetValue(reader.GetString(0), out var states))
                    {
                        states = DeliveryStates.All.ToDictionary(s => s, _ => 0L, StringComparer.Ordinal);
                        byDestination[reader.GetString(0)] = states;
                    }
                    states[reader.GetString(1)] = reader.GetInt64(2);
                }
            }
            await using var pending = Command(connection, null, "SELECT COUNT(*) FROM output_generations WHERE state = 'pending';");
            var generations = Convert.ToInt64(await pending.ExecuteScalarAsync(ct).ConfigureAwait(false), CultureInfo.InvariantCulture);
            return new OutboxCounts(
                byDestination.ToDictionary(d => d.Key, d => (IReadOnlyDictionary<string, long>)d.Value, StringComparer.Ordinal),
                generations);
        }, cancellationToken);

    private Task<DateTimeOffset?> NextDueAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters) =>
        _transactions.ReadAsync(async (connection, ct) =>
        {
            await using var command = Command(connection, null, sql, parameters);
            var value = await command.ExecuteScalarAsync(ct).ConfigureAwait(false);
            return value is string text ? SqliteStudyStore.ParseTimestamp(text) : (DateTimeOffset?)null;
        }, cancellationToken);

    private static async Task<DeliveryRecord?> GetDeliveryAsync(SqliteConnection connection, SqliteTransaction transaction, long id, CancellationToken ct)
    {
        await using var command = Command(connection, transaction, $"SELECT {DeliveryColumns} FROM deliveries d WHERE d.id = $id;", ("$id", id));
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        return await reader.ReadAsync(ct).ConfigureAwait(false) ? ReadDelivery(reader, 0) : null;
    }

    private static DeliveryRecord ReadDelivery(SqliteDataReader r, int o) => new(
        r.GetInt64(o), r.GetInt64(o + 1), r.GetString(o + 2), r.GetString(o + 3), r.GetInt32(o + 4), Str(r, o + 5),
        SqliteStudyStore.ParseTimestamp(r.GetString(o + 6)), SqliteStudyStore.ParseTimestamp(r.GetString(o + 7)),
        Time(r, o + 8), Time(r, o + 9));

    private static OutputRecord ReadOutput(SqliteDataReader r, int o) => new(
        r.GetInt64(o), r.GetInt64(o + 1), r.GetString(o + 2), r.GetString(o + 3), r.GetString(o + 4), r.GetString(o + 5),
        Str(r, o + 6), Str(r, o + 7), r.GetInt64(o + 8), r.GetString(o + 9), r.GetString(o + 10),
        SqliteStudyStore.ParseTimestamp(r.GetString(o + 11)));

    private static string? Str(SqliteDataReader r, int ordinal) => r.IsDBNull(ordinal) ? null : r.GetString(ordinal);

    private static DateTimeOffset? Time(SqliteDataReader r, int ordinal) =>
        r.IsDBNull(ordinal) ? null : SqliteStudyStore.ParseTimestamp(r.GetString(ordinal));

    private static string Ts(DateTimeOffset value) => SqliteStudyStore.Timestamp(value);

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = SqliteTransactions.Command(connection, transaction, sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        return command;
    }
}
