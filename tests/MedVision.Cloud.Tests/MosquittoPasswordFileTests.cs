using MedVision.Cloud.Broker;
using MedVision.Cloud.Fleet;
using MedVision.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MedVision.Cloud.Tests;

/// <summary>
/// The Mosquitto password file as scaled-out hubs share it: instances on one database and one folder write it at the
/// same time, and a write that cannot happen is reported and retried instead of stopping the hub.
/// </summary>
public sealed class MosquittoPasswordFileTests
{
    [Fact]
    public async Task Two_hub_instances_writing_at_once_leave_one_whole_file_and_report_no_error()
    {
        using var folder = new TempDirectory("medvision-passwd");
        var options = Options(folder, folder.Combine("passwd"));
        using var store = new SqliteHubStore(options);
        await store.MigrateAsync(CancellationToken.None);
        var devices = await EnrolAsync(store, 3);
        var logs = new CapturingLoggerProvider();
        var hubA = new MosquittoPasswordFile(store, options, logs.CreateLogger<MosquittoPasswordFile>());
        var hubB = new MosquittoPasswordFile(store, options, logs.CreateLogger<MosquittoPasswordFile>());

        // Each instance serialises its own writes; the two together used to share one temporary file and lose a rename
        // (a background service failure that stopped a hub in CI). Without the lock 4000 writes hit it every time here.
        await Task.WhenAll(Enumerable.Range(0, 4000).Select(i => Task.Run(() => (i % 2 == 0 ? hubA : hubB).CredentialsChangedAsync(CancellationToken.None))));

        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Warning);
        Assert.True(hubA.UpToDate);
        Assert.True(hubB.UpToDate);
        var users = File.ReadAllLines(folder.Combine("passwd")).Select(l => l.Split(':')[0]).ToList();
        Assert.Equal(["medvision-hub", .. devices], users);
        Assert.Empty(Directory.GetFiles(folder.Path, "*.tmp"));
    }

    [Fact]
    public async Task A_folder_that_cannot_be_written_is_reported_and_the_next_attempt_catches_up()
    {
        using var folder = new TempDirectory("medvision-passwd");
        var brokerFolder = folder.Combine("broker");
        var options = Options(folder, Path.Combine(brokerFolder, "passwd"));
        using var store = new SqliteHubStore(options);
        await store.MigrateAsync(CancellationToken.None);
        var devices = await EnrolAsync(store, 1);
        var logs = new CapturingLoggerProvider();
        var sink = new MosquittoPasswordFile(store, options, logs.CreateLogger<MosquittoPasswordFile>());

        // The broker's folder is not there yet (its volume not mounted): no exception, an error, and not up to date.
        await sink.CredentialsChangedAsync(CancellationToken.None);
        Assert.False(sink.UpToDate);
        var error = Assert.Single(logs.Entries, e => e.Level == LogLevel.Error);
        Assert.Equal(7034, error.EventId.Id);
        Assert.IsAssignableFrom<IOException>(error.Exception);

        Directory.CreateDirectory(brokerFolder);
        await sink.CredentialsChangedAsync(CancellationToken.None);
        Assert.True(sink.UpToDate);
        Assert.Equal(["medvision-hub", .. devices], File.ReadAllLines(Path.Combine(brokerFolder, "passwd")).Select(l => l.Split(':')[0]));
    }

    [Fact]
    public async Task A_hub_whose_password_folder_is_missing_keeps_running_and_writes_the_file_once_the_folder_is_there()
    {
        // A real hub on a real Mosquitto; only its password file points into a folder that is not there yet.
        await using var broker = await MosquittoBroker.StartAsync();
        using var late = new TempDirectory("medvision-passwd-late");
        var passwordFile = Path.Combine(late.Combine("broker"), "passwd");
        await using var hub = await RunningHub.StartAsync([.. broker.HubArgs, $"--MedVision:Hub:External:PasswordFile={passwordFile}"]);

        // Enrolment is committed even though the broker's copy cannot be written, and the hub stays up.
        var device = await hub.EnrolAsync("site-late", "site-late-01");
        Assert.Equal("ok", (await hub.GetJsonAsync("/healthz")).GetProperty("status").GetString());
        Assert.False(File.Exists(passwordFile));

        Directory.CreateDirectory(Path.GetDirectoryName(passwordFile)!);
        await Eventually.UntilAsync(() => File.Exists(passwordFile), TimeSpan.FromSeconds(20), "the broker client's retry writes the password file");
        Assert.Equal([broker.HubUser, device.DeviceId], File.ReadAllLines(passwordFile).Select(l => l.Split(':')[0]));
        Assert.Equal("ok", (await hub.GetJsonAsync("/healthz")).GetProperty("status").GetString());
    }

    private static IOptions<HubOptions> Options(TempDirectory folder, string passwordFile)
    {
        var options = new HubOptions { DatabasePath = folder.Combine("hub.db") };
        options.External.Password = "hub-secret";
        options.External.PasswordFile = passwordFile;
        return Microsoft.Extensions.Options.Options.Create(options);
    }

    private static async Task<List<string>> EnrolAsync(SqliteHubStore store, int count)
    {
        var now = DateTimeOffset.UtcNow;
        var devices = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var deviceId = $"site-{i}-01";
            await store.CreateEnrolmentTokenAsync($"token-{i}", $"site-{i}", deviceId, now, now.AddHours(1), CancellationToken.None);
            var outcome = await store.RedeemEnrolmentTokenAsync($"token-{i}", MosquittoPasswordHash.Create($"pw-{i}"), null, now, CancellationToken.None);
            Assert.True(outcome.Success, outcome.Error);
            devices.Add(deviceId);
        }
        return devices;
    }
}
