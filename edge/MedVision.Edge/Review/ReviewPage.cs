using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Review;

/// <summary>
/// The review page (embedded <c>review.html</c>): one file with its style and script inline, nothing fetched from
/// elsewhere. Its Content-Security-Policy allows exactly that script and that style (by SHA-256), API calls to this
/// appliance and nothing else, so even an injected tag could neither run nor load anything. The script renders every
/// value with textContent, never as markup.
/// </summary>
public sealed partial class ReviewPage
{
    public const string ResourceName = "MedVision.Edge.Review.review.html";

    public ReviewPage(IOptions<ReviewOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        using var stream = typeof(ReviewPage).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"Embedded resource {ResourceName} is missing.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        // How many studies to list travels as a data attribute: the script stays byte-identical, so its hash holds.
        Html = reader.ReadToEnd().Replace("<html lang=\"en\">",
            $"<html lang=\"en\" data-studies=\"{options.Value.PageStudies.ToString(CultureInfo.InvariantCulture)}\">", StringComparison.Ordinal);
        var script = Hash(ScriptBlock().Match(Html));
        var style = Hash(StyleBlock().Match(Html));
        ContentSecurityPolicy = $"default-src 'none'; script-src '{script}'; style-src '{style}'; connect-src 'self'; "
            + "img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
    }

    public string Html { get; }

    public string ContentSecurityPolicy { get; }

    /// <summary>Serves the page with its policy; the page reads <c>?study=</c> itself.</summary>
    public IResult Serve(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        var headers = http.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers.CacheControl = "no-store";
        return Results.Content(Html, "text/html; charset=utf-8");
    }

    // The browser hashes the element's text exactly as written, so the hash is taken over the same characters.
    private static string Hash(Match block) =>
        block.Success
            ? "sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(block.Groups[1].Value)))
            : throw new InvalidOperationException("review.html must have one <script> and one <style> block.");

    [GeneratedRegex("<script>(.*?)</script>", RegexOptions.Singleline)]
    private static partial Regex ScriptBlock();

    [GeneratedRegex("<style>(.*?)</style>", RegexOptions.Singleline)]
    private static partial Regex StyleBlock();
}
