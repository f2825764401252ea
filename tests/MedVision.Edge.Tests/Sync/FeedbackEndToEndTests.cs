using System.Net;
using System.Text.Json;
using MedVision.Cloud.Fleet;
using MedVision.Cloud.Tests;
using MedVision.Contracts;
using MedVision.Dicom.Deidentification;
using MedVision.Edge.Review;
using MedVision.Edge.Tests.EndToEnd;
using MedVision.Edge.Tests.Review;
using MedVision.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace MedVision.Edge.Tests.Sync;

/// <summary>
/// Active learning end to end: storescu sends a study full of PHI to the appliance, a radiologist reviews the finding
/// through the API, and the real hub (in-process, embedded broker, read key set) stores the verdict and serves it at
/// /api/feedback, joinable with the finding, while nothing it holds names the patient, the reviewer or their comment.
/// </summary>
public sealed class FeedbackEndToEndTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private const string ReadKey = "viewer-secret";
    private const string Reviewer = "Dr Hildegard Okonkwo-Review";
    private const string Comment = "Agree. Patient ZEBEDEE phoned, see PID-0007-771 notes from St Ursula";

    [Fact]
    public async Task A_review_on_the_appliance_reaches_the_hub_as_deidentified_feedback_stored_once()
    {
        await using var hub = await RunningHub.StartAsync($"--MedVision:Hub:ReadApiKey={ReadKey}");
        var token = await hub.CreateEnrolmentTokenAsync("site-review");
        await using var appliance = await RunningAppliance.StartAsync(CloudSyncEndToEndTests.ApplianceArgs(hub, hub.MqttPort, token.Token));
        using var files = new TempDirectory();
        var study = PhiStudy.Create(files.Path, Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images").Image(3), 7);

        // /api/feedback is a read like the others: no key, no feedback.
        using (var anonymous = await hub.Http.GetAsync("/api/feedback"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }
        hub.Http.DefaultRequestHeaders.Add("X-Api-Key", ReadKey);

        var store = await ExternalTool.RunAsync("storescu", ["-aec", "MEDVISION", "127.0.0.1", appliance.DicomPortText, study.Path]);
        Assert.True(store.ExitCode == 0, store.Combined);
        var findings = await hub.WaitForAsync("/api/findings", f => f.GetArrayLength() > 0, Timeout);
        var findingMessage = Assert.Single(findings.EnumerateArray());
        var local = (await appliance.WaitForAsync($"/api/findings?study={study.StudyUid}", f => f.GetArrayLength() > 0, Timeout))[0];
        var findingId = local.GetProperty("id").GetInt64();

        var clock = System.Diagnostics.Stopwatch.StartNew();
        using (var confirmed = await ReviewApiTests.PostAsync(appliance, findingId, JsonSerializer.Serialize(new { decision = "confirmed", by = Reviewer, comment = Comment })))
        {
            Assert.Equal(HttpStatusCode.OK, confirmed.StatusCode);
        }
        var feedback = await hub.WaitForAsync($"/api/feedback?device={token.DeviceId}", f => f.GetArrayLength() > 0, Timeout);
        output.WriteLine($"review POST → feedback stored at the hub: {clock.ElapsedMilliseconds} ms");

        var received = Assert.Single(feedback.EnumerateArray());
        Assert.Equal(token.DeviceId, received.GetProperty("deviceId").GetString());
        Assert.Equal(1, received.GetProperty("schemaVersion").GetInt32());
        Assert.True(received.TryGetProperty("receivedUtc", out _));
        var body = received.GetProperty("feedback");
        Assert.False(body.TryGetProperty("by", out _));
        Assert.False(body.TryGetProperty("comment", out _));
        var verdict = body.Deserialize<FeedbackV1>(ContractJson.Options)!;
        Assert.Equal(FeedbackDecisions.Confirmed, verdict.Decision);
        Assert.Equal(findingMessage.GetProperty("messageId").GetString(), verdict.FindingMessageId);
        var siteKey = DeidentificationKey.FromFile(Path.Combine(appliance.Data.Path, "cloud", "site.key"));
        Assert.Equal(siteKey.MapUid(study.StudyUid), verdict.StudyPseudonym);
        Assert.Equal(siteKey.MapUid(study.SopInstanceUid), verdict.InstancePseudonym);
        Assert.Equal(local.GetProperty("probability").GetDouble(), verdict.Probability, 9);
        Assert.Equal(local.GetProperty("threshold").GetDouble(), verdict.Threshold, 9);
        Assert.Equal(("cxr-pneumonia", "pneumonia", "CR"), (verdict.ModelId, verdict.Label, verdict.Modality));
        var reviewedLocally = (await appliance.GetJsonAsync($"/api/findings?study={study.StudyUid}"))[0].GetProperty("review");
        Assert.Equal(reviewedLocally.GetProperty("reviewedUtc").GetDateTimeOffset(), verdict.ReviewedUtc);
        Assert.Empty((await hub.GetJsonAsync("/api/feedback?device=no-such-device")).EnumerateArray());

        // A second opinion is a second message; the first is not changed.
        using (var rejected = await ReviewApiTests.PostAsync(appliance, findingId, JsonSerializer.Serialize(new { decision = "rejected", by = "dr-b" })))
        {
            Assert.Equal(HttpStatusCode.OK, rejected.StatusCode);
        }
        feedback = await hub.WaitForAsync("/api/feedback", f => f.GetArrayLength() == 2, Timeout);
        Assert.Equal(["rejected", "confirmed"], feedback.EnumerateArray().Select(f => f.GetProperty("feedback").GetProperty("decision").GetString()));

        // Re-sending the first review (same message id, as after a lost acknowledgement) stores nothing new.
        var services = appliance.Services;
        var history = (await services.GetRequiredService<ReviewStore>().HistoryAsync(findingId, CancellationToken.None))!;
        var pseudonyms = services.GetRequiredService<MedVision.Edge.Sync.SitePseudonyms>();
        var reviewed = new ReviewedFinding(findingId, ReviewStoreFinding(local), study.Phi[3], "CR");
        var again = MedVision.Edge.Sync.CloudFeedbackListener.Message(pseudonyms, history[^1], reviewed);
        Assert.Equal(feedback[1].GetProperty("messageId").GetString(), again.MessageId);
        var outbox = services.GetRequiredService<MedVision.Edge.Sync.CloudOutbox>();
        await outbox.EnqueueAsync([again], CancellationToken.None);
        // The outbox row goes only after the broker's PUBACK, which the hub gives only after its store answered.
        var deadline = DateTime.UtcNow + Timeout;
        while ((await outbox.GetDepthAsync(CancellationToken.None)).Pending > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the re-sent feedback was never acknowledged");
            await Task.Delay(100);
        }
        var messages = await hub.Services.GetRequiredService<IHubStore>().ListMessagesAsync(MessageTypes.Feedback, null, null, 1000, CancellationToken.None);
        Assert.Equal(2, messages.Count);

        // Nothing the hub holds carries the patient's data, the reviewers' names or the comment.
        var all = await hub.Services.GetRequiredService<IHubStore>().ListMessagesAsync(null, null, null, 100_000, CancellationToken.None);
        CloudSyncEndToEndTests.AssertNoPhi(all, [.. study.Phi, Reviewer, "Okonkwo", "Hildegard", "dr-b", Comment, "phoned", "Agree."]);
    }

    private static MedVision.Edge.Storage.FindingRecord ReviewStoreFinding(JsonElement f) => new(
        f.GetProperty("studyInstanceUid").GetString()!, f.GetProperty("sopInstanceUid").GetString()!, f.GetProperty("modelId").GetString()!,
        f.GetProperty("modelVersion").GetString()!, f.GetProperty("modelSha256").GetString()!, f.GetProperty("label").GetString()!,
        f.GetProperty("probability").GetDouble(), f.GetProperty("threshold").GetDouble(), f.GetProperty("positive").GetBoolean(),
        f.GetProperty("executionProvider").GetString()!, null, f.GetProperty("createdUtc").GetDateTimeOffset());
}
