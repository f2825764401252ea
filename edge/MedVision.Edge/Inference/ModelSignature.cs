using System.Security.Cryptography;
using System.Text;

namespace MedVision.Edge.Inference;

/// <summary>
/// The detached signature of a model package: <c>manifest.sig</c> holds a DER-encoded (RFC 3279) ECDSA P-256
/// signature with SHA-256 over the exact bytes of <c>manifest.json</c>, as <c>models/factory/signing.py</c> and
/// <c>openssl dgst -sha256 -sign</c> write it. The manifest carries the ONNX file's SHA-256, so one signature
/// covers the model too. ECDSA P-256 rather than Ed25519 because .NET 10 has no stand-alone Ed25519, while
/// <see cref="ECDsa"/> is built in on every platform the appliance runs on.
/// </summary>
public static class ModelSignature
{
    public const string FileName = "manifest.sig";

    public const string Algorithm = "ECDSA P-256 / SHA-256";

    /// <summary>Where the build puts the development public key, relative to <see cref="AppContext.BaseDirectory"/>.</summary>
    public const string DevelopmentPublicKeyPath = "keys/dev-signing-key.pub";

    /// <summary>A DER ECDSA P-256 signature is at most 72 bytes; anything far larger is not one.</summary>
    internal const int MaxSignatureBytes = 1024;

    private const string P256Oid = "1.2.840.10045.3.1.7";

    /// <summary>
    /// Reads one configured public key: PEM text (<c>-----BEGIN PUBLIC KEY-----</c>), a file holding PEM or
    /// base64, or base64 of the DER SubjectPublicKeyInfo. Relative file paths resolve against
    /// <paramref name="baseDirectory"/>. Throws <see cref="FormatException"/> saying what is wrong.
    /// </summary>
    public static ECDsa ReadPublicKey(string entry, string baseDirectory)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var text = entry.Trim();
        if (text.Length == 0)
        {
            throw new FormatException("the entry is empty");
        }
        if (text.Contains("-----BEGIN", StringComparison.Ordinal))
        {
            return FromPem(text);
        }

        var path = Path.GetFullPath(text, baseDirectory);
        if (File.Exists(path))
        {
            var content = File.ReadAllText(path, Encoding.UTF8);
            try
            {
                return content.Contains("-----BEGIN", StringComparison.Ordinal) ? FromPem(content) : FromBase64(content.Trim());
            }
            catch (FormatException ex)
            {
                throw new FormatException($"file '{path}': {ex.Message}", ex);
            }
        }

        var looksLikePath = text.Contains('/') && text.IndexOfAny(['.', '-', '_']) >= 0;
        if (!looksLikePath)
        {
            try
            {
                return FromBase64(text);
            }
            catch (FormatException)
            {
                // Fall through to the message that names every accepted form.
            }
        }
        throw new FormatException(
            $"'{Abbreviate(text)}' is neither PEM text, base64 of a SubjectPublicKeyInfo, nor an existing file ('{path}' does not exist)");
    }

    /// <summary>First 16 hex digits of the SHA-256 of the key's SubjectPublicKeyInfo (what the factory prints too).</summary>
    public static string Fingerprint(ECDsa key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo()))[..16];
    }

    /// <summary>True when <paramref name="signature"/> is a valid signature of <paramref name="manifest"/> by <paramref name="key"/>.</summary>
    public static bool Verify(ECDsa key, ReadOnlySpan<byte> manifest, ReadOnlySpan<byte> signature)
    {
        ArgumentNullException.ThrowIfNull(key);
        try
        {
            return key.VerifyData(manifest, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        }
        catch (CryptographicException)
        {
            // Not even well-formed DER: as untrustworthy as a wrong signature.
            return false;
        }
    }

    private static ECDsa FromPem(string pem)
    {
        PemFields fields;
        try
        {
            fields = PemEncoding.Find(pem);
        }
        catch (ArgumentException)
        {
            throw new FormatException("no complete PEM block found");
        }
        var label = pem[fields.Label];
        if (label != "PUBLIC KEY")
        {
            // A private key pasted into configuration would be a leak waiting to happen; refuse it outright.
            throw new FormatException($"PEM block is '{label}', expected 'PUBLIC KEY'");
        }
        return FromDer(Convert.FromBase64String(pem[fields.Base64Data]));
    }

    private static ECDsa FromBase64(string base64)
    {
        var buffer = new byte[base64.Length];
        if (!Convert.TryFromBase64String(base64, buffer, out var written))
        {
            throw new FormatException("not valid base64");
        }
        return FromDer(buffer.AsSpan(0, written));
    }

    private static ECDsa FromDer(ReadOnlySpan<byte> spki)
    {
        var key = ECDsa.Create();
        try
        {
            key.ImportSubjectPublicKeyInfo(spki, out _);
            var curve = key.ExportParameters(includePrivateParameters: false).Curve;
            if (key.KeySize != 256 || curve.Oid?.Value != P256Oid)
            {
                throw new FormatException($"the key is on curve {curve.Oid?.FriendlyName ?? curve.Oid?.Value ?? "?"}, expected P-256");
            }
            return key;
        }
        catch (CryptographicException ex)
        {
            key.Dispose();
            throw new FormatException($"not an ECDSA P-256 SubjectPublicKeyInfo ({ex.Message})", ex);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    private static string Abbreviate(string text) => text.Length <= 60 ? text : text[..57] + "...";
}

/// <summary>A public key the appliance trusts for package signatures, and where it came from.</summary>
public sealed record TrustedSigningKey(string Fingerprint, string Source);

/// <summary>
/// Checks <c>manifest.sig</c> against the configured public keys (<see cref="InferenceOptions.SigningPublicKeys"/>,
/// or the development key shipped at <see cref="ModelSignature.DevelopmentPublicKeyPath"/> when none is configured).
/// Keys are read once; a key that cannot be read is reported, and with no usable key every package is refused.
/// Only the public key bytes are kept, so there is nothing native to dispose.
/// </summary>
public sealed class ModelSignatureVerifier
{
    private readonly List<(byte[] SubjectPublicKeyInfo, TrustedSigningKey Info)> _keys = [];

    public ModelSignatureVerifier(InferenceOptions options, string? baseDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var root = baseDirectory ?? AppContext.BaseDirectory;
        UsesDevelopmentKey = options.SigningPublicKeys.Count == 0;
        IReadOnlyList<string> entries = UsesDevelopmentKey ? [ModelSignature.DevelopmentPublicKeyPath] : options.SigningPublicKeys;
        var errors = new List<string>();
        for (var i = 0; i < entries.Count; i++)
        {
            var source = UsesDevelopmentKey
                ? $"development key {ModelSignature.DevelopmentPublicKeyPath}"
                : $"{InferenceOptions.Section}:SigningPublicKeys:{i}";
            try
            {
                using var key = ModelSignature.ReadPublicKey(entries[i], root);
                _keys.Add((key.ExportSubjectPublicKeyInfo(), new TrustedSigningKey(ModelSignature.Fingerprint(key), source)));
            }
            catch (FormatException ex)
            {
                errors.Add($"{source}: {ex.Message}");
            }
        }
        KeyErrors = errors;
    }

    /// <summary>True when no key is configured and the shipped development key is trusted instead.</summary>
    public bool UsesDevelopmentKey { get; }

    public IReadOnlyList<TrustedSigningKey> Keys => _keys.Select(k => k.Info).ToList();

    /// <summary>Keys that could not be read (configured ones are also start-up validation errors).</summary>
    public IReadOnlyList<string> KeyErrors { get; }

    /// <summary>
    /// Verifies the package's <c>manifest.sig</c> over <paramref name="manifestBytes"/>; returns the key that
    /// signed it, or throws <see cref="ModelPackageException"/> saying why the package is not trusted.
    /// </summary>
    public TrustedSigningKey Verify(string packageDirectory, ReadOnlySpan<byte> manifestBytes)
    {
        var signaturePath = Path.Combine(packageDirectory, ModelSignature.FileName);
        if (!File.Exists(signaturePath))
        {
            throw new ModelPackageException(
                $"{ModelSignature.FileName} is missing: the package is unsigned ({ModelSignature.Algorithm} signature of {ModelManifest.FileName} required)");
        }
        if (new FileInfo(signaturePath).Length > ModelSignature.MaxSignatureBytes)
        {
            throw new ModelPackageException($"{ModelSignature.FileName} is not a signature (larger than {ModelSignature.MaxSignatureBytes} bytes)");
        }
        if (_keys.Count == 0)
        {
            throw new ModelPackageException(
                $"signature cannot be checked: no trusted signing public key could be loaded ({string.Join("; ", KeyErrors)})");
        }

        var signature = File.ReadAllBytes(signaturePath);
        foreach (var (spki, info) in _keys)
        {
            using var key = ECDsa.Create();
            key.ImportSubjectPublicKeyInfo(spki, out _);
            if (ModelSignature.Verify(key, manifestBytes, signature))
            {
                return info;
            }
        }
        throw new ModelPackageException(
            $"signature check failed: {ModelSignature.FileName} does not verify {ModelManifest.FileName} with any trusted key "
            + $"({string.Join(", ", _keys.Select(k => k.Info.Fingerprint))}): the manifest was altered or signed with an untrusted key");
    }
}
