using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Storage;

/// <summary>
/// The appliance's SQLite database: hands out configured connections and brings the schema up to date.
/// </summary>
/// <remarks>
/// Connections are pooled, so opening one per operation is cheap and lets concurrent associations write
/// without sharing a connection (a <see cref="SqliteConnection"/> is not thread-safe).
/// </remarks>
public sealed partial class EdgeDatabase : IDisposable
{
    /// <summary>Embedded migration scripts are named <c>MedVision.Edge.Storage.Migrations.NNNN_name.sql</c>.</summary>
    internal const string MigrationResourcePrefix = "MedVision.Edge.Storage.Migrations.";

    // Per-connection settings. FULL makes a commit durable before C-STORE success is answered;
    // busy_timeout lets writers from several associations queue instead of failing at once.
    private const string ConnectionPragmas =
        "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;";

    private readonly StorageOptions _options;
    private readonly ILogger<EdgeDatabase> _logger;
    private readonly Assembly _migrationAssembly;

    public EdgeDatabase(IOptions<StorageOptions> options, ILogger<EdgeDatabase> logger)
        : this(options, logger, typeof(EdgeDatabase).Assembly)
    {
    }

    internal EdgeDatabase(IOptions<StorageOptions> options, ILogger<EdgeDatabase> logger, Assembly migrationAssembly)
    {
        _options = options.Value;
        _logger = logger;
        _migrationAssembly = migrationAssembly;
        ConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = _options.DatabasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public string ConnectionString { get; }

    public string DatabasePath => _options.DatabasePath;

    /// <summary>Opens a pooled connection with the appliance's per-connection pragmas applied.</summary>
    public async Task<SqliteConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var command = connection.CreateCommand();
            command.CommandText = ConnectionPragmas;
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Creates the storage folders and applies every embedded migration not yet recorded in
    /// <c>schema_migrations</c>, each in its own transaction. Safe to call more than once.
    /// </summary>
    /// <returns>The schema version the database is at afterwards.</returns>
    public async Task<int> MigrateAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(_options.Root);
        Directory.CreateDirectory(_options.SpoolDirectory);
        Directory.CreateDirectory(_options.DatabaseDirectory);
        Directory.CreateDirectory(_options.OutputsDirectory);
        StorageLog.StorageLayout(_logger, _options.Root, _options.SpoolDirectory, _options.DatabasePath);

        try
        {
            await using var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

            // journal_mode is stored in the file, so setting it once here covers every later connection.
            var journalMode = Convert.ToString(
                await ScalarAsync(connection, null, "PRAGMA journal_mode=WAL;", cancellationToken).ConfigureAwait(false),
                CultureInfo.InvariantCulture) ?? "";
            if (!journalMode.Equals("wal", StringComparison.OrdinalIgnoreCase))
            {
                StorageLog.NotWal(_logger, journalMode);
            }

            await ExecuteAsync(
                connection,
                null,
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_utc TEXT NOT NULL);",
                cancellationToken).ConfigureAwait(false);

            var applied = 0;
            foreach (var migration in DiscoverMigrations())
            {
                cancellationToken.ThrowIfCancellationRequested();
                // IMMEDIATE takes the write lock before the check, so two processes starting together
                // cannot both decide a migration is missing and apply it twice.
                await using var transaction = connection.BeginTransaction(deferred: false);
                var already = await ScalarAsync(
                    connection,
                    transaction,
                    "SELECT COUNT(*) FROM schema_migrations WHERE version = $version;",
                    cancellationToken,
                    ("$version", migration.Version)).ConfigureAwait(false);
                if (Convert.ToInt64(already, CultureInfo.InvariantCulture) > 0)
                {
                    continue;
                }

                StorageLog.ApplyingMigration(_logger, migration.Version, migration.ResourceName);
                await ExecuteAsync(connection, transaction, ReadResource(migration.ResourceName), cancellationToken).ConfigureAwait(false);
                await ExecuteAsync(
                    connection,
                    transaction,
                    "INSERT INTO schema_migrations (version, applied_utc) VALUES ($version, $applied);",
                    cancellationToken,
                    ("$version", migration.Version),
                    ("$applied", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture))).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                applied++;
            }

            var version = Convert.ToInt32(
                await ScalarAsync(connection, null, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations;", cancellationToken).ConfigureAwait(false),
                CultureInfo.InvariantCulture);
            StorageLog.DatabaseReady(_logger, _options.DatabasePath, version, applied);
            return version;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            StorageLog.MigrationFailed(_logger, _options.DatabasePath, ex);
            throw;
        }
    }

    /// <summary>Releases pooled connections so the database file is closed (tests, shutdown).</summary>
    public void Dispose()
    {
        using var connection = new SqliteConnection(ConnectionString);
        SqliteConnection.ClearPool(connection);
    }

    internal IReadOnlyList<(int Version, string ResourceName)> DiscoverMigrations()
    {
        var migrations = new List<(int Version, string ResourceName)>();
        foreach (var name in _migrationAssembly.GetManifestResourceNames())
        {
            if (!name.StartsWith(MigrationResourcePrefix, StringComparison.Ordinal))
            {
                continue;
            }
            var match = MigrationName().Match(name[MigrationResourcePrefix.Length..]);
            if (!match.Success)
            {
                throw new InvalidOperationException($"Embedded migration '{name}' is not named NNNN_description.sql.");
            }
            migrations.Add((int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), name));
        }
        migrations.Sort((a, b) => a.Version.CompareTo(b.Version));
        for (var i = 1; i < migrations.Count; i++)
        {
            if (migrations[i].Version == migrations[i - 1].Version)
            {
                throw new InvalidOperationException($"Two embedded migrations share version {migrations[i].Version}.");
            }
        }
        if (migrations.Count == 0)
        {
            // A build that lost its EmbeddedResource item would otherwise start on an empty schema.
            throw new InvalidOperationException("No embedded database migrations found.");
        }
        return migrations;
    }

    private string ReadResource(string name)
    {
        using var stream = _migrationAssembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Embedded migration '{name}' is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static async Task ExecuteAsync(
        SqliteConnection connection,
        SqliteTransaction? transaction,
        string sql,
        CancellationToken cancellationToken,
        params (string Name, object Value)[] parameters)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (parameterName, value) in parameters)
        {
            command.Parameters.AddWithValue(parameterName, value);
        }
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<object?> ScalarAsync(
        SqliteConnection connection,
        SqliteTransaction? transaction,
        string sql,
        CancellationToken cancellationToken,
        params (string Name, object Value)[] parameters)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (parameterName, value) in parameters)
        {
            command.Parameters.AddWithValue(parameterName, value);
        }
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
    }

    [GeneratedRegex(@"^(\d+)_[A-Za-z0-9_\-]+\.sql$")]
    private static partial Regex MigrationName();
}
