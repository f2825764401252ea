using System.Text.Json;
using MedVision.Contracts;
using MedVision.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace MedVision.Cloud.Tests;

/// <summary>
/// Device identity and isolation, with the hub's embedded broker and with a real Mosquitto: enrolment issues
/// credentials, the broker refuses wrong ones, a device cannot publish to or subscribe to another device's topics,
/// and a message redelivered with the same idempotency key is stored once.
/// </summary>
public sealed class HubTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Embedded_broker_isolates_devices_and_stores_each_message_once()
    {
        await using var hub = await RunningHub.StartAsync();
        await CheckIsolationAndIdempotencyAsync(hub, hub.MqttPort, null);
    }

    [Fact]
    public async Task Mosquitto_isolates_devices_and_the_hub_stores_each_message_once()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using var hub = await RunningHub.StartAsync(broker.HubArgs);
        try
        {
            await CheckIsolationAndIdempotencyAsync(hub, broker.Port, broker);
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException("Mosquitto's log:\n" + broker.Log, ex);
        }
        Assert.DoesNotContain("error", broker.Log, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Enrolment_tokens_are_single_use_and_unknown_ones_are_refused()
    {
        await using var hub = await RunningHub.StartAsync();
        var token = await hub.CreateEnrolmentTokenAsync("site-x", "site-x-01");
        using (var first = await hub.Http.PostAsync("/api/enrol", JsonBody(new EnrolmentRequest(token.Token, null))))
        {
            Assert.True(first.IsSuccessStatusCode);
        }
        using (var again = await hub.Http.PostAsync("/api/enrol", JsonBody(new EnrolmentRequest(token.Token, null))))
        {
            Assert.Equal(System.Net.HttpStatusCode.Forbidden, again.StatusCode);
        }
        using (var unknown = await hub.Http.PostAsync("/api/enrol", JsonBody(new EnrolmentRequest("not-a-token", null))))
        {
            Assert.Equal(System.Net.HttpStatusCode.Forbidden, unknown.StatusCode);
        }
        using (var badSite = await hub.Http.PostAsync("/api/enrolments", JsonBody(new EnrolmentTokenRequest("bad/site", null, null))))
        {
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, badSite.StatusCode);
        }
    }

    [Fact]
    public async Task Fleet_marks_a_silent_appliance_stale_then_offline()
    {
        await using var hub = await RunningHub.StartAsync("--MedVision:Hub:StaleAfterSeconds=1", "--MedVision:Hub:OfflineAfterSeconds=2");
        var device = await hub.EnrolAsync("site-f", "site-f-01");
        using var client = await ConnectAsync(hub.MqttPort, device.DeviceId, device.Password);
        var published = await client.PublishAsync(Message(device.DeviceId, MessageTypes.Heartbeat, "hb-1", Heartbeat()));
        Assert.Equal(MqttClientPublishReasonCode.Success, published.ReasonCode);

        var fleet = await hub.GetJsonAsync("/api/fleet");
        var entry = fleet.EnumerateArray().Single(d => d.GetProperty("deviceId").GetString() == device.DeviceId);
        Assert.Equal("online", entry.GetProperty("status").GetString());
        Assert.Equal("1.2.3", entry.GetProperty("heartbeat").GetProperty("softwareVersion").GetString());
        await hub.WaitForAsync("/api/fleet", f => f[0].GetProperty("status").GetString() == "stale", Timeout);
        await hub.WaitForAsync("/api/fleet", f => f[0].GetProperty("status").GetString() == "offline", Timeout);
    }

    [Fact]
    public async Task With_keys_set_reads_need_the_read_or_admin_key_and_changes_the_admin_key()
    {
        await using var hub = await RunningHub.StartAsync("--MedVision:Hub:AdminApiKey=admin-secret", "--MedVision:Hub:ReadApiKey=viewer-secret");
        async Task<System.Net.HttpStatusCode> SendAsync(HttpMethod method, string path, Action<HttpRequestMessage>? authorize = null, HttpContent? content = null)
        {
            using var request = new HttpRequestMessage(method, path) { Content = content };
            authorize?.Invoke(request);
            using var response = await hub.Http.SendAsync(request);
            if (response.StatusCode == System.Net.HttpStatusCode.Unauthorized && method == HttpMethod.Get)
            {
                Assert.StartsWith("Basic", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
            }
            return response.StatusCode;
        }
        static Action<HttpRequestMessage> Header(string key) => r => r.Headers.Add("X-Api-Key", key);
        static Action<HttpRequestMessage> Basic(string password) => r => r.Headers.Authorization =
            new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("operator:" + password)));
        static Action<HttpRequestMessage> Bearer(string key) => r => r.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        HttpContent Token() => System.Net.Http.Json.JsonContent.Create(new EnrolmentTokenRequest("site-k", "site-k-01", null), options: ContractJson.Options);

        foreach (var path in new[] { "/api/fleet", "/api/findings", "/api/feedback", "/api/model-updates", "/dashboard" })
        {
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, await SendAsync(HttpMethod.Get, path));
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, await SendAsync(HttpMethod.Get, path, Header("wrong")));
            Assert.Equal(System.Net.HttpStatusCode.OK, await SendAsync(HttpMethod.Get, path, Header("viewer-secret")));
            Assert.Equal(System.Net.HttpStatusCode.OK, await SendAsync(HttpMethod.Get, path, Basic("viewer-secret")));
            Assert.Equal(System.Net.HttpStatusCode.OK, await SendAsync(HttpMethod.Get, path, Bearer("admin-secret")));
        }
        Assert.Equal(System.Net.HttpStatusCode.OK, await SendAsync(HttpMethod.Get, "/healthz"));
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, await SendAsync(HttpMethod.Post, "/api/enrolments", null, Token()));
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, await SendAsync(HttpMethod.Post, "/api/enrolments", Header("viewer-secret"), Token()));
        Assert.Equal(System.Net.HttpStatusCode.OK, await SendAsync(HttpMethod.Post, "/api/enrolments", Header("admin-secret"), Token()));
    }

    [Fact]
    public async Task Desired_properties_reach_a_device_that_connects_only_after_a_hub_restart()
    {
        // The embedded broker keeps retained messages in memory only; the hub republishes them from its database.
        await using var hub = await RunningHub.StartAsync();
        var device = await hub.EnrolAsync("site-r", "site-r-01");
        using (var put = await hub.Http.PutAsync($"/api/fleet/{device.DeviceId}/desired", System.Net.Http.Json.JsonContent.Create(new { heartbeatSeconds = 7 })))
        {
            put.EnsureSuccessStatusCode();
        }
        await hub.StopAsync();
        await hub.RestartAsync();

        using var client = await ConnectAsync(hub.MqttPort, device.DeviceId, device.Password);
        var received = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.ApplicationMessageReceivedAsync += e =>
        {
            received.TrySetResult(System.Buffers.BuffersExtensions.ToArray(e.ApplicationMessage.Payload));
            return Task.CompletedTask;
        };
        await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(Topics.Desired(device.DeviceId), MqttQualityOfServiceLevel.AtLeastOnce).Build());
        var desired = JsonSerializer.Deserialize<DesiredPropertiesV1>(await received.Task.WaitAsync(Timeout), ContractJson.Options)!;
        Assert.Equal(1, desired.Version);
        Assert.Equal(7, desired.Properties["heartbeatSeconds"].GetInt32());
    }

    internal static async Task CheckIsolationAndIdempotencyAsync(RunningHub hub, int brokerPort, MosquittoBroker? mosquitto)
    {
        var a = await hub.EnrolAsync("site-a", "site-a-01");
        var b = await hub.EnrolAsync("site-b", "site-b-01");

        // Wrong password: refused at CONNECT.
        using (var intruder = new MqttClientFactory().CreateMqttClient())
        {
            var refused = await intruder.ConnectAsync(Options(brokerPort, a.DeviceId, "wrong-password"));
            // MQTTnet answers "bad user name or password", Mosquitto 2.0 "not authorized": both refuse.
            Assert.Contains(refused.ResultCode, new[] { MqttClientConnectResultCode.BadUserNameOrPassword, MqttClientConnectResultCode.NotAuthorized });
        }

        using var clientA = await ConnectAsync(brokerPort, a.DeviceId, a.Password);
        var receivedByA = new System.Collections.Concurrent.ConcurrentQueue<string>();
        clientA.ApplicationMessageReceivedAsync += e =>
        {
            receivedByA.Enqueue(e.ApplicationMessage.Topic);
            return Task.CompletedTask;
        };

        // Own topic: stored; the same message id again (a redelivery after a lost PUBACK): stored once.
        var finding = Finding();
        for (var i = 0; i < 3; i++)
        {
            var own = await clientA.PublishAsync(Message(a.DeviceId, MessageTypes.Finding, "msg-1", finding));
            Assert.Equal(MqttClientPublishReasonCode.Success, own.ReasonCode);
        }
        var stored = await hub.WaitForAsync("/api/findings", f => f.GetArrayLength() >= 1, Timeout);

        // Another device's topics: the broker refuses the publish and the subscription.
        var foreign = await clientA.PublishAsync(Message(b.DeviceId, MessageTypes.Finding, "msg-2", finding));
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, foreign.ReasonCode);
        // Its own topic but claiming to be B in the envelope: the hub refuses it (checked below: not stored).
        await clientA.PublishAsync(Message(b.DeviceId, MessageTypes.Finding, "msg-3", finding, topicDevice: a.DeviceId));
        foreach (var filter in new[] { Topics.Desired(b.DeviceId), $"devices/{b.DeviceId}/#", "devices/+/messages/events/#", "#" })
        {
            var subscribe = await clientA.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(filter, MqttQualityOfServiceLevel.AtLeastOnce).Build());
            var code = subscribe.Items.Single().ResultCode;
            // The embedded broker refuses the SUBACK. Mosquitto's acl_file grants the subscription but checks read
            // access on every delivery (proved below: nothing of B's reaches A).
            Assert.True(code == MqttClientSubscribeResultCode.NotAuthorized || mosquitto is not null, $"{filter}: {code}");
        }
        if (mosquitto is not null)
        {
            using var clientB = await ConnectAsync(brokerPort, b.DeviceId, b.Password);
            var receivedByB = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            clientB.ApplicationMessageReceivedAsync += e =>
            {
                receivedByB.TrySetResult(e.ApplicationMessage.Topic);
                return Task.CompletedTask;
            };
            await clientB.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(Topics.Desired(b.DeviceId), MqttQualityOfServiceLevel.AtLeastOnce).Build());
            using var hubClient = new MqttClientFactory().CreateMqttClient();
            await hubClient.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", brokerPort)
                .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).WithClientId("test-hub-publisher")
                .WithCredentials(mosquitto.HubUser, mosquitto.HubPassword).Build());
            await hubClient.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Desired(b.DeviceId)).WithPayload("{}"u8.ToArray())
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            Assert.Equal(Topics.Desired(b.DeviceId), await receivedByB.Task.WaitAsync(Timeout));
        }
        // Its own twin: allowed.
        var ownTwin = await clientA.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(Topics.Desired(a.DeviceId), MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.True(ownTwin.Items.Single().ResultCode <= MqttClientSubscribeResultCode.GrantedQoS2, ownTwin.Items.Single().ResultCode.ToString());

        // Give a refused message time to arrive if the broker had let it through, then check nothing of it is stored.
        await Task.Delay(500);
        var findings = await hub.GetJsonAsync("/api/findings");
        var only = Assert.Single(findings.EnumerateArray());
        Assert.Equal(a.DeviceId, only.GetProperty("deviceId").GetString());
        Assert.Equal("msg-1", only.GetProperty("messageId").GetString());
        Assert.Equal(0.8125, only.GetProperty("finding").GetProperty("probability").GetDouble());
        Assert.True(only.TryGetProperty("receivedUtc", out _));
        _ = stored;
        Assert.Empty(receivedByA);

        var fleet = await hub.GetJsonAsync("/api/fleet");
        Assert.Equal(2, fleet.GetArrayLength());
        Assert.Equal("online", fleet.EnumerateArray().Single(d => d.GetProperty("deviceId").GetString() == a.DeviceId).GetProperty("status").GetString());
        Assert.Equal("enrolled", fleet.EnumerateArray().Single(d => d.GetProperty("deviceId").GetString() == b.DeviceId).GetProperty("status").GetString());

        var metrics = await hub.Http.GetStringAsync("/metrics");
        Assert.Contains("medvision_cloud_hub_messages_stored", metrics, StringComparison.Ordinal);
        await clientA.DisconnectAsync();
    }

    internal static async Task<IMqttClient> ConnectAsync(int port, string deviceId, string password)
    {
        // Mosquitto re-reads its password file on the hub's SIGHUP a moment after enrolment, as a device retrying would see.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            var client = new MqttClientFactory().CreateMqttClient();
            var result = await client.ConnectAsync(Options(port, deviceId, password));
            if (result.ResultCode == MqttClientConnectResultCode.NotAuthorized && DateTime.UtcNow < deadline)
            {
                client.Dispose();
                await Task.Delay(100);
                continue;
            }
            Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
            return client;
        }
    }

    internal static MqttClientOptions Options(int port, string deviceId, string password) => new MqttClientOptionsBuilder()
        .WithTcpServer("127.0.0.1", port)
        .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
        .WithClientId(deviceId)
        .WithCredentials(deviceId, password)
        .WithTimeout(TimeSpan.FromSeconds(10))
        .Build();

    internal static MqttApplicationMessage Message<T>(string deviceId, string type, string messageId, T body, string? topicDevice = null) =>
        new MqttApplicationMessageBuilder()
            .WithTopic(Topics.Events(topicDevice ?? deviceId, type))
            .WithPayload(ContractJson.Serialize(ContractJson.CreateEnvelope(messageId, deviceId, type, DateTimeOffset.UtcNow, body)))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();

    internal static FindingV1 Finding() => new(
        "2.25.1", "2.25.2", "MV-0000000000000000", "CR", "cxr-pneumonia", "2.0.0", new string('a', 64), "pneumonia",
        0.8125, 0.5, true, "CPU", 12.5, DateTimeOffset.UtcNow);

    internal static HeartbeatV1 Heartbeat() => new("1.2.3", [new ModelVersionV1("cxr-pneumonia", "2.0.0", new string('a', 64))], 10, 1_000_000, 0, 0, 0, null, "CPU");

    private static StringContent JsonBody<T>(T value) => new(JsonSerializer.Serialize(value, ContractJson.Options), System.Text.Encoding.UTF8, "application/json");
}
