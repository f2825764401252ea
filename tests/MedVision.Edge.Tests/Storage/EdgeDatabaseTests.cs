using MedVision.Edge.Storage;
using Microsoft.Data.Sqlite;

namespace MedVision.Edge.Tests.Storage;

public sealed class EdgeDatabaseTests
{
    [Fact]
    public async Task Migrations_are_idempotent()
    {
        await using var storage = await TempStorage.CreateAsync(migrate: false);

        var first = await storage.Database.MigrateAsync(CancellationToken.None);
        var second = await storage.Database.MigrateAsync(CancellationToken.None);

        var names = typeof(EdgeDatabase).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith("MedVision.Edge.Storage.Migrations.", StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .ToList();
        var migrations = names.Count;
        // Areas reserve migration numbers, so the numbers can have gaps: the version is the highest one applied.
        var highest = names.Max(n => int.Parse(n["MedVision.Edge.Storage.Migrations.".Length..][..4], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(highest, first);
        Assert.Equal(first, second);
        await using var connection = await storage.Database.OpenConnectionAsync(CancellationToken.None);
        Assert.Equal((long)migrations, await ScalarAsync(connection, "SELECT COUNT(*) FROM schema_migrations;"));
        foreach (var table in new[] { "studies", "instances", "findings" })
        {
            Assert.Equal(1L, await ScalarAsync(connection, $"SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}';"));
        }
        foreach (var index in new[] { "ix_instances_state", "ix_instances_study_uid", "ix_findings_study_uid" })
        {
            Assert.Equal(1L, await ScalarAsync(connection, $"SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = '{index}';"));
        }
    }

    [Fact]
    public async Task Migration_creates_the_storage_layout_and_uses_wal()
    {
        await using var storage = await TempStorage.CreateAsync();

        Assert.True(Directory.Exists(storage.Options.SpoolDirectory));
        Assert.True(Directory.Exists(storage.Options.OutputsDirectory));
        Assert.True(File.Exists(storage.Options.DatabasePath));
        Assert.Equal(Path.Combine(storage.Root, "db", "edge.db"), storage.Options.DatabasePath);
        await using var connection = await storage.Database.OpenConnectionAsync(CancellationToken.None);
        Assert.Equal("wal", await ScalarAsync(connection, "PRAGMA journal_mode;"));
        Assert.Equal(1L, await ScalarAsync(connection, "PRAGMA foreign_keys;"));
        Assert.Equal(2L, await ScalarAsync(connection, "PRAGMA synchronous;")); // 2 = FULL
        Assert.Equal(5000L, await ScalarAsync(connection, "PRAGMA busy_timeout;"));
    }

    [Fact]
    public async Task Foreign_keys_reject_an_instance_without_its_study()
    {
        await using var storage = await TempStorage.CreateAsync();
        await using var connection = await storage.Database.OpenConnectionAsync(CancellationToken.None);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO instances (sop_instance_uid, study_uid, sop_class_uid, transfer_syntax_uid, calling_ae,
                                   spool_path, size_bytes, received_utc, state)
            VALUES ('1', 'no-such-study', '1', '1', 'AE', '/x', 1, '2024-01-01T00:00:00.0000000+00:00', 'received');
            """;
        var error = await Assert.ThrowsAsync<SqliteException>(() => command.ExecuteNonQueryAsync());
        Assert.Equal(19, error.SqliteErrorCode); // SQLITE_CONSTRAINT
    }

    private static async Task<object?> ScalarAsync(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync();
    }
}
