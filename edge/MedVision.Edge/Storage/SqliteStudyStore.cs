using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Storage;

/// <summary><see cref="IStudyStore"/> over <see cref="EdgeDatabase"/>.</summary>
/// <remarks>
/// Write transactions are <c>BEGIN IMMEDIATE</c>: they take the write lock before their first read, so two
/// associations recording into the same study queue on busy_timeout instead of one failing with a
/// lock-upgrade error. What still comes back busy after that is retried by a small Polly pipeline.
/// </remarks>
public sealed class SqliteStudyStore : IStudyStore, IDisposable
{
    private readonly EdgeDatabase _database;
    private readonly ILogger<SqliteStudyStore> _logger;
    private readonly TimeProvider _timeProvider;
    private readonly SqliteTransactions _transactions;
    private readonly PreparedWriteConnection _ingestWriter;

    public SqliteStudyStore(
        EdgeDatabase database,
        IOptions<StorageOptions> options,
        ILogger<SqliteStudyStore> logger,
        TimeProvider? timeProvider = null)
    {
        _database = database;
        _logger = logger;
        _timeProvider = timeProvider ?? TimeProvider.System;
        var busyRetry = SqliteTransactions.BuildBusyRetry(options.Value.TransientRetryCount, logger, _timeProvider);
        _transactions = new SqliteTransactions(database, busyRetry);
        _ingestWriter = new PreparedWriteConnection(database, busyRetry);
    }

    public void Dispose() => _ingestWriter.Dispose();

    public Task<RecordResult> RecordReceivedAsync(ReceivedInstance instance, CancellationToken cancellationToken) =>
        RecordReceivedAsync(instance, syncToDisk: true, cancellationToken);

    public Task<IReadOnlySet<string>> GetSpoolPathsAsync(CancellationToken cancellationToken) =>
        ReadAsync<IReadOnlySet<string>>(async (connection, ct) =>
        {
            var paths = new HashSet<string>(StringComparer.Ordinal);
            await using var command = Command(connection, null, "SELECT spool_path FROM instances;");
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                paths.Add(reader.GetString(0));
            }
            return paths;
        }, cancellationToken);

    public Task<RecordResult> RecordReceivedAsync(ReceivedInstance instance, bool syncToDisk, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        ArgumentException.ThrowIfNullOrWhiteSpace(instance.SopInstanceUid);
        ArgumentException.ThrowIfNullOrWhiteSpace(instance.StudyInstanceUid);
        if (!syncToDisk)
        {
            return _ingestWriter.WriteAsync((statement, ct) => RecordReceivedAsync(statement, instance, ct), cancellationToken);
        }
        return WriteAsync(async (connection, transaction, ct) =>
        {
            var created = new List<SqliteCommand>();
            try
            {
                return await RecordReceivedAsync(sql => Track(created, Command(connection, transaction, sql)), instance, ct).ConfigureAwait(false);
            }
            finally
            {
                foreach (var command in created)
                {
                    await command.DisposeAsync().ConfigureAwait(false);
                }
            }
        }, cancellationToken);
    }

    private static SqliteCommand Track(List<SqliteCommand> created, SqliteCommand command)
    {
        created.Add(command);
        return command;
    }

    /// <summary>The record itself; <paramref name="statement"/> hands out commands (fresh or kept prepared) that the caller owns.</summary>
    private async Task<RecordResult> RecordReceivedAsync(Func<string, SqliteCommand> statement, ReceivedInstance instance, CancellationToken ct)
    {
        string? previousStudy = null;
        string? previousPath = null;
        var find = statement("SELECT study_uid, spool_path FROM instances WHERE sop_instance_uid = $sop;");
        find.Parameters.AddWithValue("$sop", instance.SopInstanceUid);
        await using (var reader = await find.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            if (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                previousStudy = reader.GetString(0);
                previousPath = reader.GetString(1);
            }
        }

        var isDuplicate = previousPath is not null;
        var movesStudy = isDuplicate && !string.Equals(previousStudy, instance.StudyInstanceUid, StringComparison.Ordinal);
        var received = Timestamp(instance.ReceivedUtc);

        // The study row must exist before the instance row references it.
        var study = statement("""
            INSERT INTO studies (study_uid, patient_id, patient_name, study_date, accession_number, modality,
                                 status, instance_count, first_received_utc, last_received_utc)
            VALUES ($study, $patientId, $patientName, $studyDate, $accession, $modality,
                    'receiving', $increment, $received, $received)
            ON CONFLICT (study_uid) DO UPDATE SET
                patient_id = COALESCE(studies.patient_id, excluded.patient_id),
                patient_name = COALESCE(studies.patient_name, excluded.patient_name),
                study_date = COALESCE(studies.study_date, excluded.study_date),
                accession_number = COALESCE(studies.accession_number, excluded.accession_number),
                modality = COALESCE(studies.modality, excluded.modality),
                status = 'receiving',
                instance_count = studies.instance_count + excluded.instance_count,
                first_received_utc = MIN(studies.first_received_utc, excluded.first_received_utc),
                last_received_utc = MAX(studies.last_received_utc, excluded.last_received_utc),
                completed_utc = NULL,
                purged_utc = NULL;
            """);
        study.Parameters.AddWithValue("$study", instance.StudyInstanceUid);
        study.Parameters.AddWithValue("$patientId", Db(instance.PatientId));
        study.Parameters.AddWithValue("$patientName", Db(instance.PatientName));
        study.Parameters.AddWithValue("$studyDate", Db(instance.StudyDate));
        study.Parameters.AddWithValue("$accession", Db(instance.AccessionNumber));
        study.Parameters.AddWithValue("$modality", Db(instance.Modality));
        study.Parameters.AddWithValue("$increment", isDuplicate && !movesStudy ? 0 : 1);
        study.Parameters.AddWithValue("$received", received);
        await study.ExecuteNonQueryAsync(ct).ConfigureAwait(false);

        var upsert = statement(isDuplicate
            ? """
              UPDATE instances SET
                  study_uid = $study, series_uid = $series, sop_class_uid = $sopClass, modality = $modality,
                  transfer_syntax_uid = $transferSyntax, calling_ae = $callingAe, spool_path = $spoolPath,
                  size_bytes = $size, received_utc = $received, state = 'received', error = NULL, processed_utc = NULL
              WHERE sop_instance_uid = $sop;
              """
            : """
              INSERT INTO instances (sop_instance_uid, study_uid, series_uid, sop_class_uid, modality,
                                     transfer_syntax_uid, calling_ae, spool_path, size_bytes, received_utc, state)
              VALUES ($sop, $study, $series, $sopClass, $modality,
                      $transferSyntax, $callingAe, $spoolPath, $size, $received, 'received');
              """);
        upsert.Parameters.AddWithValue("$sop", instance.SopInstanceUid);
        upsert.Parameters.AddWithValue("$study", instance.StudyInstanceUid);
        upsert.Parameters.AddWithValue("$series", Db(instance.SeriesInstanceUid));
        upsert.Parameters.AddWithValue("$sopClass", instance.SopClassUid);
        upsert.Parameters.AddWithValue("$modality", Db(instance.Modality));
        upsert.Parameters.AddWithValue("$transferSyntax", instance.TransferSyntaxUid);
        upsert.Parameters.AddWithValue("$callingAe", instance.CallingAe);
        upsert.Parameters.AddWithValue("$spoolPath", instance.SpoolPath);
        upsert.Parameters.AddWithValue("$size", instance.SizeBytes);
        upsert.Parameters.AddWithValue("$received", received);
        await upsert.ExecuteNonQueryAsync(ct).ConfigureAwait(false);

        if (movesStudy)
        {
            // A re-send that now names another study: the old study loses the instance.
            var leave = statement(
                "UPDATE studies SET instance_count = MAX(instance_count - 1, 0) WHERE study_uid = $study;");
            leave.Parameters.AddWithValue("$study", previousStudy!);
            await leave.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            await RecomputeStudyStatusAsync(statement, previousStudy!, ct).ConfigureAwait(false);
        }

        StorageLog.InstanceRecorded(_logger, instance.SopInstanceUid, instance.StudyInstanceUid, isDuplicate);
        return isDuplicate ? RecordResult.Replaced(previousPath!) : RecordResult.Added;
    }

    public Task<IReadOnlyList<PendingInstance>> GetPendingInstancesAsync(int max, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(max);
        return ReadAsync<IReadOnlyList<PendingInstance>>(async (connection, ct) =>
        {
            await using var command = Command(connection, null, """
                SELECT sop_instance_uid, study_uid, modality, sop_class_uid, spool_path, received_utc
                FROM instances WHERE state = 'received'
                ORDER BY received_utc, rowid
                LIMIT $max;
                """);
            command.Parameters.AddWithValue("$max", max);
            var pending = new List<PendingInstance>();
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                pending.Add(new PendingInstance(
                    reader.GetString(0),
                    reader.GetString(1),
                    NullableString(reader, 2),
                    reader.GetString(3),
                    reader.GetString(4),
                    ParseTimestamp(reader.GetString(5))));
            }
            return pending;
        }, cancellationToken);
    }

    public Task MarkInstanceAsync(string sopInstanceUid, string state, string? error, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sopInstanceUid);
        if (!InstanceStates.IsValid(state))
        {
            throw new ArgumentOutOfRangeException(nameof(state), state, $"State must be one of {string.Join(", ", InstanceStates.All)}.");
        }
        return WriteAsync(async (connection, transaction, ct) =>
        {
            await using var command = Command(connection, transaction, """
                UPDATE instances SET state = $state, error = $error, processed_utc = $processed
                WHERE sop_instance_uid = $sop;
                """);
            command.Parameters.AddWithValue("$sop", sopInstanceUid);
            command.Parameters.AddWithValue("$state", state);
            command.Parameters.AddWithValue("$error", Db(error));
            command.Parameters.AddWithValue("$processed",
                state == InstanceStates.Received ? DBNull.Value : Timestamp(_timeProvider.GetUtcNow()));
            if (await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false) == 0)
            {
                StorageLog.MarkUnknownInstance(_logger, sopInstanceUid, state);
            }
            return true;
        }, cancellationToken);
    }

    public Task UpdateStudyStatusAsync(string studyUid, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(studyUid);
        return WriteAsync(async (connection, transaction, ct) =>
        {
            await RecomputeStudyStatusAsync(connection, transaction, studyUid, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    public Task AddFindingsAsync(IReadOnlyList<FindingRecord> findings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(findings);
        if (findings.Count == 0)
        {
            return Task.CompletedTask;
        }
        return WriteAsync(async (connection, transaction, ct) =>
        {
            await InsertFindingsAsync(connection, transaction, findings, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    public Task CompleteInstanceAsync(PendingInstance instance, string state, string? error, IReadOnlyList<FindingRecord> findings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        ArgumentNullException.ThrowIfNull(findings);
        if (!InstanceStates.IsValid(state) || state == InstanceStates.Received)
        {
            throw new ArgumentOutOfRangeException(nameof(state), state, "A completed instance is processed, skipped or failed.");
        }
        return WriteAsync(async (connection, transaction, ct) =>
        {
            await InsertFindingsAsync(connection, transaction, findings, ct).ConfigureAwait(false);
            await using var command = Command(connection, transaction, """
                UPDATE instances SET state = $state, error = $error, processed_utc = $processed
                WHERE sop_instance_uid = $sop;
                """);
            command.Parameters.AddWithValue("$sop", instance.SopInstanceUid);
            command.Parameters.AddWithValue("$state", state);
            command.Parameters.AddWithValue("$error", Db(error));
            command.Parameters.AddWithValue("$processed", Timestamp(_timeProvider.GetUtcNow()));
            if (await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false) == 0)
            {
                StorageLog.MarkUnknownInstance(_logger, instance.SopInstanceUid, state);
            }
            await RecomputeStudyStatusAsync(connection, transaction, instance.StudyUid, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken, syncToDisk: false);
    }

    private static async Task InsertFindingsAsync(SqliteConnection connection, SqliteTransaction transaction, IReadOnlyList<FindingRecord> findings, CancellationToken ct)
    {
        // DO UPDATE rather than INSERT OR REPLACE keeps the row id stable for API clients.
        await using var command = Command(connection, transaction, """
            INSERT INTO findings (study_uid, sop_instance_uid, model_id, model_version, model_sha256, label,
                                  probability, threshold, positive, execution_provider, inference_ms, created_utc)
            VALUES ($study, $sop, $modelId, $modelVersion, $sha, $label,
                    $probability, $threshold, $positive, $provider, $ms, $created)
            ON CONFLICT (sop_instance_uid, model_id, model_version, label) DO UPDATE SET
                study_uid = excluded.study_uid, model_sha256 = excluded.model_sha256,
                probability = excluded.probability, threshold = excluded.threshold, positive = excluded.positive,
                execution_provider = excluded.execution_provider, inference_ms = excluded.inference_ms,
                created_utc = excluded.created_utc;
            """);
        var study = command.Parameters.Add("$study", SqliteType.Text);
        var sop = command.Parameters.Add("$sop", SqliteType.Text);
        var modelId = command.Parameters.Add("$modelId", SqliteType.Text);
        var modelVersion = command.Parameters.Add("$modelVersion", SqliteType.Text);
        var sha = command.Parameters.Add("$sha", SqliteType.Text);
        var label = command.Parameters.Add("$label", SqliteType.Text);
        var probability = command.Parameters.Add("$probability", SqliteType.Real);
        var threshold = command.Parameters.Add("$threshold", SqliteType.Real);
        var positive = command.Parameters.Add("$positive", SqliteType.Integer);
        var provider = command.Parameters.Add("$provider", SqliteType.Text);
        var ms = command.Parameters.Add("$ms", SqliteType.Real);
        var created = command.Parameters.Add("$created", SqliteType.Text);
        foreach (var finding in findings)
        {
            study.Value = finding.StudyUid;
            sop.Value = finding.SopInstanceUid;
            modelId.Value = finding.ModelId;
            modelVersion.Value = finding.ModelVersion;
            sha.Value = finding.ModelSha256;
            label.Value = finding.Label;
            probability.Value = finding.Probability;
            threshold.Value = finding.Threshold;
            positive.Value = finding.Positive ? 1 : 0;
            provider.Value = finding.ExecutionProvider;
            ms.Value = finding.InferenceMs is { } value ? value : DBNull.Value;
            created.Value = Timestamp(finding.CreatedUtc);
            await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
        await InsertHeatmapsAsync(connection, transaction, findings, ct).ConfigureAwait(false);
    }

    /// <summary>Heat-map rows go in the findings' transaction: a finding is never recorded with a map row from an older run.</summary>
    private static async Task InsertHeatmapsAsync(SqliteConnection connection, SqliteTransaction transaction, IReadOnlyList<FindingRecord> findings, CancellationToken ct)
    {
        foreach (var finding in findings)
        {
            if (finding.Heatmap is not { } map)
            {
                continue;
            }
            await using var command = Command(connection, transaction, """
                INSERT INTO heatmaps (study_uid, sop_instance_uid, model_id, model_version, label, parametric_map_uid,
                                      columns, rows, float_map_path, overlay_png_path, cam_width, cam_height, cam, created_utc)
                VALUES ($study, $sop, $modelId, $modelVersion, $label, $pm, $columns, $rows, $float, $png, $camWidth, $camHeight, $cam, $created)
                ON CONFLICT (sop_instance_uid, model_id, model_version, label) DO UPDATE SET
                    study_uid = excluded.study_uid, parametric_map_uid = excluded.parametric_map_uid,
                    columns = excluded.columns, rows = excluded.rows, float_map_path = excluded.float_map_path,
                    overlay_png_path = excluded.overlay_png_path, cam_width = excluded.cam_width, cam_height = excluded.cam_height,
                    cam = excluded.cam, created_utc = excluded.created_utc;
                """);
            command.Parameters.AddWithValue("$study", finding.StudyUid);
            command.Parameters.AddWithValue("$sop", finding.SopInstanceUid);
            command.Parameters.AddWithValue("$modelId", finding.ModelId);
            command.Parameters.AddWithValue("$modelVersion", finding.ModelVersion);
            command.Parameters.AddWithValue("$label", finding.Label);
            command.Parameters.AddWithValue("$pm", map.ParametricMapUid);
            command.Parameters.AddWithValue("$columns", map.Columns);
            command.Parameters.AddWithValue("$rows", map.Rows);
            command.Parameters.AddWithValue("$float", map.FloatMapPath);
            command.Parameters.AddWithValue("$png", map.OverlayPngPath);
            command.Parameters.AddWithValue("$camWidth", map.CamWidth);
            command.Parameters.AddWithValue("$camHeight", map.CamHeight);
            command.Parameters.AddWithValue("$cam", HeatmapRecordEncoding.ToBytes(map.Cam));
            command.Parameters.AddWithValue("$created", Timestamp(finding.CreatedUtc));
            await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
    }

    public Task<IReadOnlyList<StudySummary>> ListStudiesAsync(int limit, int offset, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        return ReadAsync<IReadOnlyList<StudySummary>>(async (connection, ct) =>
        {
            await using var command = Command(connection, null,
                StudyColumns + " ORDER BY last_received_utc DESC, study_uid LIMIT $limit OFFSET $offset;");
            command.Parameters.AddWithValue("$limit", limit);
            command.Parameters.AddWithValue("$offset", offset);
            var studies = new List<StudySummary>();
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                studies.Add(ReadStudy(reader));
            }
            return studies;
        }, cancellationToken);
    }

    public Task<StudySummary?> GetStudyAsync(string studyUid, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(studyUid);
        return ReadAsync(async (connection, ct) =>
        {
            await using var command = Command(connection, null, StudyColumns + " WHERE study_uid = $study;");
            command.Parameters.AddWithValue("$study", studyUid);
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            return await reader.ReadAsync(ct).ConfigureAwait(false) ? ReadStudy(reader) : null;
        }, cancellationToken);
    }

    public Task<IReadOnlyList<StoredFinding>> ListFindingsAsync(string? studyUid, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        return ReadAsync<IReadOnlyList<StoredFinding>>(async (connection, ct) =>
        {
            await using var command = Command(connection, null, $"""
                SELECT id, study_uid, sop_instance_uid, model_id, model_version, model_sha256, label, probability,
                       threshold, positive, execution_provider, inference_ms, created_utc
                FROM findings
                {(studyUid is null ? "" : "WHERE study_uid = $study")}
                ORDER BY id DESC
                LIMIT $limit;
                """);
            if (studyUid is not null)
            {
                command.Parameters.AddWithValue("$study", studyUid);
            }
            command.Parameters.AddWithValue("$limit", limit);
            var findings = new List<StoredFinding>();
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                findings.Add(new StoredFinding(
                    reader.GetInt64(0),
                    new FindingRecord(
                        reader.GetString(1),
                        reader.GetString(2),
                        reader.GetString(3),
                        reader.GetString(4),
                        reader.GetString(5),
                        reader.GetString(6),
                        reader.GetDouble(7),
                        reader.GetDouble(8),
                        reader.GetInt64(9) != 0,
                        reader.GetString(10),
                        reader.IsDBNull(11) ? null : reader.GetDouble(11),
                        ParseTimestamp(reader.GetString(12)))));
            }
            return findings;
        }, cancellationToken);
    }

    public Task<StoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken) =>
        ReadAsync(async (connection, ct) =>
        {
            var byState = InstanceStates.All.ToDictionary(s => s, _ => 0L, StringComparer.Ordinal);
            long studies;
            long findings;
            // One read transaction so the three counts describe the same moment.
            await using var transaction = connection.BeginTransaction(deferred: true);
            await using (var command = Command(connection, transaction, "SELECT state, COUNT(*) FROM instances GROUP BY state;"))
            await using (var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    byState[reader.GetString(0)] = reader.GetInt64(1);
                }
            }
            await using (var command = Command(connection, transaction, "SELECT COUNT(*) FROM studies;"))
            {
                studies = Convert.ToInt64(await command.ExecuteScalarAsync(ct).ConfigureAwait(false), CultureInfo.InvariantCulture);
            }
            await using (var command = Command(connection, transaction, "SELECT COUNT(*) FROM findings;"))
            {
                findings = Convert.ToInt64(await command.ExecuteScalarAsync(ct).ConfigureAwait(false), CultureInfo.InvariantCulture);
            }
            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return new StoreStatistics(studies, byState, findings);
        }, cancellationToken);

    private const string StudyColumns = """
        SELECT study_uid, patient_id, patient_name, study_date, accession_number, modality, status,
               instance_count, first_received_utc, last_received_utc, completed_utc
        FROM studies
        """;

    private static StudySummary ReadStudy(SqliteDataReader reader) => new(
        reader.GetString(0),
        NullableString(reader, 1),
        NullableString(reader, 2),
        NullableString(reader, 3),
        NullableString(reader, 4),
        NullableString(reader, 5),
        reader.GetString(6),
        reader.GetInt32(7),
        ParseTimestamp(reader.GetString(8)),
        ParseTimestamp(reader.GetString(9)),
        reader.IsDBNull(10) ? null : ParseTimestamp(reader.GetString(10)));

    public Task<IReadOnlyList<string>> CompleteQuietStudiesAsync(DateTimeOffset lastReceivedBefore, CancellationToken cancellationToken) =>
        WriteAsync<IReadOnlyList<string>>(async (connection, transaction, ct) =>
        {
            await using var command = Command(connection, transaction, """
                UPDATE studies SET completed_utc = $now
                WHERE completed_utc IS NULL AND last_received_utc <= $cutoff
                RETURNING study_uid;
                """);
            command.Parameters.AddWithValue("$now", Timestamp(_timeProvider.GetUtcNow()));
            command.Parameters.AddWithValue("$cutoff", Timestamp(lastReceivedBefore));
            var completed = new List<string>();
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                completed.Add(reader.GetString(0));
            }
            return completed;
        }, cancellationToken);

    private static async Task RecomputeStudyStatusAsync(
        SqliteConnection connection, SqliteTransaction transaction, string studyUid, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, RecomputeStudyStatusSql);
        command.Parameters.AddWithValue("$study", studyUid);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task RecomputeStudyStatusAsync(Func<string, SqliteCommand> statement, string studyUid, CancellationToken cancellationToken)
    {
        var command = statement(RecomputeStudyStatusSql);
        command.Parameters.AddWithValue("$study", studyUid);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    // A study with no instances keeps whatever status it had.
    private const string RecomputeStudyStatusSql = """
        UPDATE studies SET status = CASE
            WHEN EXISTS (SELECT 1 FROM instances WHERE study_uid = $study AND state = 'received') THEN 'receiving'
            WHEN EXISTS (SELECT 1 FROM instances WHERE study_uid = $study AND state = 'failed') THEN 'failed'
            WHEN EXISTS (SELECT 1 FROM instances WHERE study_uid = $study) THEN 'processed'
            ELSE status END
        WHERE study_uid = $study;
        """;

    private Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, CancellationToken, Task<T>> work, CancellationToken cancellationToken, bool syncToDisk = true) =>
        _transactions.WriteAsync(work, cancellationToken, syncToDisk);

    private Task<T> ReadAsync<T>(Func<SqliteConnection, CancellationToken, Task<T>> work, CancellationToken cancellationToken) =>
        _transactions.ReadAsync(work, cancellationToken);

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql) =>
        SqliteTransactions.Command(connection, transaction, sql);

    private static object Db(string? value) => value is null ? DBNull.Value : value;

    private static string? NullableString(SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    internal static string Timestamp(DateTimeOffset value) =>
        value.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

    internal static DateTimeOffset ParseTimestamp(string value) =>
        DateTimeOffset.Parse(value, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
}
