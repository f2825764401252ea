using MedVision.Edge.Outputs;
using MedVision.Edge.Reports;
using MedVision.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using PuppeteerSharp;
using PuppeteerSharp.Media;

namespace MedVision.Edge.Tests.Reports;

/// <summary>
/// The report as a radiologist sees it: Debian's Chromium (headless, driven over CDP by PuppeteerSharp; no browser download) renders it,
/// and its print-to-PDF must give one A4 page. Set MEDVISION_REPORT_ARTIFACTS to a folder to keep the screenshot and PDF.
/// </summary>
public sealed class HtmlReportBrowserTests(ReportTestData data) : IClassFixture<ReportTestData>
{
    [Fact]
    public async Task Chromium_renders_the_report_escaped_with_its_thumbnail_and_prints_one_A4_page()
    {
        var chromium = ExternalTool.Require("chromium");
        var html = await HtmlReportTests.Producer().RenderAsync(data.Results(prior: ReportTestData.Prior("1.2.3.4.5")), CancellationToken.None);
        using var folder = new TempDirectory("medvision-browser");

        await using var browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            Headless = true,
            ExecutablePath = chromium,
            UserDataDir = folder.Combine("profile"),
            // Root in a container has no user namespaces for Chromium's sandbox; the page is our own static file.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
            Timeout = 60_000,
        });
        await using var page = await browser.NewPageAsync();
        var dialogs = 0;
        page.Dialog += async (_, e) =>
        {
            Interlocked.Increment(ref dialogs);
            await e.Dialog.Dismiss();
        };
        await page.SetViewportAsync(new ViewPortOptions { Width = 900, Height = 1200 });
        await page.SetContentAsync(html);

        var text = await page.EvaluateExpressionAsync<string>("document.body.innerText");
        Assert.Contains(HtmlReportProducer.Banner, text, StringComparison.Ordinal);
        Assert.Contains("O'BRIEN<script>alert(1)</script>, ANNE & \"ME\"", text, StringComparison.Ordinal);
        Assert.Contains("87.3 %", text, StringComparison.Ordinal);
        Assert.Contains("POSITIVE", text, StringComparison.Ordinal);
        Assert.Contains("ACC-77&1", text, StringComparison.Ordinal);
        Assert.Equal(0, await page.EvaluateExpressionAsync<int>("document.scripts.length"));
        Assert.Equal(0, dialogs);
        Assert.Equal(256, await page.EvaluateExpressionAsync<int>("document.querySelector('img.thumb').naturalWidth"));
        Assert.True(await page.EvaluateExpressionAsync<bool>("document.querySelector('img.thumb').complete"));

        var screenshot = await page.ScreenshotDataAsync(new ScreenshotOptions { FullPage = true, Type = ScreenshotType.Png });
        var (width, height, channels, pixels) = PngThumbnail.Decode(screenshot);
        Assert.Equal(900, width);
        Assert.True(height >= 600, $"screenshot height {height}");
        // The red banner is drawn at the top (sampled in its middle), and the page is not blank: many distinct colours (image, tags).
        var banner = ((20 * width) + width / 2) * channels;
        Assert.True(pixels[banner] > 150 && pixels[banner + 1] < 60 && pixels[banner + 2] < 80, $"banner pixel {pixels[banner]},{pixels[banner + 1]},{pixels[banner + 2]}");
        var colours = new HashSet<int>();
        for (var i = 0; i + 2 < pixels.Length; i += channels * 7)
        {
            colours.Add(pixels[i] << 16 | pixels[i + 1] << 8 | pixels[i + 2]);
        }
        Assert.True(colours.Count > 200, $"{colours.Count} distinct colours in the screenshot");

        var pdf = await page.PdfDataAsync(new PdfOptions { Format = PaperFormat.A4, PrintBackground = true, PreferCSSPageSize = true });
        var pdfPath = folder.Combine("report.pdf");
        await File.WriteAllBytesAsync(pdfPath, pdf);
        if (Environment.GetEnvironmentVariable("MEDVISION_REPORT_ARTIFACTS") is { Length: > 0 } keep)
        {
            Directory.CreateDirectory(keep);
            await File.WriteAllBytesAsync(Path.Combine(keep, "report.png"), screenshot);
            await File.WriteAllBytesAsync(Path.Combine(keep, "report.pdf"), pdf);
            await File.WriteAllTextAsync(Path.Combine(keep, "report.html"), html);
        }
        var info = await ExternalTool.RunAsync(ExternalTool.Require("pdfinfo"), pdfPath);
        Assert.True(info.ExitCode == 0, info.Combined);
        Assert.Matches(@"(?m)^Pages:\s+1$", info.StandardOutput);
        Assert.Matches(@"(?m)^Page size:\s+59[45]\.\d+ x 84[12]\.\d+ pts \(A4\)", info.StandardOutput);
        var extracted = await ExternalTool.RunAsync(ExternalTool.Require("pdftotext"), "-enc", "UTF-8", pdfPath, "-");
        Assert.True(extracted.ExitCode == 0, extracted.Combined);
        var pdfText = string.Join(' ', extracted.StandardOutput.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("PRELIMINARY — AI-generated, requires radiologist confirmation.", pdfText, StringComparison.Ordinal);
        Assert.Contains("O'BRIEN<script>alert(1)</script>, ANNE", pdfText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pdf_producer_prints_the_report_to_one_A4_page_with_the_system_chromium()
    {
        ExternalTool.Require("chromium");
        var producer = PdfProducer(new ReportOptions { PdfEnabled = true, ChromiumNoSandbox = true });
        Assert.True(producer.IsEnabled);

        var output = Assert.Single(await producer.ProduceAsync(data.Results(), CancellationToken.None));

        Assert.Equal((StudyOutputKinds.PdfReport, "application/pdf", $"report-{data.StudyUid}.pdf"), (output.Kind, output.ContentType, output.FileName));
        using var folder = new TempDirectory("medvision-pdf-test");
        var path = folder.Combine("report.pdf");
        await File.WriteAllBytesAsync(path, output.Content);
        var info = await ExternalTool.RunAsync(ExternalTool.Require("pdfinfo"), path);
        Assert.Matches(@"(?m)^Pages:\s+1$", info.StandardOutput);
        Assert.Matches(@"(?m)^Page size:\s+59[45]\.\d+ x 84[12]\.\d+ pts \(A4\)", info.StandardOutput);
        var extracted = await ExternalTool.RunAsync(ExternalTool.Require("pdftotext"), "-enc", "UTF-8", path, "-");
        var text = string.Join(' ', extracted.StandardOutput.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("PRELIMINARY — AI-generated, requires radiologist confirmation.", text, StringComparison.Ordinal);
        Assert.Contains("87.3 %", text, StringComparison.Ordinal);
        Assert.DoesNotContain("file://", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pdf_producer_failures_are_clear_errors()
    {
        var failing = PdfProducer(new ReportOptions { PdfEnabled = true, ChromiumPath = "/bin/false" });
        var error = await Assert.ThrowsAsync<ReportPdfException>(() => failing.ProduceAsync(data.Results(), CancellationToken.None));
        Assert.Contains("exited with code 1", error.Message, StringComparison.Ordinal);

        var missing = new ReportOptions { PdfEnabled = true, ChromiumPath = "no-such-chromium" };
        var result = new ReportOptionsValidator().Validate(null, missing);
        Assert.True(result.Failed);
        Assert.Contains("apt-get install chromium", result.FailureMessage, StringComparison.Ordinal);
        Assert.False(PdfProducer(new ReportOptions()).IsEnabled);
    }

    private static PdfReportProducer PdfProducer(ReportOptions options) =>
        new(HtmlReportTests.Producer(), Options.Create(options), NullLogger<PdfReportProducer>.Instance);
}
