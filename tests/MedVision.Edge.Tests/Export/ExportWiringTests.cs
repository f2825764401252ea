using MedVision.Edge.Outputs;
using MedVision.Edge.Tests.EndToEnd;
using MedVision.Edge.Tests.Inference;
using MedVision.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace MedVision.Edge.Tests.Export;

/// <summary>The appliance without a results reader: it says so once, makes nothing, and keeps the completion queued.</summary>
public sealed class ExportWiringTests
{
    [Fact]
    public async Task Without_a_results_reader_the_export_warns_once_and_keeps_completed_studies_queued()
    {
        var logs = new CapturingLoggerProvider();
        await using var appliance = await RunningAppliance.StartAsync(new TempDirectory("medvision-edge"), services =>
        {
            services.RemoveAll<IStudyResultsReader>();
            services.AddSingleton<ILoggerProvider>(logs);
        }, "--MedVision:Pipeline:StudyQuietSeconds=0.5");

        var study = await ExportTestKit.SendStudyAsync(appliance);
        await appliance.WaitForAsync("/healthz", h => h.GetProperty("export").GetProperty("pendingGenerations").GetInt64() == 1, TimeSpan.FromSeconds(20));

        Assert.Equal(0, (await appliance.GetJsonAsync($"/api/studies/{study}/outputs")).GetArrayLength());
        var warning = Assert.Single(logs.Entries, e => e.EventId.Id == 5100);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("No IStudyResultsReader", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_destination_stops_start_up_with_a_clear_error()
    {
        using var data = new TempDirectory("medvision-edge");
        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => RunningAppliance.StartAsync(data,
            "--MedVision:Export:Destinations:0:Type=dicom",
            "--MedVision:Export:Destinations:0:Host=pacs.example",
            "--MedVision:Export:Destinations:1:Type=fhir",
            "--MedVision:Export:Destinations:1:Url=not a url"));
        Assert.Contains("MedVision:Export:Destinations:0:CalledAe must be 1-16 characters", error.Message, StringComparison.Ordinal);
        Assert.Contains("MedVision:Export:Destinations:1:Url must be an absolute http(s) URL", error.Message, StringComparison.Ordinal);
    }
}
