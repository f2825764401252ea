using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Unicode;
using MedVision.Edge.Outputs;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Reports;

/// <summary>
/// Makes the human-readable report of a study as one self-contained HTML file (inline CSS, heat maps as data: URIs) that opens and
/// prints (A4) anywhere without network access. Every value from the modality or the database is HTML-encoded.
/// </summary>
public sealed class HtmlReportProducer(IOptions<ReportOptions> options, TimeProvider timeProvider, ILogger<HtmlReportProducer> logger) : IStudyOutputProducer
{
    public const string ContentSecurityPolicy = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";
    public const string Banner = "PRELIMINARY — AI-generated, requires radiologist confirmation. Not for diagnostic use.";

    // Keeps non-ASCII names readable in the source while encoding everything markup-significant (<, >, &, quotes).
    private static readonly HtmlEncoder Encoder = HtmlEncoder.Create(UnicodeRanges.All);

    public bool IsEnabled => options.Value.Enabled;

    public async Task<IReadOnlyList<StudyOutput>> ProduceAsync(StudyResults results, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(results);
        var html = await RenderAsync(results, cancellationToken).ConfigureAwait(false);
        var bytes = Encoding.UTF8.GetBytes(html);
        return [new StudyOutput(StudyOutputKinds.HtmlReport, $"report-{SafeFileName(results.Study.StudyInstanceUid)}.html", "text/html", bytes)];
    }

    /// <summary>The report as HTML text.</summary>
    public async Task<string> RenderAsync(StudyResults results, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(results);
        var settings = options.Value;
        var study = results.Study;
        var generated = timeProvider.GetUtcNow();
        var html = new StringBuilder(16 * 1024);
        // The policy is defence in depth behind the encoding: no script runs and nothing is fetched, whatever a value contains.
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta http-equiv=\"Content-Security-Policy\" content=\"").Append(ContentSecurityPolicy).Append("\">\n")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            .Append("<meta name=\"generator\" content=\"").Append(E(settings.ApplianceName)).Append("\">\n")
            .Append("<title>AI findings (preliminary): ").Append(E(FormatPersonName(study.PatientName) ?? "unknown patient")).Append("</title>\n")
            .Append("<style>").Append(Css).Append("</style>\n</head>\n<body>\n");
        html.Append("<div class=\"banner\" role=\"alert\" id=\"banner\">").Append(E(Banner)).Append("</div>\n");
        html.Append("<header><h1>AI findings report</h1><p class=\"sub\">").Append(E(settings.ApplianceName)).Append("</p></header>\n");

        html.Append("<section class=\"facts\">\n<table class=\"kv\" id=\"patient\"><caption>Patient</caption>\n");
        Row(html, "Name", FormatPersonName(study.PatientName), "patient-name");
        Row(html, "Patient ID", study.PatientId, "patient-id");
        Row(html, "Birth date", FormatDicomDate(study.PatientBirthDate), "patient-birth-date");
        Row(html, "Sex", FormatSex(study.PatientSex), "patient-sex");
        html.Append("</table>\n<table class=\"kv\" id=\"study\"><caption>Study</caption>\n");
        Row(html, "Accession", study.AccessionNumber, "accession");
        Row(html, "Date", JoinNonEmpty(FormatDicomDate(study.StudyDate), FormatDicomTime(study.StudyTime)), "study-date");
        Row(html, "Description", study.StudyDescription, "study-description");
        Row(html, "Modality", study.Modality, "modality");
        Row(html, "Referring physician", FormatPersonName(study.ReferringPhysicianName), "referring");
        Row(html, "Study UID", study.StudyInstanceUid, "study-uid");
        html.Append("</table>\n</section>\n");

        html.Append("<section id=\"findings\"><h2>Findings</h2>\n");
        var thumbnails = 0;
        if (results.Findings.Count == 0)
        {
            html.Append("<p class=\"none\">No AI findings were recorded for this study.</p>\n");
        }
        var ordered = results.Findings
            .OrderByDescending(f => f.Finding.Positive)
            .ThenByDescending(f => f.Finding.Probability)
            .ThenBy(f => f.FindingId);
        foreach (var finding in ordered)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (await AppendFindingAsync(html, results, finding, settings, cancellationToken).ConfigureAwait(false))
            {
                thumbnails++;
            }
        }
        html.Append("</section>\n");

        if (results.Prior is { } prior)
        {
            AppendPrior(html, prior, results.Findings);
        }

        html.Append("<footer id=\"footer\">Generated ")
            .Append(E(generated.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture))).Append(" UTC by ")
            .Append(E(settings.ApplianceName))
            .Append(". Probabilities are model outputs calibrated on public research data; the decision compares them with the model's threshold. ")
            .Append(E(Banner)).Append("</footer>\n</body>\n</html>\n");

        var text = html.ToString();
        ReportLog.HtmlReportMade(logger, study.StudyInstanceUid, results.Findings.Count, thumbnails, Encoding.UTF8.GetByteCount(text));
        return text;
    }

    private async Task<bool> AppendFindingAsync(StringBuilder html, StudyResults results, StudyFinding item, ReportOptions settings, CancellationToken cancellationToken)
    {
        var f = item.Finding;
        var decisionClass = f.Positive ? "positive" : "negative";
        html.Append("<article class=\"finding ").Append(decisionClass).Append("\" data-finding-id=\"").Append(item.FindingId.ToString(CultureInfo.InvariantCulture)).Append("\">\n");
        html.Append("<div class=\"finding-text\"><h3>").Append(E(item.LabelDisplay)).Append("</h3>\n<table class=\"kv\">\n");
        Row(html, "Code", item.Code is { } code ? $"{SystemName(code.System)} {code.Code} “{code.Display}”" : f.Label, "code");
        Row(html, "Probability", FormatPercent(f.Probability), "probability");
        Row(html, "Threshold", FormatPercent(f.Threshold), "threshold");
        html.Append("<tr><th>Decision</th><td class=\"decision\"><span class=\"tag ").Append(decisionClass).Append("\">")
            .Append(f.Positive ? "POSITIVE" : "negative").Append("</span> (probability ").Append(f.Positive ? "≥" : "<").Append(" threshold)</td></tr>\n");
        Row(html, "Model", $"{f.ModelId} {f.ModelVersion}", "model");
        Row(html, "Model SHA-256", ShortHash(f.ModelSha256), "model-sha256");
        Row(html, "Execution provider", f.ExecutionProvider, "provider");
        Row(html, "Image", f.SopInstanceUid, "image-uid");
        var change = results.Prior?.Changes.FirstOrDefault(c => c.ModelId == f.ModelId && c.Label == f.Label);
        if (change is not null)
        {
            Row(html, "Against prior", DescribeChange(change), "prior-change");
        }
        html.Append("</table></div>\n");

        var shown = false;
        if (item.Heatmap is { } heatmap)
        {
            try
            {
                var png = await File.ReadAllBytesAsync(heatmap.OverlayPngPath, cancellationToken).ConfigureAwait(false);
                var (thumb, width, height) = PngThumbnail.Create(png, settings.ThumbnailWidth);
                html.Append("<figure class=\"heatmap\"><img class=\"thumb\" alt=\"Heat map of ").Append(E(item.LabelDisplay))
                    .Append("\" width=\"").Append(width.ToString(CultureInfo.InvariantCulture))
                    .Append("\" height=\"").Append(height.ToString(CultureInfo.InvariantCulture))
                    .Append("\" src=\"data:image/png;base64,").Append(Convert.ToBase64String(thumb)).Append("\">")
                    .Append("<figcaption>Model attention (heat map)</figcaption></figure>\n");
                shown = true;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                ReportLog.ThumbnailFailed(logger, heatmap.OverlayPngPath, item.FindingId, results.Study.StudyInstanceUid, ex.Message);
                html.Append("<p class=\"no-heatmap\">Heat map unavailable.</p>\n");
            }
        }
        html.Append("</article>\n");
        return shown;
    }

    private static void AppendPrior(StringBuilder html, PriorComparison prior, IReadOnlyList<StudyFinding> findings)
    {
        html.Append("<section id=\"prior\"><h2>Comparison with prior study</h2>\n<p>Prior study of ")
            .Append(E(FormatDicomDate(prior.PriorStudyDate) ?? "unknown date"));
        if (!string.IsNullOrWhiteSpace(prior.PriorAccessionNumber))
        {
            html.Append(", accession ").Append(E(prior.PriorAccessionNumber));
        }
        html.Append(" <span class=\"uid\">(").Append(E(prior.PriorStudyInstanceUid)).Append(")</span></p>\n");
        if (prior.Changes.Count == 0)
        {
            html.Append("<p class=\"none\">No finding could be compared.</p>\n</section>\n");
            return;
        }
        html.Append("<table class=\"grid\"><thead><tr><th>Finding</th><th>Prior</th><th>Current</th><th>Change</th></tr></thead><tbody>\n");
        foreach (var change in prior.Changes)
        {
            var display = findings.FirstOrDefault(f => f.Finding.ModelId == change.ModelId && f.Finding.Label == change.Label)?.LabelDisplay ?? change.Label;
            var priorText = change.PriorProbability is { } p
                ? $"{FormatPercent(p)} {(change.PriorPositive == true ? "positive" : "negative")}"
                : "not assessed";
            html.Append("<tr class=\"change ").Append(E(change.Change)).Append("\"><td>").Append(E(display)).Append(" <span class=\"uid\">(")
                .Append(E(change.ModelId)).Append(")</span></td><td>").Append(E(priorText)).Append("</td><td>")
                .Append(E($"{FormatPercent(change.CurrentProbability)} {(change.CurrentPositive ? "positive" : "negative")}"))
                .Append("</td><td><span class=\"tag ").Append(E(change.Change)).Append("\">").Append(E(change.Change)).Append("</span></td></tr>\n");
        }
        html.Append("</tbody></table>\n</section>\n");
    }

    private static string DescribeChange(FindingChange change)
    {
        var prior = change.PriorProbability is { } p ? $"prior {FormatPercent(p)}" : "not assessed in the prior";
        return $"{change.Change} ({prior})";
    }

    private static void Row(StringBuilder html, string name, string? value, string id)
    {
        html.Append("<tr class=\"").Append(id).Append("\"><th>").Append(E(name)).Append("</th><td>")
            .Append(string.IsNullOrWhiteSpace(value) ? "<span class=\"missing\">—</span>" : E(value)).Append("</td></tr>\n");
    }

    private static string E(string? value) => value is null ? "" : Encoder.Encode(value);

    internal static string FormatPercent(double value) => (value * 100).ToString("0.0", CultureInfo.InvariantCulture) + " %";

    private static string ShortHash(string sha256) => sha256.Length > 12 ? sha256[..12] + "…" : sha256;

    private static string SystemName(string system) => system switch
    {
        "http://snomed.info/sct" => "SNOMED CT",
        "http://loinc.org" => "LOINC",
        "http://radlex.org" or "http://www.radlex.org" => "RadLex",
        "http://dicom.nema.org/resources/ontology/DCM" => "DCM",
        _ => system,
    };

    /// <summary>DICOM PN (Family^Given^Middle^Prefix^Suffix, with =ideographic groups) as "Family, Given Middle".</summary>
    internal static string? FormatPersonName(string? pn)
    {
        if (string.IsNullOrWhiteSpace(pn))
        {
            return null;
        }
        var alphabetic = pn.Split('=')[0];
        var parts = alphabetic.Split('^');
        if (parts.Length == 1)
        {
            return alphabetic.Trim();
        }
        var family = parts[0].Trim();
        var rest = string.Join(' ', new[] { Part(parts, 3), Part(parts, 1), Part(parts, 2), Part(parts, 4) }.Where(s => s.Length > 0));
        return family.Length == 0 ? rest : rest.Length == 0 ? family : $"{family}, {rest}";

        static string Part(string[] parts, int index) => index < parts.Length ? parts[index].Trim() : "";
    }

    private static string? FormatDicomDate(string? da) =>
        da is { Length: 8 } && DateOnly.TryParseExact(da, "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date)
            ? date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)
            : string.IsNullOrWhiteSpace(da) ? null : da.Trim();

    private static string? FormatDicomTime(string? tm)
    {
        if (string.IsNullOrWhiteSpace(tm))
        {
            return null;
        }
        var t = tm.Trim();
        return t.Length >= 4 && t[..4].All(char.IsAsciiDigit) ? $"{t[..2]}:{t[2..4]}" : t;
    }

    private static string? FormatSex(string? sex) => sex?.Trim().ToUpperInvariant() switch
    {
        null or "" => null,
        "M" => "male",
        "F" => "female",
        "O" => "other",
        _ => sex,
    };

    private static string? JoinNonEmpty(params string?[] parts)
    {
        var joined = string.Join(' ', parts.Where(p => !string.IsNullOrWhiteSpace(p)));
        return joined.Length == 0 ? null : joined;
    }

    internal static string SafeFileName(string value)
    {
        var chars = value.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '_').ToArray();
        return chars.Length == 0 ? "study" : new string(chars);
    }

    private const string Css = """

        :root { color-scheme: light; }
        * { box-sizing: border-box; }
        body { font: 14px/1.4 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #111; margin: 0 auto; max-width: 190mm; padding: 12px; }
        .banner { background: #b00020; color: #fff; font-weight: bold; font-size: 15px; padding: 10px 12px; border-radius: 4px; text-align: center; }
        header h1 { font-size: 20px; margin: 12px 0 0; }
        header .sub { margin: 0 0 8px; color: #555; }
        h2 { font-size: 16px; border-bottom: 1px solid #999; margin: 14px 0 6px; }
        h3 { font-size: 15px; margin: 0 0 4px; }
        .facts { display: flex; gap: 16px; flex-wrap: wrap; }
        .facts table { flex: 1 1 45%; }
        caption { text-align: left; font-weight: bold; padding-bottom: 2px; }
        table.kv { border-collapse: collapse; }
        table.kv th { text-align: left; font-weight: normal; color: #555; padding: 1px 10px 1px 0; vertical-align: top; white-space: nowrap; }
        table.kv td { padding: 1px 0; word-break: break-word; }
        table.grid { border-collapse: collapse; width: 100%; }
        table.grid th, table.grid td { border: 1px solid #bbb; padding: 3px 6px; text-align: left; }
        .finding { display: flex; gap: 12px; justify-content: space-between; border: 1px solid #bbb; border-left: 6px solid #888; padding: 8px; margin: 8px 0; break-inside: avoid; page-break-inside: avoid; }
        .finding.positive { border-left-color: #b00020; }
        .finding.negative { border-left-color: #2e7d32; }
        .finding-text { flex: 1 1 auto; min-width: 0; }
        .heatmap { margin: 0; flex: 0 0 auto; text-align: center; }
        .heatmap img { display: block; max-width: 45vw; height: auto; border: 1px solid #999; }
        .heatmap figcaption { font-size: 11px; color: #555; }
        .tag { display: inline-block; padding: 0 6px; border-radius: 3px; font-weight: bold; }
        .tag.positive, .tag.new { background: #b00020; color: #fff; }
        .tag.negative, .tag.resolved { background: #2e7d32; color: #fff; }
        .tag.unchanged { background: #ddd; }
        .uid, .missing { color: #666; font-size: 12px; }
        footer { margin-top: 16px; border-top: 1px solid #999; padding-top: 6px; font-size: 11px; color: #444; }
        @page { size: A4; margin: 12mm; }
        @media print {
          body { max-width: none; padding: 0; font-size: 8.5pt; line-height: 1.3; }
          .banner { font-size: 10pt; padding: 6px 10px; }
          header h1 { font-size: 13pt; margin-top: 6px; }
          h2 { font-size: 10.5pt; margin: 8px 0 4px; }
          h3 { font-size: 9.5pt; }
          .finding { padding: 5px; margin: 5px 0; }
          .uid, .missing, .heatmap figcaption { font-size: 7.5pt; }
          footer { margin-top: 8px; font-size: 7.5pt; }
          .banner, .tag, .finding { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
          .heatmap img { max-width: 45mm; }
          section, footer { break-inside: auto; }
          h2, h3 { break-after: avoid; }
        }

        """;
}
