using System.ComponentModel.DataAnnotations;

namespace MedVision.Edge.Priors;

/// <summary>
/// Section MedVision:Priors — where the appliance looks for a patient's earlier studies (C-FIND) and fetches the most recent one
/// (C-GET, so the PACS needs no route back to the appliance) to run the same models on it.
/// </summary>
public sealed class PriorOptions
{
    public const string Section = "MedVision:Priors";

    /// <summary>Off by default: the appliance runs alone until a PACS is configured.</summary>
    public bool Enabled { get; set; }

    public string Host { get; set; } = "127.0.0.1";

    [Range(1, 65535)]
    public int Port { get; set; } = 104;

    /// <summary>The PACS's AE title.</summary>
    [Required]
    public string CalledAeTitle { get; set; } = "PACS";

    /// <summary>Our AE title towards the PACS; defaults to MedVision:Dicom:AeTitle.</summary>
    public string? CallingAeTitle { get; set; }

    /// <summary>Only studies at most this old count as priors.</summary>
    [Range(1, 36500)]
    public int MaxAgeDays { get; set; } = 3650;

    /// <summary>A prior with more instances than this is compared on its first instances only (memory and time stay bounded).</summary>
    [Range(1, 10000)]
    public int MaxInstances { get; set; } = 50;

    /// <summary>Time allowed for one query-and-retrieve.</summary>
    [Range(1, 3600)]
    public int TimeoutSeconds { get; set; } = 120;

    /// <summary>Attempts before a comparison is given up (the PACS may be down); retried with growing delays.</summary>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 5;

    [Range(0.1, 3600)]
    public double RetryDelaySeconds { get; set; } = 30;

    /// <summary>How long report producers wait for a comparison still in progress before reporting without it.</summary>
    [Range(0, 3600)]
    public double ReportWaitSeconds { get; set; } = 120;
}
