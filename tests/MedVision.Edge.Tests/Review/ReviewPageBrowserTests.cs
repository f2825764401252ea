using MedVision.Edge.Tests.EndToEnd;
using MedVision.Testing;
using PuppeteerSharp;

namespace MedVision.Edge.Tests.Review;

/// <summary>
/// The review page as a radiologist uses it: Debian's Chromium (headless, driven over CDP by PuppeteerSharp) opens
/// <c>/review</c> on the real appliance, the reviewer types their name once and clicks Confirm; the API then shows the
/// review. The page must run under its own Content-Security-Policy without a single violation and show markup in
/// DICOM values as text.
/// </summary>
public sealed class ReviewPageBrowserTests
{
    // A Patient ID a hostile sender could send: must appear as these characters, never become an element.
    private const string HostilePatientId = "<b id=x>PID&7</b>";

    [Fact]
    public async Task Chromium_confirms_a_finding_with_the_name_typed_once_and_the_api_records_it()
    {
        var chromium = ExternalTool.Require("chromium");
        await using var appliance = await RunningAppliance.StartAsync();
        var (studyUid, findingId) = await ReviewApiTests.SendStudyAsync(appliance, HostilePatientId);
        var (otherStudy, otherFinding) = await ReviewApiTests.SendStudyAsync(appliance, "MV-REVIEW-0002", image: 5);
        using var folder = new TempDirectory("medvision-review-browser");

        await using var browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            Headless = true,
            ExecutablePath = chromium,
            UserDataDir = folder.Combine("profile"),
            // Root in a container has no user namespaces for Chromium's sandbox.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
            Timeout = 60_000,
        });
        await using var page = await browser.NewPageAsync();
        var console = new List<string>();
        page.Console += (_, e) => { lock (console) { console.Add($"{e.Message.Type}: {e.Message.Text}"); } };
        page.PageError += (_, e) => { lock (console) { console.Add("pageerror: " + e.Message); } };
        var dialogs = 0;
        page.Dialog += async (_, e) =>
        {
            Interlocked.Increment(ref dialogs);
            await e.Dialog.Dismiss();
        };

        await page.GoToAsync(appliance.Http.BaseAddress + "review", WaitUntilNavigation.Networkidle0);
        await page.WaitForSelectorAsync("#studies[data-loaded=true]", new WaitForSelectorOptions { Timeout = 15_000 });

        // Both studies listed, newest first, each with its finding and no review yet.
        var listed = await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('section[data-study]')].map(s => s.dataset.study)");
        Assert.Equal([otherStudy, studyUid], listed);
        var rowSelector = $"tr[data-finding='{findingId}']";
        var rowText = await page.EvaluateExpressionAsync<string>($"document.querySelector(\"{rowSelector}\").innerText");
        Assert.Contains("pneumonia", rowText, StringComparison.Ordinal);
        Assert.Contains("threshold", rowText, StringComparison.Ordinal);
        Assert.Contains("cxr-pneumonia", rowText, StringComparison.Ordinal);
        Assert.Contains("not reviewed", rowText, StringComparison.Ordinal);
        var text = await page.EvaluateExpressionAsync<string>("document.body.innerText");
        Assert.Contains("Patient ID " + HostilePatientId, text, StringComparison.Ordinal);
        Assert.Equal(0, await page.EvaluateExpressionAsync<int>("document.querySelectorAll('#studies b, #x').length"));

        // Clicking without a name records nothing and asks for one.
        await page.ClickAsync($"{rowSelector} button[data-action=confirmed]");
        await page.WaitForFunctionAsync("() => document.getElementById('status').textContent.includes('name')");
        Assert.Equal(0, (await appliance.GetJsonAsync($"/api/findings/{findingId}/reviews")).GetArrayLength());

        // The name typed once serves every click.
        await page.TypeAsync("#reviewer", "Dr Ada Review");
        await page.TypeAsync($"{rowSelector} input", "agree");
        await page.ClickAsync($"{rowSelector} button[data-action=confirmed]");
        await page.WaitForFunctionAsync($"() => document.querySelector(\"{rowSelector} td.review\").innerText.includes('confirmed')");
        await page.ClickAsync($"tr[data-finding='{otherFinding}'] button[data-action=rejected]");
        await page.WaitForFunctionAsync($"() => document.querySelector(\"tr[data-finding='{otherFinding}'] td.review\").innerText.includes('rejected')");

        var review = (await appliance.GetJsonAsync($"/api/findings?study={studyUid}"))[0].GetProperty("review");
        Assert.Equal(("confirmed", "Dr Ada Review"), (review.GetProperty("decision").GetString(), review.GetProperty("by").GetString()));
        var history = (await appliance.GetJsonAsync($"/api/findings/{findingId}/reviews"))[0];
        Assert.Equal("agree", history.GetProperty("comment").GetString());
        var other = (await appliance.GetJsonAsync($"/api/findings?study={otherStudy}"))[0].GetProperty("review");
        Assert.Equal(("rejected", "Dr Ada Review"), (other.GetProperty("decision").GetString(), other.GetProperty("by").GetString()));

        // ?study= narrows the page to one study, and a reload shows the current review from the API.
        await page.GoToAsync(appliance.Http.BaseAddress + "review?study=" + Uri.EscapeDataString(studyUid), WaitUntilNavigation.Networkidle0);
        await page.WaitForSelectorAsync("#studies[data-loaded=true]", new WaitForSelectorOptions { Timeout = 15_000 });
        Assert.Equal([studyUid], await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('section[data-study]')].map(s => s.dataset.study)"));
        Assert.Contains("confirmed by Dr Ada Review", await page.EvaluateExpressionAsync<string>($"document.querySelector(\"{rowSelector} td.review\").innerText"), StringComparison.Ordinal);

        lock (console)
        {
            Assert.DoesNotContain(console, m => m.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase) || m.StartsWith("pageerror", StringComparison.Ordinal));
        }
        Assert.Equal(0, dialogs);
    }
}
