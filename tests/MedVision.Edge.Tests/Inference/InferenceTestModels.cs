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
