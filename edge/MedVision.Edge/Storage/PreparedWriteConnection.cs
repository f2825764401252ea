using Microsoft.Data.Sqlite;
using Polly;

namespace MedVision.Edge.Storage;

/// <summary>
/// One long-lived connection whose statements stay prepared, for the write on the C-STORE path: each instance's record
/// would otherwise pay for a pooled open, its pragmas and the parsing of every statement (about two thirds of the
/// record's time, measured). Calls are serialised, which costs nothing: SQLite has one writer at a time anyway.
/// </summary>
/// <remarks>
/// Its commits skip the WAL flush (synchronous=NORMAL): only work that start-up recovery can rebuild from durable
/// files belongs here. After any failure the connection and its statements are dropped and opened afresh.
/// </remarks>
internal sealed class PreparedWriteConnection(EdgeDatabase database, ResiliencePipeline busyRetry) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, SqliteCommand> _statements = new(StringComparer.Ordinal);
    private SqliteConnection? _connection;
    private bool _disposed;

    /// <summary>Runs <paramref name="work"/> in one BEGIN IMMEDIATE transaction; it gets statements by their SQL text.</summary>
    public async Task<T> WriteAsync<T>(Func<Func<string, SqliteCommand>, CancellationToken, Task<T>> work, CancellationToken cancellationToken) =>
        await busyRetry.ExecuteAsync(async ct =>
        {
            await _gate.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                var connection = _connection ??= await OpenAsync(ct).ConfigureAwait(false);
                try
                {
                    T result;
                    using (var transaction = connection.BeginTransaction(deferred: false))
                    {
                        result = await work(sql => Statement(connection, transaction, sql), ct).ConfigureAwait(false);
                        transaction.Commit();
                    }
                    return result;
                }
                catch
                {
                    Drop();
                    throw;
                }
            }
            finally
            {
                _gate.Release();
            }
        }, cancellationToken).ConfigureAwait(false);

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var relax = connection.CreateCommand();
        relax.CommandText = "PRAGMA synchronous=NORMAL;";
        await relax.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }

    private SqliteCommand Statement(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        if (!_statements.TryGetValue(sql, out var command))
        {
            command = connection.CreateCommand();
            command.CommandText = sql;
            _statements[sql] = command;
        }
        // Parameters are bound at each execution; the compiled statement survives Clear().
        command.Parameters.Clear();
        command.Transaction = transaction;
        return command;
    }

    private void Drop()
    {
        foreach (var command in _statements.Values)
        {
            command.Dispose();
        }
        _statements.Clear();
        _connection?.Dispose();
        _connection = null;
    }

    public void Dispose()
    {
        _gate.Wait();
        try
        {
            _disposed = true;
            Drop();
        }
        finally
        {
            _gate.Release();
        }
    }
}
