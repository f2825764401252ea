using System.Globalization;
using System.Text.RegularExpressions;
using MedVision.Contracts;
using MedVision.Testing;
using MQTTnet;

namespace MedVision.Cloud.Tests;

/// <summary>
/// The hub on PostgreSQL (Npgsql) instead of SQLite: the same isolation and exactly-once storage, and two hub
/// instances sharing one Mosquitto (shared subscription) and one database, splitting the messages between them
/// and still storing each once.
/// </summary>
public sealed partial class PostgresHubTests
{
    [Fact]
    public async Task Hub_on_postgres_isolates_devices_and_stores_each_message_once()
    {
        await using var postgres = await PostgresServer.StartAsync();
        await using var hub = await RunningHub.StartAsync($"--MedVision:Hub:PostgresConnectionString={postgres.ConnectionString}");
        await HubTests.CheckIsolationAndIdempotencyAsync(hub, hub.MqttPort, null);
    }

    [Fact]
    public async Task Two_hub_instances_on_one_broker_and_one_postgres_split_the_messages_and_store_each_once()
    {
        await using var postgres = await PostgresServer.StartAsync();
        await using var broker = await MosquittoBroker.StartAsync();
        string[] shared = [.. broker.HubArgs, $"--MedVision:Hub:PostgresConnectionString={postgres.ConnectionString}"];
        await using var first = await RunningHub.StartAsync([.. shared, "--MedVision:Hub:External:ClientId=hub-a"]);
        await using var second = await RunningHub.StartAsync([.. shared, "--MedVision:Hub:External:ClientId=hub-b"]);
        var device = await first.EnrolAsync("site-pg", "site-pg-01");
        using var client = await HubTests.ConnectAsync(broker.Port, device.DeviceId, device.Password);

        const int Messages = 200;
        for (var i = 0; i < Messages; i++)
        {
            // Every tenth message is sent twice, as after a lost PUBACK.
            for (var copy = 0; copy < (i % 10 == 0 ? 2 : 1); copy++)
            {
                await client.PublishAsync(HubTests.Message(device.DeviceId, MessageTypes.Finding, $"m-{i}", HubTests.Finding()));
            }
        }
        // Either instance answers for the whole fleet: the state is in the database.
        await second.WaitForAsync($"/api/findings?limit={Messages * 2}", f => f.GetArrayLength() >= Messages, TimeSpan.FromSeconds(30));
        await Task.Delay(500);
        var findings = await first.GetJsonAsync($"/api/findings?limit={Messages * 2}");
        Assert.Equal(Messages, findings.GetArrayLength());
        Assert.Equal(Messages, findings.EnumerateArray().Select(f => f.GetProperty("messageId").GetString()).Distinct().Count());

        var storedByFirst = await StoredAsync(first);
        var storedBySecond = await StoredAsync(second);
        Assert.True(storedByFirst > 0 && storedBySecond > 0, $"hub-a stored {storedByFirst}, hub-b {storedBySecond}: the shared subscription did not split the load\n" + string.Join("\n", (await first.Http.GetStringAsync("/metrics")).Split('\n').Where(l => l.Contains("stored", StringComparison.Ordinal))));
        Assert.Equal(Messages, storedByFirst + storedBySecond);
    }

    private static async Task<long> StoredAsync(RunningHub hub)
    {
        var metrics = await hub.Http.GetStringAsync("/metrics");
        return StoredLine().Matches(metrics).Sum(m => (long)double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"^medvision_cloud_hub_messages_stored\{[^}]*\}\s+([0-9.eE+]+)", RegexOptions.Multiline)]
    private static partial Regex StoredLine();
}
