// MedVision Edge build script. Run through ./build.sh (dotnet tool restore && dotnet cake --target=<Target>).
var target = Argument("target", "Build");
var configuration = Argument("configuration", "Release");
var solution = "./MedVision.Edge.sln";
var artifacts = MakeAbsolute(Directory("./artifacts"));

Task("Clean")
    .Does(() =>
{
    CleanDirectory(artifacts);
    DotNetClean(solution, new DotNetCleanSettings { Configuration = configuration });
});

Task("Build")
    .Does(() =>
{
    DotNetBuild(solution, new DotNetBuildSettings { Configuration = configuration });
});

Task("Test")
    .IsDependentOn("Build")
    .Does(() =>
{
    // Each test project runs in turn; the suite talks to real peers (dcmtk) that ./build.sh test installs.
    foreach (var project in GetFiles("./tests/**/*.Tests.csproj"))
    {
        DotNetTest(project.FullPath, new DotNetTestSettings
        {
            Configuration = configuration,
            NoBuild = true,
            Loggers = { "console;verbosity=normal", $"trx;LogFileName={project.GetFilenameWithoutExtension()}.trx" },
            ResultsDirectory = artifacts.Combine("test-results"),
        });
    }
});

Task("Bench")
    .IsDependentOn("Build")
    .Does(() =>
{
    // Benchmarks print ratios against a peer (dcmtk) measured in the same run.
    DotNetRun("./tests/MedVision.Benchmarks/MedVision.Benchmarks.csproj", new ProcessArgumentBuilder().Append(Argument("bench-args", "--all")), new DotNetRunSettings
    {
        Configuration = configuration,
        NoBuild = true,
    });
});

Task("Publish")
    .Does(() =>
{
    foreach (var runtime in new[] { "linux-x64", "linux-arm64" })
    {
        DotNetPublish("./edge/MedVision.Edge/MedVision.Edge.csproj", new DotNetPublishSettings
        {
            Configuration = configuration,
            Runtime = runtime,
            SelfContained = true,
            OutputDirectory = artifacts.Combine($"edge-{runtime}"),
        });
        Information($"Published the edge service for {runtime} to {artifacts.Combine($"edge-{runtime}")}");
    }
});

Task("Default").IsDependentOn("Build");

RunTarget(target);
