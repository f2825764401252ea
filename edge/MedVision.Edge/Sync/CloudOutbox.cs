using System.Globalization;
using MedVision.Edge.Storage;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Sync;

/// <summary>Outbox priorities: lower goes first when the link comes back.</summary>
public static class OutboxPriority
{
    public const int Alert = 0;
    public const int Finding = 1;
    public const int Telemetry = 2;
}

public sealed record OutboxMessage(long Seq, string MessageId, int Priority, string Type, string BodyJson, DateTimeOffset CreatedUtc, int Attempts);

/// <summary>
/// The SQLite outbox (table <c>cloud_outbox</c>, migration 0008). Survives restarts and days offline; bounded by
/// dropping the oldest telemetry first and never a finding.
/// </summary>
public sealed class CloudOutbox
{
    private readonly SqliteTransactions _db;
    private readonly RemoteSettings _settings;
    private readonly WakeSignal _signal;
    private readonly ILogger<CloudOutbox> _logger;

    public CloudOutbox(EdgeDatabase database, RemoteSettings settings, IOptions<StorageOptions> storage, CloudSignal signal, TimeProvider time, ILogger<CloudOutbox> logger)
    {
        _db = SqliteTransactions.Create(database, storage.Value.TransientRetryCount, logger, time);
        _settings = settings;
        _signal = signal;
        _logger = logger;
    }

    public const string FindingsMark = "findings_queued_through";

    /// <summary>
    /// Queues messages; one already queued with the same id is left as it is (the id is the idempotency key).
    /// With <paramref name="findings"/> (the findings.id range these messages carry), raises the findings mark to its
    /// end in the same transaction, but only when no finding between the mark and the range's start is left unqueued:
    /// the mark means "everything up to here is queued", so a finding whose queuing failed is never skipped (the next
    /// catch-up queues it; ones queued twice share their message id and are stored once).
    /// </summary>
    public async Task EnqueueAsync(
        IReadOnlyList<(string MessageId, int Priority, string Type, string BodyJson, DateTimeOffset CreatedUtc)> messages,
        CancellationToken cancellationToken,
        (long From, long Through)? findings = null)
    {
        var (depth, dropped, overBound) = await _db.WriteAsync(async (connection, transaction, ct) =>
        {
            if (findings is { } range)
            {
                await using var raise = SqliteTransactions.Command(connection, transaction, """
                    UPDATE cloud_sync_state SET value = MAX(value, $through)
                    WHERE name = $n
                      AND NOT EXISTS (SELECT 1 FROM findings WHERE id > cloud_sync_state.value AND id < $from);
                    """);
                raise.Parameters.AddWithValue("$n", FindingsMark);
                raise.Parameters.AddWithValue("$from", range.From);
                raise.Parameters.AddWithValue("$through", range.Through);
                await raise.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            await InsertAsync(connection, transaction, messages, ct).ConfigureAwait(false);
            var count = await CountAsync(connection, transaction, ct).ConfigureAwait(false);
            var excess = count - _settings.MaxOutboxMessages;
            if (excess <= 0)
            {
                return (count, 0, false);
            }
            await using var drop = SqliteTransactions.Command(connection, transaction, $"""
                DELETE FROM cloud_outbox WHERE seq IN
                    (SELECT seq FROM cloud_outbox WHERE priority = {OutboxPriority.Telemetry} ORDER BY seq LIMIT $n);
                """);
            drop.Parameters.AddWithValue("$n", excess);
            var removed = await drop.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            return (count - removed, removed, removed < excess);
        }, cancellationToken).ConfigureAwait(false);
        if (dropped > 0)
        {
            SyncLog.TelemetryDropped(_logger, depth, dropped);
        }
        if (overBound)
        {
            SyncLog.OverBound(_logger, depth, _settings.MaxOutboxMessages);
        }
        _signal.Notify();
    }

    /// <summary>
    /// Queues messages inside a caller's transaction, so what they describe and their queuing commit together (a review
    /// and its feedback). A message id already queued is left as it is. Call <see cref="Wake"/> after the commit. The
    /// bound is not enforced here: it only ever drops telemetry, and the next <see cref="EnqueueAsync"/> trims it.
    /// </summary>
    internal static async Task InsertAsync(
        Microsoft.Data.Sqlite.SqliteConnection connection,
        Microsoft.Data.Sqlite.SqliteTransaction transaction,
        IReadOnlyList<(string MessageId, int Priority, string Type, string BodyJson, DateTimeOffset CreatedUtc)> messages,
        CancellationToken ct)
    {
        await using var insert = SqliteTransactions.Command(connection, transaction, """
            INSERT INTO cloud_outbox (message_id, priority, type, body, created_utc) VALUES ($id, $p, $t, $b, $c)
            ON CONFLICT (message_id) DO NOTHING;
            """);
        var id = insert.Parameters.Add("$id", Microsoft.Data.Sqlite.SqliteType.Text);
        var p = insert.Parameters.Add("$p", Microsoft.Data.Sqlite.SqliteType.Integer);
        var t = insert.Parameters.Add("$t", Microsoft.Data.Sqlite.SqliteType.Text);
        var b = insert.Parameters.Add("$b", Microsoft.Data.Sqlite.SqliteType.Text);
        var c = insert.Parameters.Add("$c", Microsoft.Data.Sqlite.SqliteType.Text);
        foreach (var m in messages)
        {
            id.Value = m.MessageId;
            p.Value = m.Priority;
            t.Value = m.Type;
            b.Value = m.BodyJson;
            c.Value = m.CreatedUtc.ToString("O", CultureInfo.InvariantCulture);
            await insert.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
    }

    /// <summary>Wakes the sync agent after messages were queued through <see cref="InsertAsync"/>.</summary>
    public void Wake() => _signal.Notify();

    /// <summary>The next pending messages: alerts, then findings, then telemetry, oldest first within each.</summary>
    public Task<IReadOnlyList<OutboxMessage>> PeekAsync(int max, CancellationToken cancellationToken) =>
        _db.ReadAsync<IReadOnlyList<OutboxMessage>>(async (connection, ct) =>
        {
            await using var command = SqliteTransactions.Command(connection, null, """
                SELECT seq, message_id, priority, type, body, created_utc, attempts FROM cloud_outbox
                WHERE state = 'pending' ORDER BY priority, seq LIMIT $n;
                """);
            command.Parameters.AddWithValue("$n", max);
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            var list = new List<OutboxMessage>();
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                list.Add(new OutboxMessage(
                    reader.GetInt64(0), reader.GetString(1), reader.GetInt32(2), reader.GetString(3), reader.GetString(4),
                    DateTimeOffset.Parse(reader.GetString(5), CultureInfo.InvariantCulture), reader.GetInt32(6)));
            }
            return list;
        }, cancellationToken);

    /// <summary>Removes messages the broker acknowledged.</summary>
    public Task DeleteAsync(IReadOnlyCollection<long> seqs, CancellationToken cancellationToken) =>
        seqs.Count == 0 ? Task.CompletedTask : _db.WriteAsync(async (connection, transaction, ct) =>
        {
            await using var command = SqliteTransactions.Command(connection, transaction, "DELETE FROM cloud_outbox WHERE seq = $s;");
            var s = command.Parameters.Add("$s", Microsoft.Data.Sqlite.SqliteType.Integer);
            foreach (var seq in seqs)
            {
                s.Value = seq;
                await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            return 0;
        }, cancellationToken);

    /// <summary>Counts a failed attempt, or parks the message as <c>rejected</c> when the broker refused it for good.</summary>
    public Task MarkFailedAsync(long seq, string error, bool permanent, CancellationToken cancellationToken) =>
        _db.WriteAsync(async (connection, transaction, ct) =>
        {
            await using var command = SqliteTransactions.Command(connection, transaction,
                "UPDATE cloud_outbox SET attempts = attempts + 1, last_error = $e, state = CASE WHEN $p THEN 'rejected' ELSE state END WHERE seq = $s;");
            command.Parameters.AddWithValue("$e", error);
            command.Parameters.AddWithValue("$p", permanent);
            command.Parameters.AddWithValue("$s", seq);
            return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>
    /// Findings stored after the mark, with their study's patient ID and modality (for the pseudonyms), oldest first.
    /// The first time (no mark yet) the mark is set to the newest finding and nothing is returned: syncing starts now.
    /// </summary>
    public Task<IReadOnlyList<(long Id, FindingRecord Finding, string? PatientId, string? Modality)>> FindingsAfterMarkAsync(int max, CancellationToken cancellationToken) =>
        _db.WriteAsync<IReadOnlyList<(long, FindingRecord, string?, string?)>>(async (connection, transaction, ct) =>
        {
            await using (var start = SqliteTransactions.Command(connection, transaction,
                "INSERT INTO cloud_sync_state (name, value) SELECT $n, COALESCE(MAX(id), 0) FROM findings WHERE true ON CONFLICT (name) DO NOTHING;"))
            {
                start.Parameters.AddWithValue("$n", FindingsMark);
                await start.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            await using var command = SqliteTransactions.Command(connection, transaction, """
                SELECT f.id, f.study_uid, f.sop_instance_uid, f.model_id, f.model_version, f.model_sha256, f.label, f.probability,
                       f.threshold, f.positive, f.execution_provider, f.inference_ms, f.created_utc, s.patient_id, i.modality
                FROM findings f
                LEFT JOIN studies s ON s.study_uid = f.study_uid
                LEFT JOIN instances i ON i.sop_instance_uid = f.sop_instance_uid
                WHERE f.id > (SELECT value FROM cloud_sync_state WHERE name = $n)
                ORDER BY f.id LIMIT $max;
                """);
            command.Parameters.AddWithValue("$n", FindingsMark);
            command.Parameters.AddWithValue("$max", max);
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            var list = new List<(long, FindingRecord, string?, string?)>();
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                var finding = new FindingRecord(
                    reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5), reader.GetString(6),
                    reader.GetDouble(7), reader.GetDouble(8), reader.GetInt64(9) != 0, reader.GetString(10),
                    reader.IsDBNull(11) ? null : reader.GetDouble(11),
                    DateTimeOffset.Parse(reader.GetString(12), CultureInfo.InvariantCulture));
                list.Add((reader.GetInt64(0), finding, reader.IsDBNull(13) ? null : reader.GetString(13), reader.IsDBNull(14) ? null : reader.GetString(14)));
            }
            return list;
        }, cancellationToken);

    /// <summary>The findings.id range of one instance's findings (the listener raises the mark over it).</summary>
    public Task<(long From, long Through)?> FindingIdRangeAsync(string sopInstanceUid, CancellationToken cancellationToken) =>
        _db.ReadAsync<(long, long)?>(async (connection, ct) =>
        {
            await using var command = SqliteTransactions.Command(connection, null, "SELECT MIN(id), MAX(id) FROM findings WHERE sop_instance_uid = $s;");
            command.Parameters.AddWithValue("$s", sopInstanceUid);
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            return await reader.ReadAsync(ct).ConfigureAwait(false) && !reader.IsDBNull(0) ? (reader.GetInt64(0), reader.GetInt64(1)) : null;
        }, cancellationToken);

    public Task<OutboxDepth> GetDepthAsync(CancellationToken cancellationToken) =>
        _db.ReadAsync(async (connection, ct) =>
        {
            await using var command = SqliteTransactions.Command(connection, null,
                "SELECT COALESCE(SUM(state = 'pending'), 0), COALESCE(SUM(state = 'pending' AND priority < 2), 0), COALESCE(SUM(state = 'rejected'), 0) FROM cloud_outbox;");
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await reader.ReadAsync(ct).ConfigureAwait(false);
            return new OutboxDepth(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
        }, cancellationToken);

    private static async Task<long> CountAsync(Microsoft.Data.Sqlite.SqliteConnection connection, Microsoft.Data.Sqlite.SqliteTransaction transaction, CancellationToken ct)
    {
        await using var command = SqliteTransactions.Command(connection, transaction, "SELECT COUNT(*) FROM cloud_outbox WHERE state = 'pending';");
        return Convert.ToInt64(await command.ExecuteScalarAsync(ct).ConfigureAwait(false), CultureInfo.InvariantCulture);
    }
}

public sealed record OutboxDepth(long Pending, long PendingFindings, long Rejected);

/// <summary>Wakes the sync agent when something was queued.</summary>
public sealed class CloudSignal : WakeSignal;
