using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace MedVision.Cloud.Fleet;

/// <summary>
/// The fleet database in PostgreSQL (Npgsql), for several hub instances sharing one database. Same schema and
/// semantics as <see cref="SqliteHubStore"/>; the (device, message id) unique key makes redelivery to any instance
/// store once.
/// </summary>
internal sealed class PostgresHubStore : IHubStore, IAsyncDisposable
{
    // Any number (the hub's event-id range): serialises schema creation when instances start together.
    private const long SchemaLockKey = 7_999_001;

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS enrolment_tokens (
            token_hash TEXT PRIMARY KEY,
            site_id TEXT NOT NULL,
            device_id TEXT NOT NULL,
            created_ms BIGINT NOT NULL,
            expires_ms BIGINT NOT NULL,
            used_ms BIGINT
        );
        CREATE TABLE IF NOT EXISTS devices (
            device_id TEXT PRIMARY KEY,
            site_id TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            hostname TEXT,
            enrolled_ms BIGINT NOT NULL,
            last_seen_ms BIGINT,
            heartbeat_ms BIGINT,
            heartbeat_json TEXT,
            messages BIGINT NOT NULL DEFAULT 0,
            desired_version BIGINT NOT NULL DEFAULT 0,
            desired_json TEXT,
            reported_version BIGINT,
            reported_json TEXT
        );
        CREATE TABLE IF NOT EXISTS messages (
            seq BIGSERIAL PRIMARY KEY,
            device_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            type TEXT NOT NULL,
            schema_version INTEGER NOT NULL,
            created_ms BIGINT NOT NULL,
            received_ms BIGINT NOT NULL,
            body TEXT NOT NULL,
            UNIQUE (device_id, message_id)
        );
        CREATE INDEX IF NOT EXISTS ix_messages_type ON messages (type, seq);
        CREATE TABLE IF NOT EXISTS model_packages (
            package_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size BIGINT NOT NULL,
            created_ms BIGINT NOT NULL,
            content BYTEA NOT NULL
        );
        """;

    private readonly NpgsqlDataSource _dataSource;

    public PostgresHubStore(IOptions<HubOptions> options)
    {
        var builder = new NpgsqlConnectionStringBuilder(options.Value.PostgresConnectionString);
        Description = $"PostgreSQL {builder.Host}:{builder.Port}/{builder.Database}";
        _dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
    }

    public string Description { get; }

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var lockCommand = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({SchemaLockKey});", connection, transaction))
        {
            await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await using (var schema = new NpgsqlCommand(Schema, connection, transaction))
        {
            await schema.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task CreateEnrolmentTokenAsync(string tokenHash, string siteId, string deviceId, DateTimeOffset createdUtc, DateTimeOffset expiresUtc, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(
            "INSERT INTO enrolment_tokens (token_hash, site_id, device_id, created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5);");
        command.Parameters.Add(new() { Value = tokenHash });
        command.Parameters.Add(new() { Value = siteId });
        command.Parameters.Add(new() { Value = deviceId });
        command.Parameters.Add(new() { Value = createdUtc.ToUnixTimeMilliseconds() });
        command.Parameters.Add(new() { Value = expiresUtc.ToUnixTimeMilliseconds() });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<EnrolmentOutcome> RedeemEnrolmentTokenAsync(string tokenHash, string passwordHash, string? hostname, DateTimeOffset nowUtc, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        string siteId, deviceId;
        await using (var find = new NpgsqlCommand("SELECT site_id, device_id, expires_ms, used_ms FROM enrolment_tokens WHERE token_hash = $1 FOR UPDATE;", connection, transaction))
        {
            find.Parameters.Add(new() { Value = tokenHash });
            await using var reader = await find.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return new EnrolmentOutcome(false, null, null, "unknown enrolment token");
            }
            if (!reader.IsDBNull(3))
            {
                return new EnrolmentOutcome(false, null, null, "enrolment token already used");
            }
            if (reader.GetInt64(2) < nowUtc.ToUnixTimeMilliseconds())
            {
                return new EnrolmentOutcome(false, null, null, "enrolment token expired");
            }
            siteId = reader.GetString(0);
            deviceId = reader.GetString(1);
        }
        await using (var use = new NpgsqlCommand("UPDATE enrolment_tokens SET used_ms = $1 WHERE token_hash = $2;", connection, transaction))
        {
            use.Parameters.Add(new() { Value = nowUtc.ToUnixTimeMilliseconds() });
            use.Parameters.Add(new() { Value = tokenHash });
            await use.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await using (var upsert = new NpgsqlCommand("""
            INSERT INTO devices (device_id, site_id, password_hash, hostname, enrolled_ms) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (device_id) DO UPDATE SET site_id = EXCLUDED.site_id, password_hash = EXCLUDED.password_hash,
                hostname = EXCLUDED.hostname, enrolled_ms = EXCLUDED.enrolled_ms;
            """, connection, transaction))
        {
            upsert.Parameters.Add(new() { Value = deviceId });
            upsert.Parameters.Add(new() { Value = siteId });
            upsert.Parameters.Add(new() { Value = passwordHash });
            upsert.Parameters.Add(new() { Value = (object?)hostname ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            upsert.Parameters.Add(new() { Value = nowUtc.ToUnixTimeMilliseconds() });
            await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new EnrolmentOutcome(true, deviceId, siteId, null);
    }

    public async Task<string?> GetPasswordHashAsync(string deviceId, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("SELECT password_hash FROM devices WHERE device_id = $1;");
        command.Parameters.Add(new() { Value = deviceId });
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
    }

    public async Task<IReadOnlyList<(string DeviceId, string PasswordHash)>> ListCredentialsAsync(CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("SELECT device_id, password_hash FROM devices ORDER BY device_id;");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<(string, string)>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add((reader.GetString(0), reader.GetString(1)));
        }
        return list;
    }

    public async Task<bool[]> StoreAsync(IReadOnlyList<IncomingMessage> messages, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        // One round trip for the whole batch of inserts; each command's row count says whether it was new.
        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var m in messages)
        {
            var insert = new NpgsqlBatchCommand("""
                INSERT INTO messages (device_id, message_id, type, schema_version, created_ms, received_ms, body)
                VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (device_id, message_id) DO NOTHING;
                """);
            insert.Parameters.Add(new() { Value = m.DeviceId });
            insert.Parameters.Add(new() { Value = m.MessageId });
            insert.Parameters.Add(new() { Value = m.Type });
            insert.Parameters.Add(new() { Value = m.SchemaVersion });
            insert.Parameters.Add(new() { Value = m.CreatedUtc.ToUnixTimeMilliseconds() });
            insert.Parameters.Add(new() { Value = m.ReceivedUtc.ToUnixTimeMilliseconds() });
            insert.Parameters.Add(new() { Value = m.BodyJson });
            batch.BatchCommands.Add(insert);
        }
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        var inserted = new bool[messages.Count];
        for (var i = 0; i < messages.Count; i++)
        {
            inserted[i] = batch.BatchCommands[i].RecordsAffected == 1;
        }

        await using var updates = new NpgsqlBatch(connection, transaction);
        var seenByDevice = new Dictionary<string, (long LastMs, int Count)>(StringComparer.Ordinal);
        for (var i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            var received = m.ReceivedUtc.ToUnixTimeMilliseconds();
            seenByDevice[m.DeviceId] = seenByDevice.TryGetValue(m.DeviceId, out var prior)
                ? (Math.Max(prior.LastMs, received), prior.Count + (inserted[i] ? 1 : 0))
                : (received, inserted[i] ? 1 : 0);
            if (inserted[i] && m.Type == Contracts.MessageTypes.Heartbeat)
            {
                var heartbeat = new NpgsqlBatchCommand(
                    "UPDATE devices SET heartbeat_ms = $2, heartbeat_json = $3 WHERE device_id = $1 AND COALESCE(heartbeat_ms, 0) <= $2;");
                heartbeat.Parameters.Add(new() { Value = m.DeviceId });
                heartbeat.Parameters.Add(new() { Value = m.CreatedUtc.ToUnixTimeMilliseconds() });
                heartbeat.Parameters.Add(new() { Value = m.BodyJson });
                updates.BatchCommands.Add(heartbeat);
            }
            if (inserted[i] && m.Type == Contracts.MessageTypes.Reported)
            {
                using var body = JsonDocument.Parse(m.BodyJson);
                var reported = new NpgsqlBatchCommand(
                    "UPDATE devices SET reported_version = $2, reported_json = $3 WHERE device_id = $1 AND COALESCE(reported_version, -1) < $2;");
                reported.Parameters.Add(new() { Value = m.DeviceId });
                reported.Parameters.Add(new() { Value = body.RootElement.GetProperty("version").GetInt64() });
                reported.Parameters.Add(new() { Value = m.BodyJson });
                updates.BatchCommands.Add(reported);
            }
        }
        foreach (var (deviceId, (lastMs, count)) in seenByDevice)
        {
            var seen = new NpgsqlBatchCommand(
                "UPDATE devices SET last_seen_ms = GREATEST(COALESCE(last_seen_ms, 0), $2), messages = messages + $3 WHERE device_id = $1;");
            seen.Parameters.Add(new() { Value = deviceId });
            seen.Parameters.Add(new() { Value = lastMs });
            seen.Parameters.Add(new() { Value = (long)count });
            updates.BatchCommands.Add(seen);
        }
        if (updates.BatchCommands.Count > 0)
        {
            await updates.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return inserted;
    }

    public async Task<IReadOnlyList<DeviceRecord>> ListDevicesAsync(CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(
            "SELECT device_id, site_id, hostname, enrolled_ms, last_seen_ms, heartbeat_ms, heartbeat_json, messages, desired_version, desired_json, reported_version, reported_json FROM devices ORDER BY site_id, device_id;");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<DeviceRecord>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(new DeviceRecord(
                reader.GetString(0),
                reader.GetString(1),
                reader.IsDBNull(2) ? null : reader.GetString(2),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)),
                reader.IsDBNull(4) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)),
                reader.IsDBNull(5) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5)),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.GetInt64(7),
                reader.GetInt64(8),
                reader.IsDBNull(9) ? null : reader.GetString(9),
                reader.IsDBNull(10) ? null : reader.GetInt64(10),
                reader.IsDBNull(11) ? null : reader.GetString(11)));
        }
        return list;
    }

    public async Task<IReadOnlyList<StoredMessage>> ListMessagesAsync(string? type, string? deviceId, DateTimeOffset? since, int limit, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("""
            SELECT seq, device_id, message_id, type, schema_version, created_ms, received_ms, body FROM messages
            WHERE ($1::text IS NULL OR type = $1) AND ($2::text IS NULL OR device_id = $2) AND received_ms >= $3
            ORDER BY seq DESC LIMIT $4;
            """);
        command.Parameters.Add(new() { Value = (object?)type ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)deviceId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = since?.ToUnixTimeMilliseconds() ?? 0L });
        command.Parameters.Add(new() { Value = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<StoredMessage>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(new StoredMessage(
                reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5)), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6)), reader.GetString(7)));
        }
        return list;
    }

    public async Task<long> CountMessagesAsync(string? type, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("SELECT COUNT(*) FROM messages WHERE $1::text IS NULL OR type = $1;");
        command.Parameters.Add(new() { Value = (object?)type ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    public async Task<long> DeleteMessagesAsync(string type, DateTimeOffset receivedBefore, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("DELETE FROM messages WHERE type = $1 AND received_ms < $2;");
        command.Parameters.Add(new() { Value = type });
        command.Parameters.Add(new() { Value = receivedBefore.ToUnixTimeMilliseconds() });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<long?> SetDesiredAsync(string deviceId, string propertiesJson, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(
            "UPDATE devices SET desired_version = desired_version + 1, desired_json = $2 WHERE device_id = $1 RETURNING desired_version;");
        command.Parameters.Add(new() { Value = deviceId });
        command.Parameters.Add(new() { Value = propertiesJson });
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as long?;
    }

    public async Task SavePackageAsync(ModelPackageRecord package, byte[] content, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(
            "INSERT INTO model_packages (package_id, name, sha256, size, created_ms, content) VALUES ($1, $2, $3, $4, $5, $6);");
        command.Parameters.Add(new() { Value = package.PackageId });
        command.Parameters.Add(new() { Value = package.Name });
        command.Parameters.Add(new() { Value = package.Sha256 });
        command.Parameters.Add(new() { Value = package.SizeBytes });
        command.Parameters.Add(new() { Value = package.CreatedUtc.ToUnixTimeMilliseconds() });
        command.Parameters.Add(new() { Value = content });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<(ModelPackageRecord Package, byte[] Content)?> GetPackageAsync(string packageId, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("SELECT name, sha256, size, created_ms, content FROM model_packages WHERE package_id = $1;");
        command.Parameters.Add(new() { Value = packageId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }
        var record = new ModelPackageRecord(packageId, reader.GetString(0), reader.GetString(1), reader.GetInt64(2), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)));
        return (record, (byte[])reader.GetValue(4));
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
