using System.Globalization;
using System.Text.Json;
using MedVision.Edge.Storage;
using Microsoft.Data.Sqlite;

namespace MedVision.Edge.Alerts;

/// <summary>
/// Alerts, their pages and every delivery attempt in the appliance's SQLite database (migration 0002). Every method is
/// one short transaction; write transactions take the write lock first (BEGIN IMMEDIATE), as the study store does.
/// </summary>
public sealed class AlertStore
{
    private const string AlertColumns = """
        SELECT id, study_uid, rule, severity, state, finding_id, sop_instance_uid, model_id, label, probability, threshold,
               modality, priority, patient_id, accession_number, finding_count, study_last_received_utc,
               finding_created_utc, raised_utc, beacon_on_utc, first_page_utc, escalation_step, escalation_round,
               next_escalation_utc, acknowledged_by, acknowledged_utc, acknowledged_via, resolved_by, resolved_utc
        FROM alerts
        """;

    private const string DeliveryColumns = """
        SELECT id, alert_id, recipient, channel, address, step, round, state, attempts, last_error, created_utc,
               last_attempt_utc, next_attempt_utc, sent_utc
        FROM alert_deliveries
        """;

    private readonly EdgeDatabase _database;
    private readonly SqliteTransactions _transactions;

    public AlertStore(EdgeDatabase database, ILogger<AlertStore> logger, TimeProvider timeProvider)
    {
        _database = database;
        _transactions = SqliteTransactions.Create(database, retries: 3, logger, timeProvider);
    }

    /// <summary>
    /// Records the alert unless the study already has one under the same rule; a repeat only counts the extra
    /// finding. Returns the stored alert and whether it was created now.
    /// </summary>
    public Task<(AlertRecord Alert, bool Created)> RaiseAsync(NewAlert alert, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(alert);
        return WriteAsync(async (connection, transaction, ct) =>
        {
            int inserted;
            await using (var insert = Command(connection, transaction, """
                INSERT OR IGNORE INTO alerts (study_uid, rule, severity, state, finding_id, sop_instance_uid, model_id, label,
                    probability, threshold, modality, priority, patient_id, accession_number, study_last_received_utc,
                    finding_created_utc, raised_utc, next_escalation_utc)
                VALUES ($study, $rule, $severity, $state, $findingId, $sop, $model, $label, $probability, $threshold, $modality,
                    $priority, $patientId, $accession, $studyReceived, $findingCreated, $raised,
                    CASE WHEN $state = 'active' THEN $raised ELSE NULL END);
                """))
            {
                insert.Parameters.AddWithValue("$study", alert.StudyUid);
                insert.Parameters.AddWithValue("$rule", alert.Rule);
                insert.Parameters.AddWithValue("$severity", alert.Severity.ToWire());
                insert.Parameters.AddWithValue("$state", alert.State);
                insert.Parameters.AddWithValue("$findingId", alert.FindingId is { } id ? id : DBNull.Value);
                insert.Parameters.AddWithValue("$sop", alert.SopInstanceUid);
                insert.Parameters.AddWithValue("$model", alert.ModelId);
                insert.Parameters.AddWithValue("$label", alert.Label);
                insert.Parameters.AddWithValue("$probability", alert.Probability);
                insert.Parameters.AddWithValue("$threshold", alert.Threshold);
                insert.Parameters.AddWithValue("$modality", Db(alert.Modality));
                insert.Parameters.AddWithValue("$priority", Db(alert.Priority));
                insert.Parameters.AddWithValue("$patientId", Db(alert.PatientId));
                insert.Parameters.AddWithValue("$accession", Db(alert.AccessionNumber));
                insert.Parameters.AddWithValue("$studyReceived", Db(alert.StudyLastReceivedUtc));
                insert.Parameters.AddWithValue("$findingCreated", SqliteStudyStore.Timestamp(alert.FindingCreatedUtc));
                insert.Parameters.AddWithValue("$raised", SqliteStudyStore.Timestamp(alert.RaisedUtc));
                inserted = await insert.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            if (inserted == 0)
            {
                await using var count = Command(connection, transaction,
                    "UPDATE alerts SET finding_count = finding_count + 1 WHERE study_uid = $study AND rule = $rule;");
                count.Parameters.AddWithValue("$study", alert.StudyUid);
                count.Parameters.AddWithValue("$rule", alert.Rule);
                await count.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            await using var read = Command(connection, transaction, AlertColumns + " WHERE study_uid = $study AND rule = $rule;");
            read.Parameters.AddWithValue("$study", alert.StudyUid);
            read.Parameters.AddWithValue("$rule", alert.Rule);
            var stored = (await ReadAlertsAsync(read, ct).ConfigureAwait(false)).Single();
            return (stored, inserted > 0);
        }, cancellationToken);
    }

    /// <summary>The row id of a stored finding, or null when it has been replaced meanwhile.</summary>
    public Task<long?> FindFindingIdAsync(FindingRecord finding, CancellationToken cancellationToken) =>
        ReadAsync<long?>(async (connection, ct) =>
        {
            await using var command = Command(connection, null, """
                SELECT id FROM findings
                WHERE sop_instance_uid = $sop AND model_id = $model AND model_version = $version AND label = $label;
                """);
            command.Parameters.AddWithValue("$sop", finding.SopInstanceUid);
            command.Parameters.AddWithValue("$model", finding.ModelId);
            command.Parameters.AddWithValue("$version", finding.ModelVersion);
            command.Parameters.AddWithValue("$label", finding.Label);
            var value = await command.ExecuteScalarAsync(ct).ConfigureAwait(false);
            return value is null or DBNull ? null : Convert.ToInt64(value, CultureInfo.InvariantCulture);
        }, cancellationToken);

    /// <summary>
    /// Findings created since <paramref name="sinceUtc"/> in studies that have no alert at all, with their instance:
    /// what the engine re-checks at start-up in case the appliance stopped between storing findings and raising alerts.
    /// </summary>
    public Task<IReadOnlyList<(FindingRecord Finding, PendingInstance Instance)>> ListFindingsWithoutAlertsAsync(
        DateTimeOffset sinceUtc, int max, CancellationToken cancellationToken) =>
        ReadAsync<IReadOnlyList<(FindingRecord, PendingInstance)>>(async (connection, ct) =>
        {
            await using var command = Command(connection, null, """
                SELECT f.study_uid, f.sop_instance_uid, f.model_id, f.model_version, f.model_sha256, f.label, f.probability,
                       f.threshold, f.positive, f.execution_provider, f.inference_ms, f.created_utc,
                       i.modality, i.sop_class_uid, i.spool_path, i.received_utc
                FROM findings f JOIN instances i ON i.sop_instance_uid = f.sop_instance_uid
                WHERE f.created_utc >= $since
                  AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.study_uid = f.study_uid)
                ORDER BY f.id
                LIMIT $max;
                """);
            command.Parameters.AddWithValue("$since", SqliteStudyStore.Timestamp(sinceUtc));
            command.Parameters.AddWithValue("$max", max);
            var rows = new List<(FindingRecord, PendingInstance)>();
            await using var r = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                var finding = new FindingRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4),
                    r.GetString(5), r.GetDouble(6), r.GetDouble(7), r.GetInt64(8) != 0, r.GetString(9),
                    r.IsDBNull(10) ? null : r.GetDouble(10), SqliteStudyStore.ParseTimestamp(r.GetString(11)));
                var instance = new PendingInstance(finding.SopInstanceUid, finding.StudyUid, Text(r, 12), r.GetString(13),
                    r.GetString(14), SqliteStudyStore.ParseTimestamp(r.GetString(15)));
                rows.Add((finding, instance));
            }
            return rows;
        }, cancellationToken);

    public Task<AlertRecord?> GetAsync(long id, CancellationToken cancellationToken) =>
        ReadAsync(async (connection, ct) =>
        {
            await using var command = Command(connection, null, AlertColumns + " WHERE id = $id;");
            command.Parameters.AddWithValue("$id", id);
            return (await ReadAlertsAsync(command, ct).ConfigureAwait(false)).SingleOrDefault();
        }, cancellationToken);

    /// <summary>Alerts, newest first.</summary>
    public Task<IReadOnlyList<AlertRecord>> ListAsync(AlertQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        return ReadAsync(async (connection, ct) =>
        {
            await using var command = Command(connection, null, AlertColumns + """
                 WHERE ($state IS NULL OR state = $state)
                   AND ($severity IS NULL OR severity = $severity)
                   AND ($study IS NULL OR study_uid = $study)
                ORDER BY id DESC LIMIT $limit OFFSET $offset;
                """);
            command.Parameters.AddWithValue("$state", Db(query.State));
            command.Parameters.AddWithValue("$severity", Db(query.Severity?.ToWire()));
            command.Parameters.AddWithValue("$study", Db(query.StudyUid));
            command.Parameters.AddWithValue("$limit", query.Limit);
            command.Parameters.AddWithValue("$offset", query.Offset);
            return await ReadAlertsAsync(command, ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    /// <summary>Active and deferred alerts, oldest first: what the beacon and the escalation work from.</summary>
    public Task<IReadOnlyList<AlertRecord>> ListOpenAsync(CancellationToken cancellationToken) =>
        ReadAsync(async (connection, ct) =>
        {
            await using var command = Command(connection, null, AlertColumns + " WHERE state IN ('active', 'deferred') ORDER BY id;");
            return await ReadAlertsAsync(command, ct).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>Stamps <c>beacon_on_utc</c> on those of <paramref name="ids"/> that have none yet; returns them.</summary>
    public Task<IReadOnlyList<AlertRecord>> MarkBeaconOnAsync(IReadOnlyCollection<long> ids, DateTimeOffset at, CancellationToken cancellationToken)
    {
        if (ids.Count == 0)
        {
            return Task.FromResult<IReadOnlyList<AlertRecord>>([]);
        }
        return WriteAsync(async (connection, transaction, ct) =>
        {
            var json = JsonSerializer.Serialize(ids);
            await using (var select = Command(connection, transaction,
                AlertColumns + " WHERE beacon_on_utc IS NULL AND id IN (SELECT value FROM json_each($ids));"))
            {
                select.Parameters.AddWithValue("$ids", json);
                var stamped = await ReadAlertsAsync(select, ct).ConfigureAwait(false);
                if (stamped.Count == 0)
                {
                    return stamped;
                }
                await using var update = Command(connection, transaction,
                    "UPDATE alerts SET beacon_on_utc = $at WHERE beacon_on_utc IS NULL AND id IN (SELECT value FROM json_each($ids));");
                update.Parameters.AddWithValue("$at", SqliteStudyStore.Timestamp(at));
                update.Parameters.AddWithValue("$ids", json);
                await update.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                return stamped.Select(a => a with { BeaconOnUtc = at }).ToList();
            }
        }, cancellationToken);
    }

    /// <summary>A deferred alert whose quiet hours are over becomes active and is due for its first page now.</summary>
    public Task<bool> ActivateAsync(long id, DateTimeOffset now, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction, ct) =>
        {
            await using var command = Command(connection, transaction,
                "UPDATE alerts SET state = 'active', next_escalation_utc = $now WHERE id = $id AND state = 'deferred';");
            command.Parameters.AddWithValue("$id", id);
            command.Parameters.AddWithValue("$now", SqliteStudyStore.Timestamp(now));
            return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false) > 0;
        }, cancellationToken);

    /// <summary>
    /// Moves an active alert to escalation <paramref name="step"/> of <paramref name="round"/> and records its pages,
    /// in one transaction so a restart never repeats or skips a step. Null when the alert is no longer active.
    /// </summary>
    public Task<IReadOnlyList<DeliveryRecord>?> AdvanceEscalationAsync(
        long alertId, int step, int round, DateTimeOffset? nextEscalationUtc, IReadOnlyList<NewDelivery> deliveries,
        DateTimeOffset now, CancellationToken cancellationToken) =>
        WriteAsync<IReadOnlyList<DeliveryRecord>?>(async (connection, transaction, ct) =>
        {
            await using (var update = Command(connection, transaction, """
                UPDATE alerts SET escalation_step = $step, escalation_round = $round, next_escalation_utc = $next
                WHERE id = $id AND state = 'active';
                """))
            {
                update.Parameters.AddWithValue("$id", alertId);
                update.Parameters.AddWithValue("$step", step);
                update.Parameters.AddWithValue("$round", round);
                update.Parameters.AddWithValue("$next", Db(nextEscalationUtc));
                if (await update.ExecuteNonQueryAsync(ct).ConfigureAwait(false) == 0)
                {
                    return null;
                }
            }
            var created = new List<DeliveryRecord>();
            foreach (var delivery in deliveries)
            {
                await using var insert = Command(connection, transaction, """
                    INSERT INTO alert_deliveries (alert_id, recipient, channel, address, step, round, state, created_utc, next_attempt_utc)
                    VALUES ($alert, $recipient, $channel, $address, $step, $round, 'pending', $now, $now)
                    RETURNING id;
                    """);
                insert.Parameters.AddWithValue("$alert", alertId);
                insert.Parameters.AddWithValue("$recipient", delivery.Recipient);
                insert.Parameters.AddWithValue("$channel", delivery.Channel);
                insert.Parameters.AddWithValue("$address", delivery.Address);
                insert.Parameters.AddWithValue("$step", step);
                insert.Parameters.AddWithValue("$round", round);
                insert.Parameters.AddWithValue("$now", SqliteStudyStore.Timestamp(now));
                var id = Convert.ToInt64(await insert.ExecuteScalarAsync(ct).ConfigureAwait(false), CultureInfo.InvariantCulture);
                created.Add(new DeliveryRecord(id, alertId, delivery.Recipient, delivery.Channel, delivery.Address, step, round,
                    DeliveryStates.Pending, 0, null, now, null, now, null));
            }
            return created;
        }, cancellationToken);

    /// <summary>
    /// Acknowledges an open alert (stops its beacon and escalation; pages not yet sent are cancelled). An alert already
    /// acknowledged or resolved keeps its first acknowledgement.
    /// </summary>
    public Task<(AckOutcome Outcome, AlertRecord? Alert)> AcknowledgeAsync(
        long id, string by, string via, DateTimeOffset at, CancellationToken cancellationToken) =>
        CloseAsync(id, """
            UPDATE alerts SET state = 'acknowledged', acknowledged_by = $by, acknowledged_utc = $at, acknowledged_via = $via,
                next_escalation_utc = NULL
            WHERE id = $id AND state IN ('active', 'deferred');
            """, by, via, at, cancellationToken);

    /// <summary>Resolves an alert that is open or acknowledged (cancels it when nobody acknowledged it).</summary>
    public Task<(AckOutcome Outcome, AlertRecord? Alert)> ResolveAsync(long id, string by, DateTimeOffset at, CancellationToken cancellationToken) =>
        CloseAsync(id, """
            UPDATE alerts SET state = 'resolved', resolved_by = $by, resolved_utc = $at, next_escalation_utc = NULL
            WHERE id = $id AND state IN ('active', 'deferred', 'acknowledged');
            """, by, "resolve", at, cancellationToken);

    /// <summary>Pages of active alerts that were not sent and have not failed for good: resumed after a restart.</summary>
    public Task<IReadOnlyList<DeliveryRecord>> ListResumableDeliveriesAsync(CancellationToken cancellationToken) =>
        ReadAsync(async (connection, ct) =>
        {
            await using var command = Command(connection, null, DeliveryColumns + """
                 WHERE state IN ('pending', 'retrying')
                   AND alert_id IN (SELECT id FROM alerts WHERE state = 'active')
                ORDER BY id;
                """);
            return await ReadDeliveriesAsync(command, ct).ConfigureAwait(false);
        }, cancellationToken);

    public Task<IReadOnlyList<DeliveryRecord>> ListDeliveriesAsync(IReadOnlyCollection<long> alertIds, CancellationToken cancellationToken)
    {
        if (alertIds.Count == 0)
        {
            return Task.FromResult<IReadOnlyList<DeliveryRecord>>([]);
        }
        return ReadAsync(async (connection, ct) =>
        {
            await using var command = Command(connection, null,
                DeliveryColumns + " WHERE alert_id IN (SELECT value FROM json_each($ids)) ORDER BY id;");
            command.Parameters.AddWithValue("$ids", JsonSerializer.Serialize(alertIds));
            return await ReadDeliveriesAsync(command, ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    /// <summary>Every attempt at every page of one alert, oldest first.</summary>
    public Task<IReadOnlyList<DeliveryAttemptRecord>> ListAttemptsAsync(long alertId, CancellationToken cancellationToken) =>
        ReadAsync<IReadOnlyList<DeliveryAttemptRecord>>(async (connection, ct) =>
        {
            await using var command = Command(connection, null, """
                SELECT id, delivery_id, attempt, started_utc, duration_ms, succeeded, error
                FROM alert_delivery_attempts
                WHERE delivery_id IN (SELECT id FROM alert_deliveries WHERE alert_id = $alert)
                ORDER BY id;
                """);
            command.Parameters.AddWithValue("$alert", alertId);
            var attempts = new List<DeliveryAttemptRecord>();
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                attempts.Add(new DeliveryAttemptRecord(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt32(2),
                    SqliteStudyStore.ParseTimestamp(reader.GetString(3)), reader.GetDouble(4), reader.GetInt64(5) != 0,
                    reader.IsDBNull(6) ? null : reader.GetString(6)));
            }
            return attempts;
        }, cancellationToken);

    /// <summary>
    /// Records one attempt at a page and the page's new state. On the first successful page of an alert, stamps the
    /// alert's <c>first_page_utc</c> and returns the alert (for the time-to-alert metrics); otherwise null.
    /// </summary>
    public Task<AlertRecord?> RecordAttemptAsync(
        long deliveryId, int attempt, DateTimeOffset startedUtc, double durationMs, string? error, string newState,
        DateTimeOffset? nextAttemptUtc, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction, ct) =>
        {
            var succeeded = error is null;
            await using (var insert = Command(connection, transaction, """
                INSERT INTO alert_delivery_attempts (delivery_id, attempt, started_utc, duration_ms, succeeded, error)
                VALUES ($delivery, $attempt, $started, $duration, $succeeded, $error);
                """))
            {
                insert.Parameters.AddWithValue("$delivery", deliveryId);
                insert.Parameters.AddWithValue("$attempt", attempt);
                insert.Parameters.AddWithValue("$started", SqliteStudyStore.Timestamp(startedUtc));
                insert.Parameters.AddWithValue("$duration", durationMs);
                insert.Parameters.AddWithValue("$succeeded", succeeded ? 1 : 0);
                insert.Parameters.AddWithValue("$error", Db(error));
                await insert.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            var finished = startedUtc.AddMilliseconds(durationMs);
            long alertId;
            await using (var update = Command(connection, transaction, """
                UPDATE alert_deliveries SET attempts = $attempt, last_attempt_utc = $started,
                    last_error = COALESCE($error, last_error), state = $state, next_attempt_utc = $next,
                    sent_utc = CASE WHEN $succeeded = 1 THEN $finished ELSE sent_utc END
                WHERE id = $delivery
                RETURNING alert_id;
                """))
            {
                update.Parameters.AddWithValue("$delivery", deliveryId);
                update.Parameters.AddWithValue("$attempt", attempt);
                update.Parameters.AddWithValue("$started", SqliteStudyStore.Timestamp(startedUtc));
                update.Parameters.AddWithValue("$error", Db(error));
                update.Parameters.AddWithValue("$state", newState);
                update.Parameters.AddWithValue("$next", Db(nextAttemptUtc));
                update.Parameters.AddWithValue("$succeeded", succeeded ? 1 : 0);
                update.Parameters.AddWithValue("$finished", SqliteStudyStore.Timestamp(finished));
                var value = await update.ExecuteScalarAsync(ct).ConfigureAwait(false);
                if (value is null or DBNull)
                {
                    return null;
                }
                alertId = Convert.ToInt64(value, CultureInfo.InvariantCulture);
            }
            if (!succeeded)
            {
                return null;
            }
            await using (var first = Command(connection, transaction,
                "UPDATE alerts SET first_page_utc = $finished WHERE id = $alert AND first_page_utc IS NULL;"))
            {
                first.Parameters.AddWithValue("$alert", alertId);
                first.Parameters.AddWithValue("$finished", SqliteStudyStore.Timestamp(finished));
                if (await first.ExecuteNonQueryAsync(ct).ConfigureAwait(false) == 0)
                {
                    return null;
                }
            }
            await using var read = Command(connection, transaction, AlertColumns + " WHERE id = $id;");
            read.Parameters.AddWithValue("$id", alertId);
            return (await ReadAlertsAsync(read, ct).ConfigureAwait(false)).SingleOrDefault();
        }, cancellationToken);

    /// <summary>Sets the state of a page that will not be attempted again (failed for good, or cancelled).</summary>
    public Task SetDeliveryStateAsync(long deliveryId, string state, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction, ct) =>
        {
            await using var command = Command(connection, transaction,
                "UPDATE alert_deliveries SET state = $state, next_attempt_utc = NULL WHERE id = $id AND state IN ('pending', 'retrying');");
            command.Parameters.AddWithValue("$id", deliveryId);
            command.Parameters.AddWithValue("$state", state);
            return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }, cancellationToken);

    public Task SetNextAttemptAsync(long deliveryId, DateTimeOffset nextAttemptUtc, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, transaction, ct) =>
        {
            await using var command = Command(connection, transaction,
                "UPDATE alert_deliveries SET next_attempt_utc = $next WHERE id = $id AND state = 'retrying';");
            command.Parameters.AddWithValue("$id", deliveryId);
            command.Parameters.AddWithValue("$next", SqliteStudyStore.Timestamp(nextAttemptUtc));
            return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }, cancellationToken);

    private Task<(AckOutcome Outcome, AlertRecord? Alert)> CloseAsync(
        long id, string sql, string by, string via, DateTimeOffset at, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(by);
        return WriteAsync(async (connection, transaction, ct) =>
        {
            int changed;
            await using (var update = Command(connection, transaction, sql))
            {
                update.Parameters.AddWithValue("$id", id);
                update.Parameters.AddWithValue("$by", by);
                update.Parameters.AddWithValue("$via", via);
                update.Parameters.AddWithValue("$at", SqliteStudyStore.Timestamp(at));
                changed = await update.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            if (changed > 0)
            {
                await using var cancel = Command(connection, transaction, """
                    UPDATE alert_deliveries SET state = 'cancelled', next_attempt_utc = NULL
                    WHERE alert_id = $id AND state IN ('pending', 'retrying');
                    """);
                cancel.Parameters.AddWithValue("$id", id);
                await cancel.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            await using var read = Command(connection, transaction, AlertColumns + " WHERE id = $id;");
            read.Parameters.AddWithValue("$id", id);
            var alert = (await ReadAlertsAsync(read, ct).ConfigureAwait(false)).SingleOrDefault();
            var outcome = alert is null ? AckOutcome.NotFound : changed > 0 ? AckOutcome.Done : AckOutcome.AlreadyClosed;
            return (outcome, alert);
        }, cancellationToken);
    }

    private static async Task<IReadOnlyList<AlertRecord>> ReadAlertsAsync(SqliteCommand command, CancellationToken ct)
    {
        var alerts = new List<AlertRecord>();
        await using var r = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            alerts.Add(new AlertRecord(
                Id: r.GetInt64(0),
                StudyUid: r.GetString(1),
                Rule: r.GetString(2),
                Severity: AlertSeverityText.Parse(r.GetString(3)),
                State: r.GetString(4),
                FindingId: r.IsDBNull(5) ? null : r.GetInt64(5),
                SopInstanceUid: r.GetString(6),
                ModelId: r.GetString(7),
                Label: r.GetString(8),
                Probability: r.GetDouble(9),
                Threshold: r.GetDouble(10),
                Modality: Text(r, 11),
                Priority: Text(r, 12),
                PatientId: Text(r, 13),
                AccessionNumber: Text(r, 14),
                FindingCount: r.GetInt32(15),
                StudyLastReceivedUtc: Time(r, 16),
                FindingCreatedUtc: SqliteStudyStore.ParseTimestamp(r.GetString(17)),
                RaisedUtc: SqliteStudyStore.ParseTimestamp(r.GetString(18)),
                BeaconOnUtc: Time(r, 19),
                FirstPageUtc: Time(r, 20),
                EscalationStep: r.GetInt32(21),
                EscalationRound: r.GetInt32(22),
                NextEscalationUtc: Time(r, 23),
                AcknowledgedBy: Text(r, 24),
                AcknowledgedUtc: Time(r, 25),
                AcknowledgedVia: Text(r, 26),
                ResolvedBy: Text(r, 27),
                ResolvedUtc: Time(r, 28)));
        }
        return alerts;
    }

    private static async Task<IReadOnlyList<DeliveryRecord>> ReadDeliveriesAsync(SqliteCommand command, CancellationToken ct)
    {
        var deliveries = new List<DeliveryRecord>();
        await using var r = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            deliveries.Add(new DeliveryRecord(
                r.GetInt64(0), r.GetInt64(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetInt32(5), r.GetInt32(6),
                r.GetString(7), r.GetInt32(8), Text(r, 9), SqliteStudyStore.ParseTimestamp(r.GetString(10)),
                Time(r, 11), Time(r, 12), Time(r, 13)));
        }
        return deliveries;
    }

    private Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, CancellationToken, Task<T>> work, CancellationToken cancellationToken) =>
        _transactions.WriteAsync(work, cancellationToken);

    private Task<T> ReadAsync<T>(Func<SqliteConnection, CancellationToken, Task<T>> work, CancellationToken cancellationToken) =>
        _transactions.ReadAsync(work, cancellationToken);

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql) =>
        SqliteTransactions.Command(connection, transaction, sql);

    private static object Db(string? value) => value is null ? DBNull.Value : value;

    private static object Db(DateTimeOffset? value) => value is { } v ? SqliteStudyStore.Timestamp(v) : DBNull.Value;

    private static string? Text(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static DateTimeOffset? Time(SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : SqliteStudyStore.ParseTimestamp(reader.GetString(ordinal));
}
