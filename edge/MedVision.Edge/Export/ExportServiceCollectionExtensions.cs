using MedVision.Edge.Api;
using MedVision.Edge.Pipeline;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Export;

public static class ExportServiceCollectionExtensions
{
    /// <summary>
    /// Registers the export outbox (section <c>MedVision:Export</c>, validated at start): the study-completed listener, the
    /// output generator (uses <c>IStudyResultsReader</c> and every enabled <c>IStudyOutputProducer</c>), the destinations, the
    /// delivery loop and the health entry. Needs <c>AddEdgeStorage</c>; map the endpoints with <see cref="ExportApi.MapExportApi"/>.
    /// </summary>
    public static IServiceCollection AddEdgeExport(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<ExportOptions>()
            .Bind(configuration.GetSection(ExportOptions.Section))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ExportOptions>, ExportOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        // The attempt timeout of the delivery loop bounds each request; the client's own limit must not cut in first.
        services.AddHttpClient(FhirExportDestination.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan);

        services.TryAddSingleton<OutboxStore>();
        services.TryAddSingleton<ExportDestinations>();
        services.TryAddSingleton<GenerationSignal>();
        services.TryAddSingleton<DeliverySignal>();
        services.TryAddSingleton<ExportStatus>();
        services.TryAddSingleton<ExportMetrics>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStudyCompletedListener, ExportStudyCompletedListener>());
        services.AddHostedService<OutputGenerationService>();
        services.AddHostedService<DeliveryService>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHealthContributor, ExportHealthContributor>());
        return services;
    }
}
