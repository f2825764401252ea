using MedVision.Dicom.Network;

namespace MedVision.Edge.Ingest;

/// <summary>Section MedVision:Dicom — the C-STORE SCP modalities send to.</summary>
public sealed class DicomOptions
{
    public const string Section = "MedVision:Dicom";

    public string AeTitle { get; set; } = DicomServerOptions.DefaultAeTitle;

    public int Port { get; set; } = DicomServerOptions.DefaultPort;

    public string BindAddress { get; set; } = "0.0.0.0";

    public int MaxAssociations { get; set; } = 25;

    /// <summary>Per calling AE, the associations it may hold at once (<c>MedVision:Dicom:MaxAssociationsPerCallingAe:CT1=4</c>).</summary>
    public Dictionary<string, int> MaxAssociationsPerCallingAe { get; set; } = new(StringComparer.Ordinal);

    public int IdleTimeoutSeconds { get; set; } = 120;

    public int ArtimTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// Asynchronous operations window granted to senders that propose one (PS3.7 D.3.3.3): C-STOREs a sender may have outstanding on
    /// one association. 1 (the default) keeps one operation at a time.
    /// </summary>
    public int MaxOperationsPerformed { get; set; } = 1;

    /// <summary>Port of the DICOM TLS listener (2762 is customary); 0 disables it.</summary>
    public int TlsPort { get; set; }

    /// <summary>PEM certificate (chain) of the TLS listener.</summary>
    public string? TlsCertificatePath { get; set; }

    /// <summary>PEM private key of <see cref="TlsCertificatePath"/>.</summary>
    public string? TlsKeyPath { get; set; }

    /// <summary>Require client certificates issued by <see cref="TlsClientCaPath"/>.</summary>
    public bool TlsRequireClientCertificate { get; set; }

    /// <summary>PEM bundle of CAs (or self-signed certificates) that client certificates must chain to.</summary>
    public string? TlsClientCaPath { get; set; }

    /// <summary>Where peers listen, by their AE title: storage commitment reports are sent there.</summary>
    public Dictionary<string, DicomPeer> Peers { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Source addresses or CIDR blocks allowed to connect; empty allows any.</summary>
    public List<string> AllowedAddresses { get; set; } = [];

    /// <summary>Per calling AE title, the addresses or CIDR blocks it must connect from.</summary>
    public Dictionary<string, List<string>> CallingAeAddresses { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Calling AE titles allowed to send; empty allows any.</summary>
    public List<string> AllowedCallingAeTitles { get; set; } = [];

    public DicomServerOptions ToServerOptions() => new()
    {
        AeTitle = AeTitle,
        Port = Port,
        BindAddress = BindAddress,
        MaxAssociations = MaxAssociations,
        MaxAssociationsPerCallingAe = new Dictionary<string, int>(MaxAssociationsPerCallingAe, StringComparer.Ordinal),
        IdleTimeout = TimeSpan.FromSeconds(IdleTimeoutSeconds),
        ArtimTimeout = TimeSpan.FromSeconds(ArtimTimeoutSeconds),
        AllowedCallingAeTitles = AllowedCallingAeTitles,
        MaxOperationsPerformed = MaxOperationsPerformed,
    };

    /// <summary>The TLS listener's options, or null when it is disabled.</summary>
    public DicomServerOptions? ToTlsServerOptions()
    {
        if (TlsPort == 0)
        {
            return null;
        }
        var options = ToServerOptions();
        options.Port = TlsPort;
        var clientCas = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
        if (!string.IsNullOrEmpty(TlsClientCaPath))
        {
            clientCas.ImportFromPemFile(TlsClientCaPath);
        }
        options.Tls = new DicomTlsOptions(System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(TlsCertificatePath!, TlsKeyPath))
        {
            RequireClientCertificate = TlsRequireClientCertificate,
            TrustedClientAuthorities = clientCas,
        };
        return options;
    }

    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(AeTitle) || AeTitle.Length > 16 || AeTitle.Contains('\\', StringComparison.Ordinal))
        {
            yield return $"MedVision:Dicom:AeTitle '{AeTitle}' must be 1-16 characters without backslash.";
        }
        if (Port is < 0 or > 65535)
        {
            yield return $"MedVision:Dicom:Port {Port} is not a TCP port.";
        }
        if (MaxAssociations < 1)
        {
            yield return "MedVision:Dicom:MaxAssociations must be at least 1.";
        }
        foreach (var (ae, limit) in MaxAssociationsPerCallingAe.Where(p => p.Value < 1 || p.Value > MaxAssociations))
        {
            yield return $"MedVision:Dicom:MaxAssociationsPerCallingAe:{ae} is {limit}; it must be between 1 and MaxAssociations ({MaxAssociations}).";
        }
        if (TlsPort is < 0 or > 65535)
        {
            yield return $"MedVision:Dicom:TlsPort {TlsPort} is not a TCP port.";
        }
        if (TlsPort > 0 && (!File.Exists(TlsCertificatePath) || !File.Exists(TlsKeyPath)))
        {
            yield return $"MedVision:Dicom:TlsPort is set but the certificate '{TlsCertificatePath}' or key '{TlsKeyPath}' does not exist.";
        }
        if (TlsRequireClientCertificate && !File.Exists(TlsClientCaPath))
        {
            yield return $"MedVision:Dicom:TlsRequireClientCertificate needs TlsClientCaPath; '{TlsClientCaPath}' does not exist.";
        }
        foreach (var range in AllowedAddresses.Concat(CallingAeAddresses.Values.SelectMany(v => v)))
        {
            var parts = range.Split('/');
            if (!System.Net.IPAddress.TryParse(parts[0], out var ip) || parts.Length > 2 ||
                (parts.Length == 2 && (!int.TryParse(parts[1], out var bits) || bits < 0 || bits > ip.GetAddressBytes().Length * 8)))
            {
                yield return $"MedVision:Dicom address '{range}' is not an IP address or CIDR block.";
            }
        }
        if (MaxOperationsPerformed is < 1 or > ushort.MaxValue)
        {
            yield return $"MedVision:Dicom:MaxOperationsPerformed {MaxOperationsPerformed} must be between 1 and 65535.";
        }
        if (IdleTimeoutSeconds < 1 || ArtimTimeoutSeconds < 1)
        {
            yield return "MedVision:Dicom timeouts must be at least 1 second.";
        }
    }
}

/// <summary>A DICOM peer's address; <see cref="AeTitle"/> defaults to the key it is configured under.</summary>
public sealed class DicomPeer
{
    public string Host { get; set; } = "127.0.0.1";

    public int Port { get; set; } = 104;

    public string? AeTitle { get; set; }
}
