using System.Globalization;
using System.Text.Json;
using MedVision.Edge.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Review;

/// <summary>
/// Radiologists' reviews of findings (table <c>finding_reviews</c>, migration 0010). Reviews are only ever added: the
/// newest of a finding is its current one and the earlier ones stay as its history.
/// </summary>
public sealed class ReviewStore
{
    private readonly SqliteTransactions _db;
    private readonly IReadOnlyList<IReviewSink> _sinks;
    private readonly TimeProvider _time;
    private readonly ILogger<ReviewStore> _logger;

    /// <param name="sinks">Told of each review inside its transaction (cloud sync adds the feedback sink; none without sync).</param>
    public ReviewStore(EdgeDatabase database, IOptions<StorageOptions> storage, IEnumerable<IReviewSink> sinks, TimeProvider time, ILogger<ReviewStore> logger)
    {
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentNullException.ThrowIfNull(sinks);
        _db = SqliteTransactions.Create(database, storage.Value.TransientRetryCount, logger, time);
        _sinks = sinks.ToList();
        _time = time;
        _logger = logger;
    }

    /// <summary>
    /// Records a review (arguments already validated) and, in the same transaction, lets the sinks act on it.
    /// Returns null when no finding has <paramref name="findingId"/>.
    /// </summary>
    public async Task<FindingReview?> RecordAsync(long findingId, string decision, string reviewer, string? comment, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reviewer);
        if (!ReviewDecisions.IsValid(decision))
        {
            throw new ArgumentException($"decision must be {ReviewDecisions.Confirmed} or {ReviewDecisions.Rejected}.", nameof(decision));
        }
        var now = _time.GetUtcNow();
        var review = await _db.WriteAsync<FindingReview?>(async (connection, transaction, ct) =>
        {
            var finding = await LoadFindingAsync(connection, transaction, findingId, ct).ConfigureAwait(false);
            if (finding is null)
            {
                return null;
            }
            await using var insert = SqliteTransactions.Command(connection, transaction, """
                INSERT INTO finding_reviews (finding_id, decision, reviewer, comment, reviewed_utc)
                VALUES ($f, $d, $r, $c, $t) RETURNING id;
                """);
            insert.Parameters.AddWithValue("$f", findingId);
            insert.Parameters.AddWithValue("$d", decision);
            insert.Parameters.AddWithValue("$r", reviewer);
            insert.Parameters.AddWithValue("$c", (object?)comment ?? DBNull.Value);
            insert.Parameters.AddWithValue("$t", now.ToString("O", CultureInfo.InvariantCulture));
            var id = Convert.ToInt64(await insert.ExecuteScalarAsync(ct).ConfigureAwait(false), CultureInfo.InvariantCulture);
            var recorded = new FindingReview(id, findingId, decision, reviewer, comment, now);
            foreach (var sink in _sinks)
            {
                await sink.OnReviewRecordedAsync(connection, transaction, recorded, finding, ct).ConfigureAwait(false);
            }
            return recorded;
        }, cancellationToken).ConfigureAwait(false);

        if (review is null)
        {
            ReviewLog.UnknownFinding(_logger, findingId);
            return null;
        }
        foreach (var sink in _sinks)
        {
            sink.Committed();
        }
        ReviewLog.Recorded(_logger, findingId, decision, reviewer, review.Id);
        return review;
    }

    /// <summary>The current (newest) review of each of <paramref name="findingIds"/> that has one.</summary>
    public Task<IReadOnlyDictionary<long, FindingReview>> CurrentAsync(IReadOnlyCollection<long> findingIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(findingIds);
        if (findingIds.Count == 0)
        {
            return Task.FromResult<IReadOnlyDictionary<long, FindingReview>>(new Dictionary<long, FindingReview>());
        }
        return _db.ReadAsync<IReadOnlyDictionary<long, FindingReview>>(async (connection, ct) =>
        {
            // One parameter however many ids: json_each turns the array into rows.
            await using var command = SqliteTransactions.Command(connection, null, """
                SELECT id, finding_id, decision, reviewer, comment, reviewed_utc FROM finding_reviews
                WHERE id IN (SELECT MAX(id) FROM finding_reviews
                             WHERE finding_id IN (SELECT value FROM json_each($ids)) GROUP BY finding_id);
                """);
            command.Parameters.AddWithValue("$ids", JsonSerializer.Serialize(findingIds));
            var current = new Dictionary<long, FindingReview>();
            foreach (var review in await ReadAllAsync(command, ct).ConfigureAwait(false))
            {
                current[review.FindingId] = review;
            }
            return current;
        }, cancellationToken);
    }

    /// <summary>Every review of a finding, newest first; null when the finding does not exist.</summary>
    public Task<IReadOnlyList<FindingReview>?> HistoryAsync(long findingId, CancellationToken cancellationToken) =>
        _db.ReadAsync<IReadOnlyList<FindingReview>?>(async (connection, ct) =>
        {
            await using (var exists = SqliteTransactions.Command(connection, null, "SELECT 1 FROM findings WHERE id = $f;"))
            {
                exists.Parameters.AddWithValue("$f", findingId);
                if (await exists.ExecuteScalarAsync(ct).ConfigureAwait(false) is null)
                {
                    return null;
                }
            }
            await using var command = SqliteTransactions.Command(connection, null, """
                SELECT id, finding_id, decision, reviewer, comment, reviewed_utc FROM finding_reviews
                WHERE finding_id = $f ORDER BY id DESC;
                """);
            command.Parameters.AddWithValue("$f", findingId);
            return await ReadAllAsync(command, ct).ConfigureAwait(false);
        }, cancellationToken);

    private static async Task<ReviewedFinding?> LoadFindingAsync(SqliteConnection connection, SqliteTransaction transaction, long findingId, CancellationToken ct)
    {
        await using var command = SqliteTransactions.Command(connection, transaction, """
            SELECT f.study_uid, f.sop_instance_uid, f.model_id, f.model_version, f.model_sha256, f.label, f.probability,
                   f.threshold, f.positive, f.execution_provider, f.inference_ms, f.created_utc, s.patient_id, i.modality
            FROM findings f
            LEFT JOIN studies s ON s.study_uid = f.study_uid
            LEFT JOIN instances i ON i.sop_instance_uid = f.sop_instance_uid
            WHERE f.id = $f;
            """);
        command.Parameters.AddWithValue("$f", findingId);
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        if (!await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            return null;
        }
        var finding = new FindingRecord(
            reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5),
            reader.GetDouble(6), reader.GetDouble(7), reader.GetInt64(8) != 0, reader.GetString(9),
            reader.IsDBNull(10) ? null : reader.GetDouble(10),
            DateTimeOffset.Parse(reader.GetString(11), CultureInfo.InvariantCulture));
        return new ReviewedFinding(findingId, finding, reader.IsDBNull(12) ? null : reader.GetString(12), reader.IsDBNull(13) ? null : reader.GetString(13));
    }

    private static async Task<IReadOnlyList<FindingReview>> ReadAllAsync(SqliteCommand command, CancellationToken ct)
    {
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var list = new List<FindingReview>();
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            list.Add(new FindingReview(
                reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2), reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4),
                DateTimeOffset.Parse(reader.GetString(5), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind)));
        }
        return list;
    }
}
