using System.Globalization;

namespace MedVision.Dicom.Deidentification;

/// <summary>The options of PS3.15 E.3 that have a column in Table E.1-1, with their CID 7050 codes (PS3.16).</summary>
public enum ProfileOption
{
    RetainSafePrivate,
    RetainUids,
    RetainDeviceIdentity,
    RetainInstitutionIdentity,
    RetainPatientCharacteristics,
    RetainLongitudinalFullDates,
    RetainLongitudinalModifiedDates,
    CleanDescriptors,
    CleanStructuredContent,
    CleanGraphics,
}

/// <summary>One row of Table E.1-1: which attributes it covers, the Basic Profile action and each option's action.</summary>
public sealed record ProfileRule(string TagPattern, string Name, string Basic, IReadOnlyDictionary<ProfileOption, string> Options, bool InStandardIod)
{
    /// <summary>Whether the row is "Private Attributes (gggg,eeee) where gggg is odd".</summary>
    public bool IsPrivateRow => TagPattern == "private";

    public bool Matches(DicomTag tag) => IsPrivateRow ? tag.IsPrivate : (tag.Value & Mask) == Value;

    internal uint Value { get; init; }

    internal uint Mask { get; init; }

    /// <summary>
    /// The action with <paramref name="enabled"/> options in force. An option's K (retain) wins over its C (clean),
    /// which wins over the Basic Profile, since an option exists to relax the profile for what it names.
    /// </summary>
    public string ActionFor(IReadOnlySet<ProfileOption> enabled)
    {
        string? clean = null;
        foreach (var (option, action) in Options)
        {
            if (!enabled.Contains(option))
            {
                continue;
            }
            if (action == "K")
            {
                return "K";
            }
            clean ??= action;
        }
        return clean ?? Basic;
    }
}

/// <summary>
/// The Application Level Confidentiality Profile action table, read from basic-profile.tsv (generated from the
/// standard's Table E.1-1 by make-basic-profile.py and embedded in this assembly). Immutable once loaded.
/// </summary>
public sealed class ConfidentialityProfile
{
    private const string ResourceName = "MedVision.Dicom.Deidentification.basic-profile.tsv";

    private static readonly Dictionary<string, ProfileOption> Columns = new(StringComparer.Ordinal)
    {
        ["retain-safe-private"] = ProfileOption.RetainSafePrivate,
        ["retain-uids"] = ProfileOption.RetainUids,
        ["retain-device-identity"] = ProfileOption.RetainDeviceIdentity,
        ["retain-institution-identity"] = ProfileOption.RetainInstitutionIdentity,
        ["retain-patient-characteristics"] = ProfileOption.RetainPatientCharacteristics,
        ["retain-long-full-dates"] = ProfileOption.RetainLongitudinalFullDates,
        ["retain-long-modified-dates"] = ProfileOption.RetainLongitudinalModifiedDates,
        ["clean-descriptors"] = ProfileOption.CleanDescriptors,
        ["clean-structured-content"] = ProfileOption.CleanStructuredContent,
        ["clean-graphics"] = ProfileOption.CleanGraphics,
    };

    private static readonly HashSet<string> Actions = new(StringComparer.Ordinal) { "D", "Z", "X", "K", "C", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*" };

    private static readonly Lazy<ConfidentialityProfile> Embedded = new(LoadEmbedded);

    private readonly Dictionary<uint, ProfileRule> _exact;
    private readonly ProfileRule[] _repeating;
    private readonly ProfileRule? _private;

    private ConfidentialityProfile(IReadOnlyList<ProfileRule> rules, string source)
    {
        Rules = rules;
        Source = source;
        _exact = rules.Where(r => !r.IsPrivateRow && r.Mask == uint.MaxValue).ToDictionary(r => r.Value);
        // Most specific pattern first, so (60xx,3000) is found before a broader one would be.
        _repeating = [.. rules.Where(r => !r.IsPrivateRow && r.Mask != uint.MaxValue).OrderByDescending(r => uint.PopCount(r.Mask))];
        _private = rules.FirstOrDefault(r => r.IsPrivateRow);
    }

    /// <summary>The table of the edition this assembly was built with.</summary>
    public static ConfidentialityProfile Basic => Embedded.Value;

    public IReadOnlyList<ProfileRule> Rules { get; }

    /// <summary>Where the table came from (edition and extraction), from the TSV header.</summary>
    public string Source { get; }

    /// <summary>The rule for a standard tag (exact, then repeating patterns) or the private-attributes rule for an odd group.</summary>
    public bool TryGetRule(DicomTag tag, out ProfileRule rule)
    {
        if (tag.IsPrivate)
        {
            rule = _private!;
            return _private is not null;
        }
        if (_exact.TryGetValue(tag.Value, out rule!))
        {
            return true;
        }
        foreach (var candidate in _repeating)
        {
            if (candidate.Matches(tag))
            {
                rule = candidate;
                return true;
            }
        }
        rule = null!;
        return false;
    }

    public static ConfidentialityProfile Parse(TextReader reader)
    {
        var rules = new List<ProfileRule>();
        var source = string.Empty;
        string[]? header = null;
        string? line;
        var number = 0;
        while ((line = reader.ReadLine()) is not null)
        {
            number++;
            if (line.StartsWith("# Source:", StringComparison.Ordinal))
            {
                source = line["# Source:".Length..].Trim();
                continue;
            }
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            var cells = line.Split('\t');
            if (header is null)
            {
                header = cells;
                if (header.Length < 3 || header[0] != "tag" || header[1] != "name" || header[2] != "basic")
                {
                    throw new FormatException($"basic-profile.tsv line {number}: header must start with tag, name, basic.");
                }
                continue;
            }
            if (cells.Length != header.Length)
            {
                throw new FormatException($"basic-profile.tsv line {number}: {cells.Length} cells, header has {header.Length}.");
            }
            var options = new Dictionary<ProfileOption, string>();
            var inIod = false;
            for (var i = 2; i < cells.Length; i++)
            {
                var action = cells[i].Trim();
                if (header[i] == "in-standard-iod")
                {
                    inIod = action == "Y";
                    continue;
                }
                if (action.Length == 0)
                {
                    continue;
                }
                if (!Actions.Contains(action))
                {
                    throw new FormatException($"basic-profile.tsv line {number}: unknown action '{action}' in column {header[i]}.");
                }
                if (header[i] != "basic")
                {
                    if (!Columns.TryGetValue(header[i], out var option))
                    {
                        throw new FormatException($"basic-profile.tsv: unknown column {header[i]}.");
                    }
                    options[option] = action;
                }
            }
            var (value, mask) = ParsePattern(cells[0], number);
            rules.Add(new ProfileRule(cells[0], cells[1], cells[2].Trim(), options, inIod) { Value = value, Mask = mask });
        }
        if (rules.Count == 0)
        {
            throw new FormatException("basic-profile.tsv holds no rules.");
        }
        return new ConfidentialityProfile(rules, source);
    }

    private static (uint Value, uint Mask) ParsePattern(string pattern, int line)
    {
        if (pattern == "private")
        {
            return (0, 0);
        }
        var digits = pattern.Replace(",", string.Empty, StringComparison.Ordinal);
        if (digits.Length != 8)
        {
            throw new FormatException($"basic-profile.tsv line {line}: '{pattern}' is not gggg,eeee.");
        }
        uint value = 0, mask = 0;
        foreach (var c in digits)
        {
            value <<= 4;
            mask <<= 4;
            if (c is 'x' or 'X')
            {
                continue;
            }
            value |= uint.Parse(c.ToString(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            mask |= 0xF;
        }
        return (value, mask);
    }

    private static ConfidentialityProfile LoadEmbedded()
    {
        using var stream = typeof(ConfidentialityProfile).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"Embedded resource {ResourceName} is missing from the build.");
        using var reader = new StreamReader(stream);
        return Parse(reader);
    }
}
