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
