namespace MedVision.Testing;

/// <summary>Locates the repository and the read-only ../shared data folder beside it, from wherever tests run.</summary>
public static class RepoPaths
{
    private static readonly Lazy<string> RootPath = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "MedVision.Edge.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("Cannot find the repository root (MedVision.Edge.sln) above " + AppContext.BaseDirectory);
    });

    public static string Root => RootPath.Value;

    /// <summary>The provided data folder, ../shared relative to the repository root.</summary>
    public static string SharedData => Path.GetFullPath(Path.Combine(Root, "..", "shared", "data"));

    public static string PydicomTestFiles => Path.Combine(SharedData, "dicom", "pydicom-test-files");

    public static string PneumoniaMnist => Path.Combine(SharedData, "medmnist", "pneumoniamnist.npz");

    public static string ModelPackages => Path.Combine(Root, "models", "packages");

    public static string PneumoniaPackage => Path.Combine(ModelPackages, "cxr-pneumonia");

    public static string RequireFile(string path) =>
        File.Exists(path) ? path : throw new FileNotFoundException($"Test data not found: {path}. The provided data folder ../shared must sit beside the repository.", path);
}
