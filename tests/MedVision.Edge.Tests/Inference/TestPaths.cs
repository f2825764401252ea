namespace MedVision.Edge.Tests.Inference;

/// <summary>
/// Locations of the repository and of <c>../shared</c> beside it, found from the test binaries so that no
/// absolute path is written down anywhere.
/// </summary>
public static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The read-only shared data folder that sits beside the repository.</summary>
    public static string SharedDirectory => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    public static string PneumoniaMnistNpz => Path.Combine(SharedDirectory, "data", "medmnist", "pneumoniamnist.npz");

    /// <summary>The shipped package, read in place from the repository.</summary>
    public static string PneumoniaPackage => Path.Combine(RepoRoot, "models", "packages", "pneumonia-cxr");

    private static string FindRepoRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "MedVision.Edge.sln")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException($"MedVision.Edge.sln not found above {AppContext.BaseDirectory}.");
    }
}
