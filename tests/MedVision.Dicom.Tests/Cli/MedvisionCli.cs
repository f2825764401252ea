using MedVision.Testing;

namespace MedVision.Dicom.Tests.Cli;

/// <summary>Runs the built `medvision` tool (edge/MedVision.Cli, built before these tests by a project reference) as a process.</summary>
internal static class MedvisionCli
{
    private static readonly Lazy<string> Dll = new(() =>
    {
        // Tests run from tests/MedVision.Dicom.Tests/bin/<configuration>/<framework>/: the CLI was built the same way.
        var framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = framework.Parent!.Name;
        var path = Path.Combine(RepoPaths.Root, "edge", "MedVision.Cli", "bin", configuration, framework.Name, "medvision.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"The medvision CLI is not built at {path}; build tests/MedVision.Dicom.Tests (it references the CLI).", path);
    });

    public static Task<ToolResult> RunAsync(params string[] arguments)
    {
        // Under `dotnet test` the host that runs us is the one to run the CLI with.
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
        return ExternalTool.RunAsync(dotnet, [Dll.Value, .. arguments], TimeSpan.FromSeconds(120));
    }
}
