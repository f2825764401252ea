using Microsoft.Data.Sqlite;
using Polly;
using Polly.Retry;

namespace MedVision.Edge.Storage;

/// <summary>
/// How every SQLite repository here talks to the database: one short transaction per call (writes take the write
/// lock up front), retried briefly when another connection holds the lock.
/// </summary>
internal sealed class SqliteTransactions(EdgeDatabase database, ResiliencePipeline pipeline)
{
    public static SqliteTransactions Create(EdgeDatabase database, int retries, ILogger logger, TimeProvider timeProvider) =>
        new(database, BuildBusyRetry(retries, logger, timeProvider));

    /// <param name="syncToDisk">
    /// False for work that can be recomputed from what is already durable (findings of a spooled instance): the commit then skips
    /// the WAL fsync (synchronous=NORMAL). After a power cut such a commit may be lost but never half-applied, and the next durable
    /// commit on any connection flushes it with everything before it.
    /// </param>
    public async Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, CancellationToken, Task<T>> work, CancellationToken cancellationToken, bool syncToDisk = true) =>
        await pipeline.ExecuteAsync(async ct =>
        {
            await using var connection = await database.OpenConnectionAsync(ct).ConfigureAwait(false);
            if (!syncToDisk)
            {
                // Per connection, and OpenConnectionAsync sets FULL again on the next use of this pooled connection.
                await using var relax = Command(connection, null, "PRAGMA synchronous=NORMAL;");
                await relax.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            await using var transaction = connection.BeginTransaction(deferred: false);
            var result = await work(connection, transaction, ct).ConfigureAwait(false);
            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return result;
        }, cancellationToken).ConfigureAwait(false);

    public async Task<T> ReadAsync<T>(Func<SqliteConnection, CancellationToken, Task<T>> work, CancellationToken cancellationToken) =>
        await pipeline.ExecuteAsync(async ct =>
        {
            await using var connection = await database.OpenConnectionAsync(ct).ConfigureAwait(false);
            return await work(connection, ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);

    public static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }

    internal static ResiliencePipeline BuildBusyRetry(int retries, ILogger logger, TimeProvider timeProvider)
    {
        if (retries <= 0)
        {
            return ResiliencePipeline.Empty;
        }
        return new ResiliencePipelineBuilder { TimeProvider = timeProvider }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<SqliteException>(StorageLog.IsBusy),
                MaxRetryAttempts = retries,
                Delay = TimeSpan.FromMilliseconds(50),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                OnRetry = args =>
                {
                    var code = (args.Outcome.Exception as SqliteException)?.SqliteErrorCode ?? 0;
                    StorageLog.BusyRetry(logger, code, args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds, args.Outcome.Exception);
                    return default;
                },
            })
            .Build();
    }
}
