using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace MedVision.Dicom.Network;

/// <summary>The Secure Transport Connection Profile (PS3.15 B.1): our certificate and how clients are checked.</summary>
public sealed class DicomTlsOptions(X509Certificate2 serverCertificate)
{
    public X509Certificate2 ServerCertificate { get; } = serverCertificate;

    /// <summary>Require a client certificate that chains to <see cref="TrustedClientAuthorities"/>.</summary>
    public bool RequireClientCertificate { get; init; }

    /// <summary>CAs (or self-signed certificates) that client certificates must chain to; empty trusts the system store.</summary>
    public X509Certificate2Collection TrustedClientAuthorities { get; init; } = [];

    internal bool ValidateClient(X509Certificate2? certificate, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return !RequireClientCertificate;
        }
        if (TrustedClientAuthorities.Count == 0)
        {
            return errors == SslPolicyErrors.None;
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(TrustedClientAuthorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }
}

/// <summary>How our SCU opens a Secure Transport Connection (PS3.15 B.1): whom it trusts and which certificate it shows.</summary>
public sealed class DicomClientTlsOptions
{
    /// <summary>The name the peer's certificate must carry; defaults to the host connected to.</summary>
    public string? TargetHost { get; init; }

    /// <summary>Presented when the peer asks for a client certificate (with its private key).</summary>
    public X509Certificate2? ClientCertificate { get; init; }

    /// <summary>CAs (or self-signed certificates) the peer's certificate must chain to; empty trusts the system store.</summary>
    public X509Certificate2Collection TrustedServerAuthorities { get; init; } = [];

    /// <summary>
    /// From PEM files as hospital IT has them: a CA bundle to trust (null: the system store) and, optionally, our certificate with
    /// its private key. Throws with the file named when one cannot be read.
    /// </summary>
    public static DicomClientTlsOptions FromPemFiles(string? trustedCaPath, string? certificatePath, string? keyPath, string? targetHost = null)
    {
        var trusted = new X509Certificate2Collection();
        if (!string.IsNullOrWhiteSpace(trustedCaPath))
        {
            trusted.ImportFromPemFile(trustedCaPath);
            if (trusted.Count == 0)
            {
                throw new InvalidDataException($"No certificate in {trustedCaPath}.");
            }
        }
        return new DicomClientTlsOptions
        {
            TargetHost = string.IsNullOrWhiteSpace(targetHost) ? null : targetHost,
            ClientCertificate = string.IsNullOrWhiteSpace(certificatePath) ? null : X509Certificate2.CreateFromPemFile(certificatePath, keyPath),
            TrustedServerAuthorities = trusted,
        };
    }

    internal SslClientAuthenticationOptions ToAuthenticationOptions(string host) => new()
    {
        TargetHost = TargetHost ?? host,
        EnabledSslProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13,
        ClientCertificates = ClientCertificate is null ? null : [ClientCertificate],
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
    };

    internal bool ValidateServer(X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return false;
        }
        if (TrustedServerAuthorities.Count == 0)
        {
            return errors == SslPolicyErrors.None;
        }
        // A private CA: the chain must end in one of ours, and the name must still match.
        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            return false;
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(TrustedServerAuthorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
    }
}
