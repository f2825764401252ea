using MedVision.Edge.Inference;
using MedVision.Edge.Outputs;
using MedVision.Edge.Outputs.Heatmaps;
using MedVision.Edge.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Tests.Outputs;

/// <summary>The reader over the processed study's real database and spool, with prior comparison sources as the prior engineer's code would register them.</summary>
[Collection(ProcessedStudyCollection.Name)]
public sealed class StudyResultsReaderTests(ProcessedStudyFixture study)
{
    [Fact]
    public async Task The_first_prior_source_with_a_comparison_wins_and_a_failing_source_is_passed_over()
    {
        var comparison = new PriorComparison("2.25.99", "20240505", "ACC-0", [new FindingChange("cxr-pneumonia", "pneumonia", 0.9, true, 0.1, false, FindingChanges.Resolved)]);
        var reader = Reader([new FailingSource(), new FixedSource(null), new FixedSource(comparison), new FixedSource(null)]);

        var results = await reader.ReadAsync(study.Pneumonia.StudyUid, CancellationToken.None);

        Assert.NotNull(results);
        Assert.Same(comparison, results.Prior);
        Assert.Equal(study.Results.Findings.Select(f => f.FindingId), results.Findings.Select(f => f.FindingId));
    }

    [Fact]
    public async Task An_unknown_study_reads_as_null()
    {
        Assert.Null(await Reader([]).ReadAsync("2.25.404", CancellationToken.None));
    }

    private StudyResultsReader Reader(IEnumerable<IPriorComparisonSource> sources)
    {
        var services = study.Appliance.Services;
        return new StudyResultsReader(
            services.GetRequiredService<EdgeDatabase>(), services.GetRequiredService<IOptions<StorageOptions>>(), services.GetRequiredService<ModelRegistry>(),
            services.GetRequiredService<HeatmapStore>(), sources, NullLogger<StudyResultsReader>.Instance, TimeProvider.System);
    }

    private sealed class FixedSource(PriorComparison? comparison) : IPriorComparisonSource
    {
        public Task<PriorComparison?> GetComparisonAsync(string studyUid, CancellationToken cancellationToken) => Task.FromResult(comparison);
    }

    private sealed class FailingSource : IPriorComparisonSource
    {
        public Task<PriorComparison?> GetComparisonAsync(string studyUid, CancellationToken cancellationToken) =>
            throw new IOException("PACS unreachable");
    }
}
