using MedVision.Edge.Outputs.Dicom;
using MedVision.Edge.Outputs.Heatmaps;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Outputs;

public static class OutputsServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="OutputObjectOptions"/> (section <c>MedVision:Export</c>, validated at start), the heat-map store the pipeline
    /// writes to, <see cref="IStudyResultsReader"/> and the DICOM producers (SR, Parametric Map, optional burned-in Secondary Capture)
    /// as <see cref="IStudyOutputProducer"/>s.
    /// </summary>
    public static IServiceCollection AddEdgeOutputs(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<OutputObjectOptions>()
            .Bind(configuration.GetSection(OutputObjectOptions.Section))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OutputObjectOptions>, OutputObjectOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<UidGenerator>();
        services.TryAddSingleton<HeatmapStore>();
        services.TryAddSingleton<IStudyResultsReader, StudyResultsReader>();
        services.TryAddSingleton<OutputObjectContext>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStudyOutputProducer, StructuredReportProducer>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStudyOutputProducer, ParametricMapProducer>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStudyOutputProducer, SecondaryCaptureProducer>());
        return services;
    }
}
