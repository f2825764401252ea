using System.Diagnostics;
using System.Text;
using MedVision.Edge.Outputs;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Reports;

/// <summary>
/// Prints the HTML report to an A4 PDF with the system Chromium (<c>--headless --print-to-pdf</c>), in a fresh profile in a temporary
/// folder, with name resolution switched off (and the report's own Content-Security-Policy) so nothing can be fetched. Off by default: the appliance then needs Debian's chromium.
/// </summary>
public sealed class PdfReportProducer(HtmlReportProducer htmlProducer, IOptions<ReportOptions> options, ILogger<PdfReportProducer> logger) : IStudyOutputProducer
{
    public bool IsEnabled => options.Value.PdfEnabled;

    public async Task<IReadOnlyList<StudyOutput>> ProduceAsync(StudyResults results, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(results);
        var studyUid = results.Study.StudyInstanceUid;
        var html = await htmlProducer.RenderAsync(results, cancellationToken).ConfigureAwait(false);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var pdf = await PrintAsync(html, cancellationToken).ConfigureAwait(false);
            ReportLog.PdfReportMade(logger, studyUid, pdf.Length, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return [new StudyOutput(StudyOutputKinds.PdfReport, $"report-{HtmlReportProducer.SafeFileName(studyUid)}.pdf", "application/pdf", pdf)];
        }
        catch (ReportPdfException ex)
        {
            ReportLog.PdfReportFailed(logger, studyUid, ex.Message);
            throw;
        }
    }

    private async Task<byte[]> PrintAsync(string html, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var chromium = settings.ResolveChromium()
            ?? throw new ReportPdfException($"Chromium '{settings.ChromiumPath}' is not installed (apt-get install chromium).");
        var folder = Path.Combine(Path.GetTempPath(), "medvision-pdf-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var htmlPath = Path.Combine(folder, "report.html");
            var pdfPath = Path.Combine(folder, "report.pdf");
            await File.WriteAllTextAsync(htmlPath, html, Encoding.UTF8, cancellationToken).ConfigureAwait(false);

            var start = new ProcessStartInfo(chromium)
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            foreach (var argument in new[]
            {
                "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--host-resolver-rules=MAP * ~NOTFOUND", "--no-pdf-header-footer",
                "--user-data-dir=" + Path.Combine(folder, "profile"), "--print-to-pdf=" + pdfPath,
            })
            {
                start.ArgumentList.Add(argument);
            }
            if (settings.ChromiumNoSandbox)
            {
                start.ArgumentList.Add("--no-sandbox");
            }
            start.ArgumentList.Add(new Uri(htmlPath).AbsoluteUri);

            using var process = Process.Start(start) ?? throw new ReportPdfException($"Chromium '{chromium}' did not start.");
            var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
            var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(settings.PdfTimeoutSeconds));
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                throw new ReportPdfException($"Chromium did not finish printing within {settings.PdfTimeoutSeconds} s.");
            }
            var errorText = await stderr.ConfigureAwait(false);
            await stdout.ConfigureAwait(false);
            if (process.ExitCode != 0 || !File.Exists(pdfPath))
            {
                throw new ReportPdfException($"Chromium exited with code {process.ExitCode} without a PDF: {Tail(errorText)}");
            }
            var pdf = await File.ReadAllBytesAsync(pdfPath, cancellationToken).ConfigureAwait(false);
            if (pdf.Length < 5 || !pdf.AsSpan(0, 5).SequenceEqual("%PDF-"u8))
            {
                throw new ReportPdfException($"Chromium wrote {pdf.Length} bytes that are not a PDF.");
            }
            return pdf;
        }
        finally
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
                // A Chromium helper still closing its profile files; the temp cleaner removes the folder later.
            }
        }
    }

    private static string Tail(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return string.Join(" | ", lines.TakeLast(3));
    }
}

/// <summary>The PDF report could not be made; the message says why.</summary>
public sealed class ReportPdfException(string message) : Exception(message);
