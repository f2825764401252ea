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

    public int IdleTimeoutSeconds { get; set; } = 120;

    public int ArtimTimeoutSeconds { get; set; } = 30;

    /// <summary>Calling AE titles allowed to send; empty allows any.</summary>
    public List<string> AllowedCallingAeTitles { get; set; } = [];

    public DicomServerOptions ToServerOptions() => new()
    {
        AeTitle = AeTitle,
        Port = Port,
        BindAddress = BindAddress,
        MaxAssociations = MaxAssociations,
        IdleTimeout = TimeSpan.FromSeconds(IdleTimeoutSeconds),
        ArtimTimeout = TimeSpan.FromSeconds(ArtimTimeoutSeconds),
        AllowedCallingAeTitles = AllowedCallingAeTitles,
    };

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
        if (IdleTimeoutSeconds < 1 || ArtimTimeoutSeconds < 1)
        {
            yield return "MedVision:Dicom timeouts must be at least 1 second.";
        }
    }
}
