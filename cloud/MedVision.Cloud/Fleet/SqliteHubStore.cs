using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace MedVision.Cloud.Fleet;

/// <summary>
/// The fleet database in SQLite (WAL, synchronous FULL: a message is durable before the broker acknowledges it).
/// Times are stored as Unix milliseconds.
/// </summary>
internal sealed class SqliteHubStore : IHubStore, IDisposable
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS enrolment_tokens (
            token_hash TEXT PRIMARY KEY,
            site_id TEXT NOT NULL,
            device_id TEXT NOT NULL,
            created_ms INTEGER NOT NULL,
            expires_ms INTEGER NOT NULL,
            used_ms INTEGER
        );
        CREATE TABLE IF NOT EXISTS devices (
            device_id TEXT PRIMARY KEY,
            site_id TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            hostname TEXT,
            enrolled_ms INTEGER NOT NULL,
            last_seen_ms INTEGER,
            heartbeat_ms INTEGER,
            heartbeat_json TEXT,
            messages INTEGER NOT NULL DEFAULT 0,
            desired_version INTEGER NOT NULL DEFAULT 0,
            desired_json TEXT,
            reported_version INTEGER,
            reported_json TEXT
        );
        CREATE TABLE IF NOT EXISTS messages (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            device_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            type TEXT NOT NULL,
            schema_version INTEGER NOT NULL,
            created_ms INTEGER NOT NULL,
            received_ms INTEGER NOT NULL,
            body TEXT NOT NULL,
            UNIQUE (device_id, message_id)
        );
        CREATE INDEX IF NOT EXISTS ix_messages_type ON messages (type, seq);
        CREATE TABLE IF NOT EXISTS model_packages (
            package_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            created_ms INTEGER NOT NULL,
            content BLOB NOT NULL
        );
        """;

    private readonly string _connectionString;
    private readonly string _path;

    public SqliteHubStore(IOptions<HubOptions> options)
    {
        _path = Path.GetFullPath(options.Value.DatabasePath);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = _path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public string Description => _path;

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (var wal = Command(connection, null, "PRAGMA journal_mode=WAL;"))
        {
            await wal.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await using var command = Command(connection, null, Schema);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task CreateEnrolmentTokenAsync(string tokenHash, string siteId, string deviceId, DateTimeOffset createdUtc, DateTimeOffset expiresUtc, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null,
            "INSERT INTO enrolment_tokens (token_hash, site_id, device_id, created_ms, expires_ms) VALUES ($t, $s, $d, $c, $e);");
        command.Parameters.AddWithValue("$t", tokenHash);
        command.Parameters.AddWithValue("$s", siteId);
        command.Parameters.AddWithValue("$d", deviceId);
        command.Parameters.AddWithValue("$c", createdUtc.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$e", expiresUtc.ToUnixTimeMilliseconds());
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<EnrolmentOutcome> RedeemEnrolmentTokenAsync(string tokenHash, string passwordHash, string? hostname, DateTimeOffset nowUtc, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = connection.BeginTransaction(deferred: false);
        string siteId, deviceId;
        await using (var find = Command(connection, transaction, "SELECT site_id, device_id, expires_ms, used_ms FROM enrolment_tokens WHERE token_hash = $t;"))
        {
            find.Parameters.AddWithValue("$t", tokenHash);
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
        await using (var use = Command(connection, transaction, "UPDATE enrolment_tokens SET used_ms = $n WHERE token_hash = $t;"))
        {
            use.Parameters.AddWithValue("$n", nowUtc.ToUnixTimeMilliseconds());
            use.Parameters.AddWithValue("$t", tokenHash);
            await use.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await using (var upsert = Command(connection, transaction, """
            INSERT INTO devices (device_id, site_id, password_hash, hostname, enrolled_ms) VALUES ($d, $s, $p, $h, $n)
            ON CONFLICT (device_id) DO UPDATE SET site_id = $s, password_hash = $p, hostname = $h, enrolled_ms = $n;
            """))
        {
            upsert.Parameters.AddWithValue("$d", deviceId);
            upsert.Parameters.AddWithValue("$s", siteId);
            upsert.Parameters.AddWithValue("$p", passwordHash);
            upsert.Parameters.AddWithValue("$h", (object?)hostname ?? DBNull.Value);
            upsert.Parameters.AddWithValue("$n", nowUtc.ToUnixTimeMilliseconds());
            await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new EnrolmentOutcome(true, deviceId, siteId, null);
    }

    public async Task<string?> GetPasswordHashAsync(string deviceId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null, "SELECT password_hash FROM devices WHERE device_id = $d;");
        command.Parameters.AddWithValue("$d", deviceId);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
    }

    public async Task<IReadOnlyList<(string DeviceId, string PasswordHash)>> ListCredentialsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null, "SELECT device_id, password_hash FROM devices ORDER BY device_id;");
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
        var inserted = new bool[messages.Count];
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = connection.BeginTransaction(deferred: false);
        await using var insert = Command(connection, transaction, """
            INSERT INTO messages (device_id, message_id, type, schema_version, created_ms, received_ms, body)
            VALUES ($d, $m, $t, $v, $c, $r, $b) ON CONFLICT (device_id, message_id) DO NOTHING;
            """);
        var pd = insert.Parameters.Add("$d", SqliteType.Text);
        var pm = insert.Parameters.Add("$m", SqliteType.Text);
        var pt = insert.Parameters.Add("$t", SqliteType.Text);
        var pv = insert.Parameters.Add("$v", SqliteType.Integer);
        var pc = insert.Parameters.Add("$c", SqliteType.Integer);
        var pr = insert.Parameters.Add("$r", SqliteType.Integer);
        var pb = insert.Parameters.Add("$b", SqliteType.Text);
        await using var seen = Command(connection, transaction,
            "UPDATE devices SET last_seen_ms = MAX(COALESCE(last_seen_ms, 0), $r), messages = messages + $n WHERE device_id = $d;");
        var sd = seen.Parameters.Add("$d", SqliteType.Text);
        var sr = seen.Parameters.Add("$r", SqliteType.Integer);
        var sn = seen.Parameters.Add("$n", SqliteType.Integer);
        await using var reported = Command(connection, transaction,
            "UPDATE devices SET reported_version = $v, reported_json = $b WHERE device_id = $d AND COALESCE(reported_version, -1) < $v;");
        var rd = reported.Parameters.Add("$d", SqliteType.Text);
        var rv = reported.Parameters.Add("$v", SqliteType.Integer);
        var rb = reported.Parameters.Add("$b", SqliteType.Text);
        await using var heartbeat = Command(connection, transaction,
            "UPDATE devices SET heartbeat_ms = $c, heartbeat_json = $b WHERE device_id = $d AND COALESCE(heartbeat_ms, 0) <= $c;");
        var hd = heartbeat.Parameters.Add("$d", SqliteType.Text);
        var hc = heartbeat.Parameters.Add("$c", SqliteType.Integer);
        var hb = heartbeat.Parameters.Add("$b", SqliteType.Text);

        // One last-seen update per device and batch, not per message: a busy device sends many per batch.
        var seenByDevice = new Dictionary<string, (long LastMs, int Count)>(StringComparer.Ordinal);
        for (var i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            pd.Value = m.DeviceId;
            pm.Value = m.MessageId;
            pt.Value = m.Type;
            pv.Value = m.SchemaVersion;
            pc.Value = m.CreatedUtc.ToUnixTimeMilliseconds();
            pr.Value = m.ReceivedUtc.ToUnixTimeMilliseconds();
            pb.Value = m.BodyJson;
            inserted[i] = await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
            var received = m.ReceivedUtc.ToUnixTimeMilliseconds();
            seenByDevice[m.DeviceId] = seenByDevice.TryGetValue(m.DeviceId, out var prior)
                ? (Math.Max(prior.LastMs, received), prior.Count + (inserted[i] ? 1 : 0))
                : (received, inserted[i] ? 1 : 0);
            if (inserted[i] && m.Type == Contracts.MessageTypes.Heartbeat)
            {
                hd.Value = m.DeviceId;
                hc.Value = m.CreatedUtc.ToUnixTimeMilliseconds();
                hb.Value = m.BodyJson;
                await heartbeat.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            if (inserted[i] && m.Type == Contracts.MessageTypes.Reported)
            {
                using var body = System.Text.Json.JsonDocument.Parse(m.BodyJson);
                rd.Value = m.DeviceId;
                rv.Value = body.RootElement.GetProperty("version").GetInt64();
                rb.Value = m.BodyJson;
                await reported.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        foreach (var (deviceId, (lastMs, count)) in seenByDevice)
        {
            sd.Value = deviceId;
            sr.Value = lastMs;
            sn.Value = count;
            await seen.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return inserted;
    }

    public async Task<IReadOnlyList<DeviceRecord>> ListDevicesAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null,
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
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null, """
            SELECT seq, device_id, message_id, type, schema_version, created_ms, received_ms, body FROM messages
            WHERE ($t IS NULL OR type = $t) AND ($d IS NULL OR device_id = $d) AND received_ms >= $s
            ORDER BY seq DESC LIMIT $l;
            """);
        command.Parameters.AddWithValue("$t", (object?)type ?? DBNull.Value);
        command.Parameters.AddWithValue("$d", (object?)deviceId ?? DBNull.Value);
        command.Parameters.AddWithValue("$s", since?.ToUnixTimeMilliseconds() ?? 0L);
        command.Parameters.AddWithValue("$l", limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<StoredMessage>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(new StoredMessage(
                reader.GetInt64(0),
                reader.GetString(1),
                reader.GetString(2),
                reader.GetString(3),
                reader.GetInt32(4),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5)),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6)),
                reader.GetString(7)));
        }
        return list;
    }

    public async Task<long> CountMessagesAsync(string? type, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null, "SELECT COUNT(*) FROM messages WHERE $t IS NULL OR type = $t;");
        command.Parameters.AddWithValue("$t", (object?)type ?? DBNull.Value);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
    }

    public async Task<long> DeleteMessagesAsync(string type, DateTimeOffset receivedBefore, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null, "DELETE FROM messages WHERE type = $t AND received_ms < $before;");
        command.Parameters.AddWithValue("$t", type);
        command.Parameters.AddWithValue("$before", receivedBefore.ToUnixTimeMilliseconds());
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<long?> SetDesiredAsync(string deviceId, string propertiesJson, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null,
            "UPDATE devices SET desired_version = desired_version + 1, desired_json = $j WHERE device_id = $d RETURNING desired_version;");
        command.Parameters.AddWithValue("$d", deviceId);
        command.Parameters.AddWithValue("$j", propertiesJson);
        var version = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return version is null ? null : Convert.ToInt64(version, CultureInfo.InvariantCulture);
    }

    public async Task SavePackageAsync(ModelPackageRecord package, byte[] content, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null,
            "INSERT INTO model_packages (package_id, name, sha256, size, created_ms, content) VALUES ($i, $n, $s, $z, $c, $b);");
        command.Parameters.AddWithValue("$i", package.PackageId);
        command.Parameters.AddWithValue("$n", package.Name);
        command.Parameters.AddWithValue("$s", package.Sha256);
        command.Parameters.AddWithValue("$z", package.SizeBytes);
        command.Parameters.AddWithValue("$c", package.CreatedUtc.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$b", content);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<(ModelPackageRecord Package, byte[] Content)?> GetPackageAsync(string packageId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null, "SELECT name, sha256, size, created_ms, content FROM model_packages WHERE package_id = $i;");
        command.Parameters.AddWithValue("$i", packageId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }
        var record = new ModelPackageRecord(packageId, reader.GetString(0), reader.GetString(1), reader.GetInt64(2), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)));
        return (record, (byte[])reader.GetValue(4));
    }

    public void Dispose()
    {
        using var connection = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(connection);
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var pragmas = Command(connection, null, "PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;");
            await pragmas.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }
}
