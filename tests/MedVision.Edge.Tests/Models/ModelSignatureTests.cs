using System.Security.Cryptography;
using MedVision.Edge.Inference;
using MedVision.Edge.Tests.Inference;
using MedVision.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Tests.Models;

public sealed class ModelSignatureTests
{
    private static string DevPublicKeyFile => Path.Combine(RepoPaths.Root, "models", "keys", "dev-signing-key.pub");

    [Fact]
    public void Public_keys_are_read_from_pem_text_base64_and_files_and_agree_on_the_fingerprint()
    {
        using var fromFile = ModelSignature.ReadPublicKey(DevPublicKeyFile, "/");
        var pem = File.ReadAllText(DevPublicKeyFile);
        using var fromPem = ModelSignature.ReadPublicKey(pem, "/");
        using var fromBase64 = ModelSignature.ReadPublicKey(Convert.ToBase64String(fromPem.ExportSubjectPublicKeyInfo()), "/");
        using var relative = ModelSignature.ReadPublicKey("models/keys/dev-signing-key.pub", RepoPaths.Root);

        var fingerprint = ModelSignature.Fingerprint(fromFile);
        Assert.Matches("^[0-9a-f]{16}$", fingerprint);
        Assert.Equal(fingerprint, ModelSignature.Fingerprint(fromPem));
        Assert.Equal(fingerprint, ModelSignature.Fingerprint(fromBase64));
        Assert.Equal(fingerprint, ModelSignature.Fingerprint(relative));
        // The committed key is marked as a development key in its own text.
        Assert.Contains("DEVELOPMENT-ONLY", pem, StringComparison.Ordinal);
    }

    [Fact]
    public void Private_keys_other_curves_and_garbage_are_refused_with_the_reason()
    {
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using var rsa = RSA.Create(2048);

        var privatePem = Assert.Throws<FormatException>(() => ModelSignature.ReadPublicKey(File.ReadAllText(
            Path.Combine(RepoPaths.Root, "models", "keys", "dev-signing-key.pem")), "/"));
        var otherCurve = Assert.Throws<FormatException>(() => ModelSignature.ReadPublicKey(p384.ExportSubjectPublicKeyInfoPem(), "/"));
        var notEc = Assert.Throws<FormatException>(() => ModelSignature.ReadPublicKey(rsa.ExportSubjectPublicKeyInfoPem(), "/"));
        var missing = Assert.Throws<FormatException>(() => ModelSignature.ReadPublicKey("keys/site-key.pub", "/nonexistent"));

        Assert.Contains("expected 'PUBLIC KEY'", privatePem.Message, StringComparison.Ordinal);
        Assert.Contains("expected P-256", otherCurve.Message, StringComparison.Ordinal);
        Assert.Contains("not an ECDSA P-256", notEc.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_signature_verifies_only_the_exact_bytes_with_the_matching_key()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var manifest = "{\"id\": \"x\"}\n"u8.ToArray();
        var signature = key.SignData(manifest, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);

        Assert.True(ModelSignature.Verify(key, manifest, signature));
        Assert.False(ModelSignature.Verify(other, manifest, signature));
        Assert.False(ModelSignature.Verify(key, "{\"id\": \"x\"} \n"u8.ToArray(), signature));
        Assert.False(ModelSignature.Verify(key, manifest, signature.AsSpan(0, 20).ToArray()));
    }

    [Fact]
    public void Configured_keys_replace_the_development_key_and_several_may_be_trusted()
    {
        using var temp = new TempDirectory();
        var package = InferenceTestModels.CopyPackage(temp.Path, "cxr-pneumonia");
        using var site = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var sitePub = temp.Combine("site.pub");
        File.WriteAllText(sitePub, site.ExportSubjectPublicKeyInfoPem());

        // Signed with the dev key: refused when only the site key is trusted...
        var refused = Assert.Throws<ModelPackageException>(() =>
            InferenceTestModels.Loader(new InferenceOptions { SigningPublicKeys = [sitePub] }).LoadPackage(package, CancellationToken.None));
        Assert.Contains("signature check failed", refused.Message, StringComparison.Ordinal);

        // ...accepted when the site also lists the dev key (e.g. a lab machine during a key rollover).
        using (var model = InferenceTestModels.Loader(new InferenceOptions { SigningPublicKeys = [sitePub, DevPublicKeyFile] })
            .LoadPackage(package, CancellationToken.None))
        {
            Assert.Equal("cxr-pneumonia", model.Id);
        }

        // Re-signed by the site: accepted with only the site key.
        var manifest = File.ReadAllBytes(Path.Combine(package, ModelManifest.FileName));
        File.WriteAllBytes(Path.Combine(package, ModelSignature.FileName),
            site.SignData(manifest, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
        using var resigned = InferenceTestModels.Loader(new InferenceOptions { SigningPublicKeys = [site.ExportSubjectPublicKeyInfoPem()] })
            .LoadPackage(package, CancellationToken.None);
        Assert.Equal("cxr-pneumonia", resigned.Id);
    }

    [Fact]
    public void With_no_usable_key_every_package_is_refused_and_bad_configured_keys_fail_start_up()
    {
        var verifier = new ModelSignatureVerifier(new InferenceOptions(), baseDirectory: "/nonexistent");
        Assert.True(verifier.UsesDevelopmentKey);
        Assert.Empty(verifier.Keys);
        var error = Assert.Throws<ModelPackageException>(() => verifier.Verify(Path.Combine(RepoPaths.ModelPackages, "cxr-pneumonia"), [1, 2, 3]));
        Assert.Contains("no trusted signing public key", error.Message, StringComparison.Ordinal);

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MedVision:Inference:SigningPublicKeys:0"] = DevPublicKeyFile,
            ["MedVision:Inference:SigningPublicKeys:1"] = "/etc/medvision/missing.pub",
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddEdgeInference(configuration);
        using var provider = services.BuildServiceProvider();
        var failure = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<InferenceOptions>>().Value);
        var message = Assert.Single(failure.Failures);
        Assert.Contains("SigningPublicKeys:1", message, StringComparison.Ordinal);
    }
}
