using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MedVision.Edge.Tests.EndToEnd;
using MedVision.Testing;

namespace MedVision.Edge.Tests.Review;

/// <summary>
/// The review API on the real appliance started in-process, with a real finding (storescu sends a chest X-ray, the
/// shipped model reads it).
/// </summary>
public sealed class ReviewApiTests
{
    internal static readonly TimeSpan FindingTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Reviews_are_recorded_listed_with_the_finding_and_bad_ones_get_clear_problems()
    {
        await using var appliance = await RunningAppliance.StartAsync();
        var (studyUid, findingId) = await SendStudyAsync(appliance, "MV-REVIEW-0001");

        // Before any review the finding says so, and every field it had before is still there.
        var before = (await appliance.GetJsonAsync($"/api/findings?study={studyUid}"))[0];
        Assert.Equal(JsonValueKind.Null, before.GetProperty("review").ValueKind);
        Assert.Equal("cxr-pneumonia", before.GetProperty("modelId").GetString());

        using (var confirmed = await PostAsync(appliance, findingId, """{"decision":"confirmed","by":" dr-a ","comment":"consolidation right lower lobe"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, confirmed.StatusCode);
            var review = await confirmed.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(findingId, review.GetProperty("findingId").GetInt64());
            Assert.Equal("confirmed", review.GetProperty("decision").GetString());
            Assert.Equal("dr-a", review.GetProperty("by").GetString());
            Assert.Equal("consolidation right lower lobe", review.GetProperty("comment").GetString());
            Assert.InRange(review.GetProperty("reviewedUtc").GetDateTimeOffset(), DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        }
        var current = (await appliance.GetJsonAsync($"/api/findings?study={studyUid}"))[0].GetProperty("review");
        Assert.Equal(("confirmed", "dr-a"), (current.GetProperty("decision").GetString(), current.GetProperty("by").GetString()));
        Assert.True(current.TryGetProperty("reviewedUtc", out _));

        // Someone else disagrees later: theirs is current, both are in the history.
        using (var rejected = await PostAsync(appliance, findingId, """{"decision":"rejected","by":"dr-b"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, rejected.StatusCode);
        }
        current = (await appliance.GetJsonAsync("/api/findings"))[0].GetProperty("review");
        Assert.Equal(("rejected", "dr-b"), (current.GetProperty("decision").GetString(), current.GetProperty("by").GetString()));
        var history = await appliance.GetJsonAsync($"/api/findings/{findingId}/reviews");
        Assert.Equal(["dr-b", "dr-a"], history.EnumerateArray().Select(r => r.GetProperty("by").GetString()));

        // Unknown finding: 404 problem.
        using (var unknown = await PostAsync(appliance, findingId + 999, """{"decision":"confirmed","by":"dr-a"}"""))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
            Assert.Equal("application/problem+json", unknown.Content.Headers.ContentType?.MediaType);
            Assert.Contains($"#{findingId + 999}", (await unknown.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        using (var unknownHistory = await appliance.Http.GetAsync($"/api/findings/{findingId + 999}/reviews"))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknownHistory.StatusCode);
        }

        // Bad requests: 400 problem+json naming what is wrong; nothing recorded.
        var longComment = new string('x', 2001);
        foreach (var (body, field, words) in new[]
        {
            ("""{"decision":"maybe","by":"dr-a"}""", "decision", "\"confirmed\" or \"rejected\""),
            ("""{"decision":"Confirmed","by":"dr-a"}""", "decision", "\"confirmed\" or \"rejected\""),
            ("""{"decision":"confirmed"}""", "by", "reviewer's name) is required"),
            ("""{"decision":"confirmed","by":"   "}""", "by", "reviewer's name) is required"),
            ($$"""{"decision":"confirmed","by":"{{new string('d', 101)}}"}""", "by", "at most 100 characters"),
            ($$"""{"decision":"confirmed","by":"dr-a","comment":"{{longComment}}"}""", "comment", "at most 2000 characters"),
            ("""{"decision":"confirmed",""", "body", "must be a JSON object"),
            ("", "body", "must be a JSON object"),
            ("null", "body", "is required"),
        })
        {
            using var response = await PostAsync(appliance, findingId, body);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("The review was not recorded", problem.GetProperty("title").GetString());
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
            Assert.Contains(words, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        Assert.Equal(2, (await appliance.GetJsonAsync($"/api/findings/{findingId}/reviews")).GetArrayLength());
    }

    [Fact]
    public async Task The_review_page_is_self_contained_under_a_strict_content_security_policy()
    {
        await using var appliance = await RunningAppliance.StartAsync("--MedVision:Review:PageStudies=7");
        using var response = await appliance.Http.GetAsync("/review?study=1.2.3");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var csp = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);
        Assert.Matches("script-src 'sha256-[A-Za-z0-9+/=]{44}';", csp);
        Assert.Matches("style-src 'sha256-[A-Za-z0-9+/=]{44}';", csp);
        Assert.Contains("connect-src 'self'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe", csp, StringComparison.Ordinal);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("data-studies=\"7\"", html, StringComparison.Ordinal);
        // Nothing loaded from anywhere: no src/href attributes, no URLs, and values are only ever set as text.
        Assert.DoesNotContain(" src=", html, StringComparison.Ordinal);
        Assert.DoesNotContain("href=", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("innerHTML", html, StringComparison.Ordinal);
    }

    /// <summary>Sends one chest X-ray with storescu and waits for its finding; returns the study and the finding id.</summary>
    internal static async Task<(string StudyUid, long FindingId)> SendStudyAsync(RunningAppliance appliance, string patientId, int image = 3)
    {
        using var files = new TempDirectory();
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        var (path, studyUid, _) = ChestXrayDicom.Create(files.Path, images.Image(image), scale: 1, patientId: patientId);
        var store = await ExternalTool.RunAsync("storescu", ["-aec", "MEDVISION", "127.0.0.1", appliance.DicomPortText, path]);
        Assert.True(store.ExitCode == 0, store.Combined);
        var findings = await appliance.WaitForAsync($"/api/findings?study={studyUid}", f => f.GetArrayLength() > 0, FindingTimeout);
        return (studyUid, findings[0].GetProperty("id").GetInt64());
    }

    internal static Task<HttpResponseMessage> PostAsync(RunningAppliance appliance, long findingId, string json) =>
        appliance.Http.PostAsync($"/api/findings/{findingId}/review", new StringContent(json, Encoding.UTF8, "application/json"));
}
