using MedVision.Edge.Inference;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Tests.Inference;

public sealed class InferenceOptionsTests
{
    [Fact]
    public void Defaults_are_cpu_and_the_models_folder_beside_the_binaries()
    {
        using var provider = Build([]);

        var options = provider.GetRequiredService<IOptions<InferenceOptions>>().Value;

        Assert.Equal([ExecutionProviderNames.Cpu], options.ExecutionProviders);
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "models"), options.ModelsDirectory);
        Assert.Equal(1, options.IntraOpThreads);
    }

    [Fact]
    public void Configuration_binds_providers_and_nested_threshold_overrides()
    {
        using var provider = Build(new()
        {
            ["MedVision:Inference:ExecutionProviders:0"] = "cuda",
            ["MedVision:Inference:ExecutionProviders:1"] = "CPU",
            ["MedVision:Inference:ThresholdOverrides:cxr-pneumonia:pneumonia"] = "0.25",
            ["MedVision:Inference:ModelsDirectory"] = "/opt/models",
        });

        var options = provider.GetRequiredService<IOptions<InferenceOptions>>().Value;

        Assert.Equal([ExecutionProviderNames.Cuda, ExecutionProviderNames.Cpu], options.ExecutionProviders);
        Assert.Equal(0.25, options.ThresholdOverrideFor("cxr-pneumonia", "pneumonia"));
        Assert.Null(options.ThresholdOverrideFor("cxr-pneumonia", "effusion"));
        Assert.Equal("/opt/models", options.ModelsDirectory);
    }

    [Fact]
    public void Unknown_providers_and_bad_thresholds_fail_validation_together()
    {
        using var provider = Build(new()
        {
            ["MedVision:Inference:ExecutionProviders:0"] = "TPU",
            ["MedVision:Inference:ThresholdOverrides:m:l"] = "1.5",
        });

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<InferenceOptions>>().Value);

        Assert.Equal(2, error.Failures.Count());
    }

    private static ServiceProvider Build(Dictionary<string, string?> values)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddEdgeInference(configuration);
        return services.BuildServiceProvider();
    }
}
