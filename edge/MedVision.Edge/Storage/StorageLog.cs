using Microsoft.Data.Sqlite;

namespace MedVision.Edge.Storage;

/// <summary>Storage log messages; event ids 2000-2099.</summary>
internal static partial class StorageLog
{
    [LoggerMessage(EventId = 2000, Level = LogLevel.Information, Message = "Database {DatabasePath} is at schema version {Version} ({Applied} migration(s) applied now)")]
    public static partial void DatabaseReady(ILogger logger, string databasePath, int version, int applied);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Applying database migration {Version} ({Resource})")]
    public static partial void ApplyingMigration(ILogger logger, int version, string resource);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Database journal mode is {JournalMode}, not WAL; concurrent readers will block the writer")]
    public static partial void NotWal(ILogger logger, string journalMode);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Critical, Message = "Database migration failed for {DatabasePath}")]
    public static partial void MigrationFailed(ILogger logger, string databasePath, Exception exception);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Information, Message = "Storage root {Root}: spool {SpoolDirectory}, database {DatabasePath}")]
    public static partial void StorageLayout(ILogger logger, string root, string spoolDirectory, string databasePath);

    [LoggerMessage(EventId = 2010, Level = LogLevel.Debug, Message = "Instance {SopInstanceUid} of study {StudyUid} recorded (duplicate: {IsDuplicate})")]
    public static partial void InstanceRecorded(ILogger logger, string sopInstanceUid, string studyUid, bool isDuplicate);

    [LoggerMessage(EventId = 2011, Level = LogLevel.Warning, Message = "Cannot mark instance {SopInstanceUid} as {State}: it is not in the database")]
    public static partial void MarkUnknownInstance(ILogger logger, string sopInstanceUid, string state);

    [LoggerMessage(EventId = 2012, Level = LogLevel.Warning, Message = "Database busy (SQLite error {ErrorCode}); retry {Attempt} after {DelayMs} ms")]
    public static partial void BusyRetry(ILogger logger, int errorCode, int attempt, double delayMs, Exception? exception);

    public static bool IsBusy(SqliteException exception) => exception.SqliteErrorCode is SqliteBusy or SqliteLocked;

    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;
}
