namespace MedVision.Dicom.Network;

public sealed class DicomServerOptions
{
    public const int DefaultPort = 11112;
    public const string DefaultAeTitle = "MEDVISION";

    public string AeTitle { get; set; } = DefaultAeTitle;

    public int Port { get; set; } = DefaultPort;

    /// <summary>Address to listen on; "0.0.0.0" for IPv4 everywhere, "::" for dual stack.</summary>
    public string BindAddress { get; set; } = "0.0.0.0";

    /// <summary>Associations served at once; more are rejected with "local limit exceeded".</summary>
    public int MaxAssociations { get; set; } = 25;

    /// <summary>Largest P-DATA-TF PDU we accept, announced in A-ASSOCIATE-AC.</summary>
    /// <summary>
    /// Concurrent associations a given calling AE may hold (e.g. <c>CT1 → 4</c>), so one chatty sender cannot take every slot from the
    /// others; AE titles not listed share <see cref="MaxAssociations"/> only.
    /// </summary>
    public Dictionary<string, int> MaxAssociationsPerCallingAe { get; set; } = new(StringComparer.Ordinal);

    public uint MaxPduLength { get; set; } = 116_794;

    /// <summary>ARTIM (PS3.8 9.1.5): how long a new connection may take to send its A-ASSOCIATE-RQ.</summary>
    public TimeSpan ArtimTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>An association with no PDU for this long is aborted.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>Calling AE titles allowed to associate; empty allows any.</summary>
    public List<string> AllowedCallingAeTitles { get; set; } = [];

    /// <summary>Uncompressed transfer syntaxes in order of preference, used when a context offers no compressed one.</summary>
    public List<string> TransferSyntaxPreference { get; set; } =
    [
        DicomTransferSyntax.ExplicitVRLittleEndian.Uid,
        DicomTransferSyntax.ImplicitVRLittleEndian.Uid,
        DicomTransferSyntax.DeflatedExplicitVRLittleEndian.Uid,
        DicomTransferSyntax.ExplicitVRBigEndian.Uid,
    ];

    /// <summary>When set, every connection must complete a TLS handshake before the association (DICOM TLS).</summary>
    public DicomTlsOptions? Tls { get; set; }

    /// <summary>
    /// Operations a requestor may have outstanding on one association (Asynchronous Operations Window, PS3.7 D.3.3.3): with more than 1,
    /// the next C-STORE is received while earlier ones are still being made durable, and each gets its own response as it completes.
    /// Granted only to requestors that propose a window, never above what they propose; 1 keeps one operation at a time.
    /// </summary>
    public int MaxOperationsPerformed { get; set; } = 1;

    /// <summary>Accept a compressed syntax the sender proposes (kept as received) rather than making it transcode.</summary>
    public bool AcceptCompressedTransferSyntaxes { get; set; } = true;
}
