using MedVision.Edge.Outputs;
using MedVision.Edge.Tests.EndToEnd;
using MedVision.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace MedVision.Edge.Tests.Outputs;

/// <summary>
/// One real study, shared by the output tests: two Kermany chest X-rays (pneumonia and normal) sent with storescu to a running
/// appliance, processed, then read back with the app's <see cref="IStudyResultsReader"/> and turned into objects by every enabled
/// <see cref="IStudyOutputProducer"/>, written to files for the external tools.
/// </summary>
public sealed class ProcessedStudyFixture : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public RunningAppliance Appliance { get; private set; } = null!;

    public TempDirectory Files { get; } = new("medvision-outputs");

    public KermanyDicom.Created Pneumonia { get; private set; } = null!;

    public KermanyDicom.Created Normal { get; private set; } = null!;

    public StudyResults Results { get; private set; } = null!;

    public IReadOnlyList<(StudyOutput Output, string Path)> Outputs { get; private set; } = [];

    public async Task InitializeAsync()
    {
        Appliance = await RunningAppliance.StartAsync();
        Pneumonia = await KermanyDicom.CreateAsync(Files.Path, KermanyDicom.PneumoniaSample);
        Normal = await KermanyDicom.CreateAsync(Files.Path, KermanyDicom.NormalSample, studyUid: Pneumonia.StudyUid);
        var store = await ExternalTool.RunAsync("storescu", ["-aec", "MEDVISION", "127.0.0.1", Appliance.DicomPortText, Pneumonia.Path, Normal.Path]);
        Assert.True(store.ExitCode == 0, store.Combined);
        await Appliance.WaitForAsync($"/api/studies/{Pneumonia.StudyUid}", s => s.GetProperty("status").GetString() == "processed", Timeout);

        Results = await Appliance.Services.GetRequiredService<IStudyResultsReader>().ReadAsync(Pneumonia.StudyUid, CancellationToken.None)
            ?? throw new InvalidOperationException("The processed study has no results.");
        Outputs = await ProduceAsync(Results, "current");
    }

    /// <summary>Runs every enabled producer of the running appliance on <paramref name="results"/> and saves the objects.</summary>
    public async Task<IReadOnlyList<(StudyOutput Output, string Path)>> ProduceAsync(StudyResults results, string subfolder)
    {
        var folder = Files.Combine(subfolder);
        Directory.CreateDirectory(folder);
        var saved = new List<(StudyOutput, string)>();
        foreach (var producer in Appliance.Services.GetServices<IStudyOutputProducer>().Where(p => p.IsEnabled))
        {
            // The DICOM producers only: the report and FHIR producers have their own tests.
            foreach (var output in (await producer.ProduceAsync(results, CancellationToken.None)).Where(o => o.ContentType == "application/dicom"))
            {
                var path = Path.Combine(folder, output.FileName);
                await File.WriteAllBytesAsync(path, output.Content);
                // MEDVISION_KEEP_OUTPUTS=<folder> keeps a copy of every object for looking at by hand (viewers, dciodvfy -v).
                if (Environment.GetEnvironmentVariable("MEDVISION_KEEP_OUTPUTS") is { Length: > 0 } keep)
                {
                    Directory.CreateDirectory(Path.Combine(keep, subfolder));
                    await File.WriteAllBytesAsync(Path.Combine(keep, subfolder, output.FileName), output.Content);
                }
                saved.Add((output, path));
            }
        }
        return saved;
    }

    public async Task DisposeAsync()
    {
        await Appliance.DisposeAsync();
        Files.Dispose();
    }
}

/// <summary>The output test classes share one processed study (one appliance run, one Kermany pair).</summary>
[CollectionDefinition(Name)]
public sealed class ProcessedStudyCollection : ICollectionFixture<ProcessedStudyFixture>
{
    public const string Name = "Processed study";
}
