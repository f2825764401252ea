using MedVision.Edge.Outputs;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Export;

/// <summary>
/// Section <c>MedVision:Export</c>: where the objects made for a study (SR, heat maps, report, FHIR Bundle) are delivered,
/// and how hard the outbox tries.
/// </summary>
public sealed class ExportOptions
{
    public const string Section = "MedVision:Export";

    public const int DefaultMaxAttempts = 8;
    public const double DefaultInitialBackoffSeconds = 5;
    public const double DefaultMaxBackoffSeconds = 600;
    public const double DefaultAttemptTimeoutSeconds = 60;
    public const int DefaultInAttemptRetries = 2;
    public const int DefaultGenerationMaxAttempts = 3;

    /// <summary>False: no outputs are made and nothing is delivered (rows already in the outbox stay as they are).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Attempts per delivery before it is <c>dead</c> (shown by <c>GET /api/deliveries?state=dead</c>).</summary>
    public int MaxAttempts { get; set; } = DefaultMaxAttempts;

    /// <summary>Wait after the first failed attempt; doubles per attempt up to <see cref="MaxBackoffSeconds"/>, ±20 % jitter.</summary>
    public double InitialBackoffSeconds { get; set; } = DefaultInitialBackoffSeconds;

    public double MaxBackoffSeconds { get; set; } = DefaultMaxBackoffSeconds;

    /// <summary>One attempt (connect, send, answer), in-attempt retries included.</summary>
    public double AttemptTimeoutSeconds { get; set; } = DefaultAttemptTimeoutSeconds;

    /// <summary>Quick retries inside one attempt for transient network errors (connection refused or reset, 503).</summary>
    public int InAttemptRetries { get; set; } = DefaultInAttemptRetries;

    /// <summary>Tries at making a study's outputs when a producer fails; after the last, what the others made is kept.</summary>
    public int GenerationMaxAttempts { get; set; } = DefaultGenerationMaxAttempts;

    public List<ExportDestinationOptions> Destinations { get; set; } = [];
}

/// <summary>One destination (<c>MedVision:Export:Destinations:N</c>).</summary>
public sealed class ExportDestinationOptions
{
    public const string Dicom = "dicom";
    public const string Fhir = "fhir";
    public const string Folder = "folder";

    /// <summary>Any output kind (for <see cref="Kinds"/>).</summary>
    public const string AllKinds = "all";

    public const int DefaultMaxConcurrency = 2;
    public const string DefaultCallingAe = "MEDVISION";

    /// <summary>Unique; deliveries are recorded against it. Default: the type.</summary>
    public string? Name { get; set; }

    /// <summary><c>dicom</c>, <c>fhir</c> or <c>folder</c>.</summary>
    public string Type { get; set; } = "";

    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Output kinds sent here (<see cref="StudyOutputKinds"/>, or <c>all</c>). Empty: dicom → sr, parametric-map,
    /// secondary-capture; fhir → fhir-bundle; folder → all.
    /// </summary>
    public List<string> Kinds { get; set; } = [];

    /// <summary>Deliveries to this destination in flight at once.</summary>
    public int MaxConcurrency { get; set; } = DefaultMaxConcurrency;

    /// <summary>dicom: the PACS (C-STORE SCP).</summary>
    public string? Host { get; set; }

    public int Port { get; set; } = 104;

    public string? CalledAe { get; set; }

    public string CallingAe { get; set; } = DefaultCallingAe;

    /// <summary>dicom: connect with TLS (PS3.15 B.1), trusting <see cref="TlsCaPath"/> (PEM; empty: the system store).</summary>
    public bool Tls { get; set; }

    public string? TlsCaPath { get; set; }

    /// <summary>dicom over TLS: our client certificate and key (PEM), for a PACS that requires one.</summary>
    public string? TlsCertificatePath { get; set; }

    public string? TlsKeyPath { get; set; }

    /// <summary>fhir: the server's base or transaction endpoint; the Bundle is POSTed here.</summary>
    public string? Url { get; set; }

    /// <summary>fhir: sent as <c>Authorization: Bearer …</c>.</summary>
    public string? BearerToken { get; set; }

    /// <summary>fhir: HTTP Basic authentication (when no bearer token).</summary>
    public string? Username { get; set; }

    public string? Password { get; set; }

    /// <summary>folder: files are written to <c>&lt;Path&gt;/&lt;study&gt;/&lt;output id&gt;_&lt;file name&gt;</c>.</summary>
    public string? Path { get; set; }

    public string EffectiveName => string.IsNullOrWhiteSpace(Name) ? Type.Trim().ToLowerInvariant() : Name.Trim();

    public string NormalizedType => Type.Trim().ToLowerInvariant();

    /// <summary>Whether outputs of <paramref name="kind"/> go here.</summary>
    public bool Accepts(string kind)
    {
        var kinds = Kinds.Count > 0 ? Kinds : DefaultKinds(NormalizedType);
        return kinds.Any(k => k.Equals(AllKinds, StringComparison.OrdinalIgnoreCase) || k.Equals(kind, StringComparison.OrdinalIgnoreCase));
    }

    public static IReadOnlyList<string> DefaultKinds(string type) => type switch
    {
        Dicom => [StudyOutputKinds.StructuredReport, StudyOutputKinds.ParametricMap, StudyOutputKinds.SecondaryCapture],
        Fhir => [StudyOutputKinds.FhirBundle],
        _ => [AllKinds],
    };
}

/// <summary>Collects every problem in the export section, then fails start-up with all of them.</summary>
internal sealed class ExportOptionsValidator : IValidateOptions<ExportOptions>
{
    private static readonly string[] KnownKinds =
    [
        ExportDestinationOptions.AllKinds, StudyOutputKinds.StructuredReport, StudyOutputKinds.ParametricMap, StudyOutputKinds.SecondaryCapture,
        StudyOutputKinds.HtmlReport, StudyOutputKinds.PdfReport, StudyOutputKinds.FhirBundle,
    ];

    public ValidateOptionsResult Validate(string? name, ExportOptions options)
    {
        const string s = ExportOptions.Section;
        var errors = new List<string>();
        if (options.MaxAttempts is < 1 or > 1000)
        {
            errors.Add($"{s}:MaxAttempts must be 1-1000 (was {options.MaxAttempts}).");
        }
        if (options.InitialBackoffSeconds <= 0 || double.IsNaN(options.InitialBackoffSeconds))
        {
            errors.Add($"{s}:InitialBackoffSeconds must be positive (was {options.InitialBackoffSeconds}).");
        }
        if (options.MaxBackoffSeconds < options.InitialBackoffSeconds)
        {
            errors.Add($"{s}:MaxBackoffSeconds must be at least InitialBackoffSeconds (was {options.MaxBackoffSeconds}).");
        }
        if (options.AttemptTimeoutSeconds <= 0 || double.IsNaN(options.AttemptTimeoutSeconds))
        {
            errors.Add($"{s}:AttemptTimeoutSeconds must be positive (was {options.AttemptTimeoutSeconds}).");
        }
        if (options.InAttemptRetries is < 0 or > 10)
        {
            errors.Add($"{s}:InAttemptRetries must be 0-10 (was {options.InAttemptRetries}).");
        }
        if (options.GenerationMaxAttempts is < 1 or > 100)
        {
            errors.Add($"{s}:GenerationMaxAttempts must be 1-100 (was {options.GenerationMaxAttempts}).");
        }

        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < options.Destinations.Count; i++)
        {
            var d = options.Destinations[i];
            var at = $"{s}:Destinations:{i}";
            var type = d.NormalizedType;
            if (type is not (ExportDestinationOptions.Dicom or ExportDestinationOptions.Fhir or ExportDestinationOptions.Folder))
            {
                errors.Add($"{at}:Type must be dicom, fhir or folder (was '{d.Type}').");
                continue;
            }
            if (!names.Add(d.EffectiveName))
            {
                errors.Add($"{at}: destination name '{d.EffectiveName}' is used twice; give each destination its own Name.");
            }
            if (d.MaxConcurrency is < 1 or > 64)
            {
                errors.Add($"{at}:MaxConcurrency must be 1-64 (was {d.MaxConcurrency}).");
            }
            foreach (var kind in d.Kinds.Where(k => !KnownKinds.Contains(k, StringComparer.OrdinalIgnoreCase)))
            {
                errors.Add($"{at}:Kinds has unknown kind '{kind}' (known: {string.Join(", ", KnownKinds)}).");
            }
            switch (type)
            {
                case ExportDestinationOptions.Dicom:
                    if (string.IsNullOrWhiteSpace(d.Host))
                    {
                        errors.Add($"{at}:Host is required for a dicom destination.");
                    }
                    if (d.Port is < 1 or > 65535)
                    {
                        errors.Add($"{at}:Port must be 1-65535 (was {d.Port}).");
                    }
                    if (!IsAeTitle(d.CalledAe))
                    {
                        errors.Add($"{at}:CalledAe must be 1-16 characters, no backslash or control characters (was '{d.CalledAe}').");
                    }
                    if (!IsAeTitle(d.CallingAe))
                    {
                        errors.Add($"{at}:CallingAe must be 1-16 characters, no backslash or control characters (was '{d.CallingAe}').");
                    }
                    if (d.Tls)
                    {
                        try
                        {
                            _ = MedVision.Dicom.Network.DicomClientTlsOptions.FromPemFiles(d.TlsCaPath, d.TlsCertificatePath, d.TlsKeyPath);
                        }
                        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or InvalidDataException or ArgumentException)
                        {
                            errors.Add($"{at}: TLS files (TlsCaPath, TlsCertificatePath, TlsKeyPath) cannot be used: {ex.Message}");
                        }
                    }
                    break;
                case ExportDestinationOptions.Fhir:
                    if (!Uri.TryCreate(d.Url, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
                    {
                        errors.Add($"{at}:Url must be an absolute http(s) URL (was '{d.Url}').");
                    }
                    if (!string.IsNullOrEmpty(d.BearerToken) && !string.IsNullOrEmpty(d.Username))
                    {
                        errors.Add($"{at}: set either BearerToken or Username/Password, not both.");
                    }
                    if (string.IsNullOrEmpty(d.Username) != (d.Password is null))
                    {
                        errors.Add($"{at}: Username and Password go together.");
                    }
                    break;
                case ExportDestinationOptions.Folder:
                    if (string.IsNullOrWhiteSpace(d.Path) || d.Path.IndexOfAny(System.IO.Path.GetInvalidPathChars()) >= 0)
                    {
                        errors.Add($"{at}:Path is required for a folder destination and must be a valid path (was '{d.Path}').");
                    }
                    break;
            }
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static bool IsAeTitle(string? value) =>
        !string.IsNullOrWhiteSpace(value) && value.Trim().Length <= 16 && !value.Any(c => c == '\\' || char.IsControl(c));
}
