using System.Text.Json;
using MedVision.Dicom.Network;
using MedVision.Edge.Storage;
using Microsoft.Data.Sqlite;

namespace MedVision.Edge.Commitment;

public sealed record CommitmentRequest(string TransactionUid, string CallingAe, IReadOnlyList<SopReference> References, int Attempts);

/// <summary>Storage commitment requests in SQLite, so a report owed to a modality survives a restart.</summary>
public sealed class StorageCommitmentStore(EdgeDatabase database, TimeProvider clock)
{
    public async Task AddAsync(string transactionUid, string callingAe, IReadOnlyList<SopReference> references, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        // A repeated transaction (the modality retried) is answered again rather than ignored.
        command.CommandText = """
            INSERT INTO storage_commitments (transaction_uid, calling_ae, references_json, state, attempts, next_attempt_utc, received_utc)
            VALUES ($tx, $ae, $refs, 'pending', 0, $now, $now)
            ON CONFLICT (transaction_uid) DO UPDATE SET calling_ae = excluded.calling_ae, references_json = excluded.references_json,
                state = 'pending', attempts = 0, next_attempt_utc = excluded.next_attempt_utc, last_error = NULL;
            """;
        command.Parameters.AddWithValue("$tx", transactionUid);
        command.Parameters.AddWithValue("$ae", callingAe);
        command.Parameters.AddWithValue("$refs", JsonSerializer.Serialize(references));
        command.Parameters.AddWithValue("$now", clock.GetUtcNow().ToString("O"));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<CommitmentRequest>> GetDueAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT transaction_uid, calling_ae, references_json, attempts FROM storage_commitments WHERE state = 'pending' AND next_attempt_utc <= $now ORDER BY received_utc;";
        command.Parameters.AddWithValue("$now", clock.GetUtcNow().ToString("O"));
        var due = new List<CommitmentRequest>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            due.Add(new CommitmentRequest(reader.GetString(0), reader.GetString(1),
                JsonSerializer.Deserialize<List<SopReference>>(reader.GetString(2)) ?? [], reader.GetInt32(3)));
        }
        return due;
    }

    /// <summary>Which of the references are held here: recorded in the database and present in the spool.</summary>
    public async Task<IReadOnlySet<string>> HeldAsync(IReadOnlyList<SopReference> references, CancellationToken cancellationToken)
    {
        var held = new HashSet<string>(StringComparer.Ordinal);
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT sop_class_uid, spool_path FROM instances WHERE sop_instance_uid = $sop;";
        var sop = command.Parameters.Add("$sop", SqliteType.Text);
        foreach (var reference in references)
        {
            sop.Value = reference.SopInstanceUid;
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false) &&
                reader.GetString(0) == reference.SopClassUid && File.Exists(reader.GetString(1)))
            {
                held.Add(reference.SopInstanceUid);
            }
        }
        return held;
    }

    public Task MarkReportedAsync(string transactionUid, ushort eventType, CancellationToken cancellationToken) =>
        UpdateAsync(transactionUid, "UPDATE storage_commitments SET state = 'reported', reported_utc = $now, event_type = $event, attempts = attempts + 1 WHERE transaction_uid = $tx;",
            cancellationToken, ("$event", eventType));

    public Task MarkAttemptFailedAsync(string transactionUid, string error, DateTimeOffset nextAttempt, bool giveUp, CancellationToken cancellationToken) =>
        UpdateAsync(transactionUid, "UPDATE storage_commitments SET attempts = attempts + 1, last_error = $error, next_attempt_utc = $next, state = $state WHERE transaction_uid = $tx;",
            cancellationToken, ("$error", error), ("$next", nextAttempt.ToString("O")), ("$state", giveUp ? "failed" : "pending"));

    /// <summary>Counts by state, for /healthz.</summary>
    public async Task<IReadOnlyDictionary<string, long>> CountsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT state, COUNT(*) FROM storage_commitments GROUP BY state;";
        var counts = new Dictionary<string, long> { ["pending"] = 0, ["reported"] = 0, ["failed"] = 0 };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            counts[reader.GetString(0)] = reader.GetInt64(1);
        }
        return counts;
    }

    private async Task UpdateAsync(string transactionUid, string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$tx", transactionUid);
        command.Parameters.AddWithValue("$now", clock.GetUtcNow().ToString("O"));
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
