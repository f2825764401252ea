using MedVision.Edge.Outputs;
using MedVision.Edge.Outputs.Dicom;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Tests.Outputs;

public sealed class OutputObjectOptionsTests
{
    [Theory]
    [InlineData("2.25")]
    [InlineData("1.2.826.0.1.3680043.10.1234")]
    public void Uids_are_valid_unique_and_under_the_configured_root(string root)
    {
        var uids = new UidGenerator(Options.Create(new OutputObjectOptions { UidRoot = root }));
        var made = Enumerable.Range(0, 1000).Select(_ => uids.NewUid()).ToList();
        Assert.Equal(made.Count, made.Distinct().Count());
        Assert.All(made, uid =>
        {
            Assert.StartsWith(root + ".", uid, StringComparison.Ordinal);
            Assert.InRange(uid.Length, root.Length + 2, 64);
            Assert.Matches("^(0|[1-9][0-9]*)(\\.(0|[1-9][0-9]*))*$", uid);
        });
        Assert.Equal(uids.DerivedUid("study", "series"), uids.DerivedUid("study", "series"));
        Assert.NotEqual(uids.DerivedUid("study", "series"), uids.DerivedUid("study", "other"));
    }

    [Fact]
    public void Bad_export_settings_stop_start_up_with_every_error_listed()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MedVision:Export:UidRoot"] = "1.02.3",
            ["MedVision:Export:SeriesNumber"] = "0",
        }).Build();
        using var services = new ServiceCollection().AddLogging().AddEdgeOutputs(configuration).BuildServiceProvider();
        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<OutputObjectOptions>>().Value);
        Assert.Contains(error.Failures, f => f.Contains("UidRoot '1.02.3'", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("SeriesNumber", StringComparison.Ordinal));

        var tooLong = new OutputObjectOptionsValidator().Validate(null, new OutputObjectOptions { UidRoot = "1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18" });
        Assert.True(tooLong.Failed);
    }

    [Fact]
    public void Burned_in_secondary_capture_is_switched_by_configuration()
    {
        static bool Enabled(string? value)
        {
            var settings = new Dictionary<string, string?> { ["MedVision:Export:BurnedInSecondaryCapture"] = value };
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(value is null ? [] : settings).Build();
            using var services = new ServiceCollection().AddLogging().AddEdgeOutputs(configuration).BuildServiceProvider();
            return services.GetServices<IStudyOutputProducer>().OfType<SecondaryCaptureProducer>().Single().IsEnabled;
        }
        Assert.True(Enabled(null));
        Assert.False(Enabled("false"));
    }
}
