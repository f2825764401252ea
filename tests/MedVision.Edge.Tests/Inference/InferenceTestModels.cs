using System.Security.Cryptography;
using MedVision.Testing;
using MedVision.Edge.Inference;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Tests.Inference;

/// <summary>Loaders over the shipped package, and temp copies of it that tests may damage.</summary>
public static class InferenceTestModels
{
    public static ModelPackageLoader Loader(InferenceOptions? options = null, ILogger<ModelPackageLoader>? logger = null) =>
        new(Options.Create(options ?? new InferenceOptions()), new Preprocessor(), logger ?? NullLogger<ModelPackageLoader>.Instance);

    /// <summary>Copies the shipped pneumonia package into <paramref name="modelsDirectory"/>/<paramref name="name"/>.</summary>
    public static string CopyPackage(string modelsDirectory, string name)
    {
        var target = Path.Combine(modelsDirectory, name);
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(RepoPaths.PneumoniaPackage))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }
        return target;
    }

    /// <summary>
    /// Signs the package's manifest.json (as it is now) into manifest.sig with the repository's development key,
    /// which the loader trusts by default, so tests that edit a manifest on purpose still reach the later checks.
    /// </summary>
    public static void SignWithDevelopmentKey(string packageDirectory)
    {
        using var key = ECDsa.Create();
        key.ImportFromPem(File.ReadAllText(Path.Combine(RepoPaths.Root, "models", "keys", "dev-signing-key.pem")));
        var manifest = File.ReadAllBytes(Path.Combine(packageDirectory, ModelManifest.FileName));
        File.WriteAllBytes(Path.Combine(packageDirectory, ModelSignature.FileName),
            key.SignData(manifest, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
    }
}

/// <summary>A temp folder deleted on dispose.</summary>
public sealed class TempFolder : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "medvision-edge-tests", Guid.NewGuid().ToString("N"));

    public TempFolder() => Directory.CreateDirectory(Path);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort only.
        }
    }
}
