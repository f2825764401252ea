using System.Text;
using System.Text.RegularExpressions;
using MedVision.Dicom.Imaging;
using MedVision.Edge.Fhir;
using MedVision.Edge.Outputs;
using MedVision.Edge.Reports;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Tests.Reports;

public sealed partial class HtmlReportTests(ReportTestData data) : IClassFixture<ReportTestData>
{
    private static readonly DateTimeOffset Now = new(2026, 1, 2, 11, 0, 0, TimeSpan.Zero);

    internal static HtmlReportProducer Producer(int thumbnailWidth = 256) =>
        new(Options.Create(new ReportOptions { ApplianceName = "St. Elsewhere <Radiology> & X-ray", ThumbnailWidth = thumbnailWidth }),
            new FixedTime(Now), NullLogger<HtmlReportProducer>.Instance);

    [Fact]
    public async Task Report_is_one_html_output_with_banner_patient_study_and_every_finding()
    {
        var outputs = await Producer().ProduceAsync(data.Results(), CancellationToken.None);

        var output = Assert.Single(outputs);
        Assert.Equal(StudyOutputKinds.HtmlReport, output.Kind);
        Assert.Equal("text/html", output.ContentType);
        Assert.Equal($"report-{data.StudyUid}.html", output.FileName);
        var html = Encoding.UTF8.GetString(output.Content);
        Assert.StartsWith("<!DOCTYPE html>", html, StringComparison.Ordinal);
        Assert.Contains("PRELIMINARY — AI-generated, requires radiologist confirmation. Not for diagnostic use.", html, StringComparison.Ordinal);
        Assert.Contains(">MV-0042<", html, StringComparison.Ordinal);
        Assert.Contains(">2018-03-14<", html, StringComparison.Ordinal);
        Assert.Contains(">female<", html, StringComparison.Ordinal);
        Assert.Contains(">2026-01-02 10:15<", html, StringComparison.Ordinal);
        Assert.Contains(">HOUSE, GREGORY<", html, StringComparison.Ordinal);
        Assert.Contains(data.StudyUid, html, StringComparison.Ordinal);

        // Positive finding first, with everything a radiologist needs to judge it.
        Assert.True(html.IndexOf("<h3>Pneumonia</h3>", StringComparison.Ordinal) < html.IndexOf("<h3>Pleural effusion</h3>", StringComparison.Ordinal));
        Assert.Contains("SNOMED CT 233604007 “Pneumonia (disorder)”", html, StringComparison.Ordinal);
        Assert.Contains(">87.3 %<", html, StringComparison.Ordinal);
        Assert.Contains(">50.0 %<", html, StringComparison.Ordinal);
        Assert.Contains(">12.3 %<", html, StringComparison.Ordinal);
        Assert.Contains(">45.0 %<", html, StringComparison.Ordinal);
        Assert.Contains("<span class=\"tag positive\">POSITIVE</span>", html, StringComparison.Ordinal);
        Assert.Contains("<span class=\"tag negative\">negative</span>", html, StringComparison.Ordinal);
        Assert.Contains(">cxr-pneumonia 2.0.0<", html, StringComparison.Ordinal);
        Assert.Contains(">3f2a9c0d1b7e…<", html, StringComparison.Ordinal);
        Assert.DoesNotContain(ReportTestData.Sha256, html, StringComparison.Ordinal);
        Assert.Contains(">CUDA<", html, StringComparison.Ordinal);
        Assert.Contains("effusion", html, StringComparison.Ordinal);
        Assert.Contains("Generated 2026-01-02 11:00:00 UTC by St. Elsewhere &lt;Radiology&gt; &amp; X-ray", html, StringComparison.Ordinal);
        Assert.Contains("@page { size: A4;", html, StringComparison.Ordinal);
        Assert.Contains("@media print", html, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"prior\"", html, StringComparison.Ordinal);
        // Self-contained: nothing is fetched from anywhere.
        Assert.DoesNotMatch(SrcOrHref(), html);
    }

    [Fact]
    public async Task Every_value_from_the_modality_is_escaped()
    {
        var html = await Producer().RenderAsync(data.Results(), CancellationToken.None);

        Assert.DoesNotContain("<script>", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains($"<meta http-equiv=\"Content-Security-Policy\" content=\"{HtmlReportProducer.ContentSecurityPolicy}\">", html, StringComparison.Ordinal);
        Assert.Contains("O&#x27;BRIEN&lt;script&gt;alert(1)&lt;/script&gt;, ANNE &amp; &quot;ME&quot;", html, StringComparison.Ordinal);
        Assert.Contains(">ACC-77&amp;1<", html, StringComparison.Ordinal);
        Assert.Contains(">Chest PA &lt;portable&gt;<", html, StringComparison.Ordinal);
        // The only elements are the report's own: a hostile value never opens a tag.
        var tags = TagName().Matches(html).Select(m => m.Groups[1].Value.ToLowerInvariant()).ToHashSet();
        Assert.Subset(new HashSet<string> { "!doctype", "html", "head", "meta", "title", "style", "body", "div", "header", "h1", "p", "section", "table",
            "caption", "tr", "th", "td", "span", "h2", "article", "h3", "figure", "img", "figcaption", "footer", "thead", "tbody" }, tags);
    }

    [Fact]
    public async Task Heat_map_is_embedded_as_a_downscaled_png_thumbnail_of_the_overlay()
    {
        var html = await Producer(thumbnailWidth: 256).RenderAsync(data.Results(), CancellationToken.None);

        var match = Assert.Single(DataUri().Matches(html));
        var png = Convert.FromBase64String(match.Groups[1].Value);
        var (width, height, channels, pixels) = PngThumbnail.Decode(png);
        Assert.Equal((256, 256, 3), (width, height, channels));
        Assert.Contains("width=\"256\" height=\"256\"", html, StringComparison.Ordinal);
        Assert.True(png.Length < new FileInfo(data.OverlayPath).Length / 2, $"thumbnail {png.Length} bytes");

        // Each thumbnail pixel is the mean of the overlay pixels it covers (a box filter), within rounding.
        var sourceWidth = data.Width;
        foreach (var (tx, ty) in new[] { (0, 0), (90, 140), (128, 128), (255, 255), (200, 30) })
        {
            int x0 = tx * sourceWidth / 256, x1 = Math.Max(x0 + 1, (tx + 1) * sourceWidth / 256);
            int y0 = ty * data.Height / 256, y1 = Math.Max(y0 + 1, (ty + 1) * data.Height / 256);
            for (var c = 0; c < 3; c++)
            {
                double sum = 0;
                for (var y = y0; y < y1; y++)
                {
                    for (var x = x0; x < x1; x++)
                    {
                        sum += data.OverlayPixels[(y * sourceWidth + x) * 3 + c];
                    }
                }
                var expected = sum / ((x1 - x0) * (y1 - y0));
                Assert.InRange(pixels[(ty * 256 + tx) * 3 + c], expected - 1, expected + 1);
            }
        }
        // The blob is where it was put: red-dominant at its centre, grey far away.
        var centre = ((int)(0.55 * 256) * 256 + (int)(0.35 * 256)) * 3;
        Assert.True(pixels[centre] > pixels[centre + 2] + 60, "heat-map centre is not red");
    }

    [Fact]
    public async Task Prior_comparison_lists_each_change_with_prior_date_and_accession()
    {
        var html = await Producer().RenderAsync(data.Results(prior: ReportTestData.Prior("1.2.3.4.5")), CancellationToken.None);

        Assert.Contains("<section id=\"prior\">", html, StringComparison.Ordinal);
        Assert.Contains("Prior study of 2025-12-01, accession ACC-OLD-9", html, StringComparison.Ordinal);
        Assert.Contains("(1.2.3.4.5)", html, StringComparison.Ordinal);
        Assert.Matches("<tr class=\"change new\"><td>Pneumonia .*?<td>21.0 % negative</td><td>87.3 % positive</td><td><span class=\"tag new\">new</span>", html);
        Assert.Matches("<tr class=\"change unchanged\"><td>Pleural effusion .*?<td>30.0 % negative</td><td>12.3 % negative</td>", html);
        Assert.Contains(">new (prior 21.0 %)<", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_or_broken_heat_map_leaves_a_note_and_the_rest_of_the_report()
    {
        var broken = data.Combine("broken.png");
        await File.WriteAllBytesAsync(broken, [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, (byte)'I', (byte)'H']);
        foreach (var path in new[] { data.Combine("absent.png"), broken })
        {
            var html = await Producer().RenderAsync(data.Results(overlayPath: path), CancellationToken.None);
            Assert.Contains("Heat map unavailable.", html, StringComparison.Ordinal);
            Assert.DoesNotContain("data:image/png", html, StringComparison.Ordinal);
            Assert.Contains(">87.3 %<", html, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Study_without_findings_or_header_values_still_makes_a_report()
    {
        var bare = new StudyResults(new StudyHeader("1.2.3", null, null, null, null, null, null, null, null, null, null, null), [], [], null);

        var html = await Producer().RenderAsync(bare, CancellationToken.None);

        Assert.Contains("No AI findings were recorded for this study.", html, StringComparison.Ordinal);
        Assert.Contains("<title>AI findings (preliminary): unknown patient</title>", html, StringComparison.Ordinal);
        Assert.Contains(HtmlReportProducer.Banner, html, StringComparison.Ordinal);
    }

    [Fact]
    public void Png_reader_returns_what_png_writer_wrote_for_grey_and_rgb()
    {
        var random = new Random(7);
        foreach (var channels in new[] { 1, 3 })
        {
            var pixels = new byte[37 * 23 * channels];
            for (var i = 0; i < pixels.Length; i++)
            {
                // Smooth gradients plus noise, so the writer picks different row filters.
                pixels[i] = (byte)(i % 97 + random.Next(0, i % 3 == 0 ? 40 : 2));
            }
            using var stream = new MemoryStream();
            PngWriter.Write(stream, 37, 23, channels, pixels);

            var decoded = PngThumbnail.Decode(stream.ToArray());

            Assert.Equal((37, 23, channels), (decoded.Width, decoded.Height, decoded.Channels));
            Assert.Equal(pixels, decoded.Pixels);
        }
        Assert.Throws<InvalidDataException>(() => PngThumbnail.Decode("GIF89a..."u8.ToArray()));
    }

    [Fact]
    public void AddEdgeReports_registers_both_producers_and_refuses_bad_settings_at_start()
    {
        using var good = Provider(new Dictionary<string, string?> { ["MedVision:Report:ApplianceName"] = "Site A", ["MedVision:Fhir:PatientIdentifierSystem"] = "urn:oid:1.2.3" });
        var producers = good.GetServices<IStudyOutputProducer>().ToList();
        Assert.Contains(producers, p => p is HtmlReportProducer);
        Assert.Contains(producers, p => p is FhirBundleProducer);
        Assert.Equal("Site A", good.GetRequiredService<IOptions<ReportOptions>>().Value.ApplianceName);

        using var bad = Provider(new Dictionary<string, string?>
        {
            ["MedVision:Report:ThumbnailWidth"] = "5",
            ["MedVision:Report:ApplianceName"] = " ",
            ["MedVision:Fhir:PatientIdentifierSystem"] = "not a uri",
        });
        var report = Assert.Throws<OptionsValidationException>(() => bad.GetRequiredService<IOptions<ReportOptions>>().Value);
        Assert.Contains(report.Failures, f => f.Contains("ThumbnailWidth", StringComparison.Ordinal));
        Assert.Contains(report.Failures, f => f.Contains("ApplianceName", StringComparison.Ordinal));
        var fhir = Assert.Throws<OptionsValidationException>(() => bad.GetRequiredService<IOptions<FhirOptions>>().Value);
        Assert.Contains(fhir.Failures, f => f.Contains("PatientIdentifierSystem", StringComparison.Ordinal));
    }

    private static ServiceProvider Provider(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddEdgeReports(configuration);
        return services.BuildServiceProvider();
    }

    [GeneratedRegex("""data:image/png;base64,([A-Za-z0-9+/=]+)""")]
    private static partial Regex DataUri();

    [GeneratedRegex("""(?:src|href)="(?!data:)""")]
    private static partial Regex SrcOrHref();

    [GeneratedRegex("""<([!A-Za-z][A-Za-z0-9]*)""")]
    private static partial Regex TagName();
}
