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
    var failedProjects = new List<string>();
    var failedResults = new List<FilePath>();
    foreach (var project in GetFiles("./tests/**/*.Tests.csproj"))
    {
        var trx = artifacts.Combine("test-results").CombineWithFilePath($"{project.GetFilenameWithoutExtension()}.trx");
        try
        {
            DotNetTest(project.FullPath, new DotNetTestSettings
            {
                Configuration = configuration,
                NoBuild = true,
                Loggers = { "console;verbosity=normal", $"trx;LogFileName={trx.GetFilename()}" },
                ResultsDirectory = artifacts.Combine("test-results"),
            });
        }
        catch (Exception)
        {
            failedProjects.Add(project.GetFilenameWithoutExtension().ToString());
            failedResults.Add(trx);
        }
    }
    if (failedProjects.Count > 0)
    {
        // Printed after every project has run, so the failures are the last thing CI shows.
        foreach (var trx in failedResults)
        {
            PrintFailedTests(trx);
        }
        throw new Exception($"Tests failed in {string.Join(", ", failedProjects)} (details above and in {artifacts.Combine("test-results")})");
    }
});

// The console log of a long run ends far from the failing test; repeat each failure at the end where CI shows it.
void PrintFailedTests(FilePath trx)
{
    if (!FileExists(trx))
    {
        return;
    }
    var document = System.Xml.Linq.XDocument.Load(trx.FullPath);
    System.Xml.Linq.XNamespace ns = "http://microsoft.com/schemas/VisualStudio/TeamTest/2010";
    foreach (var result in document.Descendants(ns + "UnitTestResult").Where(r => (string)r.Attribute("outcome") == "Failed"))
    {
        var message = result.Descendants(ns + "Message").FirstOrDefault()?.Value ?? "";
        var stack = result.Descendants(ns + "StackTrace").FirstOrDefault()?.Value ?? "";
        Error($"FAILED {(string)result.Attribute("testName")} ({(string)result.Attribute("duration")})\n{message}\n{string.Join("\n", stack.Split('\n').Take(8))}");
    }
}

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
