using System.Text.RegularExpressions;
using MedVision.Testing;

namespace MedVision.Dicom.Tests.Validation;

/// <summary>
/// dicom3tools' dciodvfy (Debian package dicom3tools): validates an instance against its IOD and the VR rules. We
/// compare error messages before and after our processing with values masked, since de-identification changes values
/// by design and a message about a changed value is the same problem, not a new one.
/// </summary>
internal static partial class Dciodvfy
{
    public static async Task<IReadOnlyList<string>> ErrorsAsync(string path)
    {
        var result = await ExternalTool.RunAsync("dciodvfy", [path], TimeSpan.FromSeconds(60));
        return result.Combined.Split('\n')
            .Where(l => l.StartsWith("Error", StringComparison.Ordinal))
            .Select(Normalize)
            .ToList();
    }

    /// <summary>Errors in <paramref name="after"/> beyond those in <paramref name="before"/> (as multisets).</summary>
    public static List<string> NewErrors(IReadOnlyList<string> before, IReadOnlyList<string> after)
    {
        var remaining = before.GroupBy(e => e).ToDictionary(g => g.Key, g => g.Count());
        var added = new List<string>();
        foreach (var error in after)
        {
            if (remaining.TryGetValue(error, out var count) && count > 0)
            {
                remaining[error] = count - 1;
            }
            else
            {
                added.Add(error);
            }
        }
        return added;
    }

    private static string Normalize(string line) =>
        Numbers().Replace(Quoted().Replace(Bracketed().Replace(line.Trim(), "= <v>"), "\"v\""), "#");

    [GeneratedRegex(@"= <[^>]*>")]
    private static partial Regex Bracketed();

    [GeneratedRegex("\"[^\"]*\"")]
    private static partial Regex Quoted();

    [GeneratedRegex(@"\d+(\.\d+)*")]
    private static partial Regex Numbers();
}
