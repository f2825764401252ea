using MedVision.Edge.Fhir;
using MedVision.Edge.Outputs;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Reports;

public static class ReportsServiceCollectionExtensions
{
    /// <summary>
    /// Registers the HTML report and the optional PDF print of it (section <c>MedVision:Report</c>) and the FHIR R4 Bundle (section <c>MedVision:Fhir</c>) as
    /// <see cref="IStudyOutputProducer"/>s, with their options validated at start.
    /// </summary>
    public static IServiceCollection AddEdgeReports(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<ReportOptions>().Bind(configuration.GetSection(ReportOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ReportOptions>, ReportOptionsValidator>());
        services.AddOptions<FhirOptions>().Bind(configuration.GetSection(FhirOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FhirOptions>, FhirOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);

        services.TryAddSingleton<HtmlReportProducer>();
        services.TryAddSingleton<PdfReportProducer>();
        services.TryAddSingleton<FhirBundleProducer>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStudyOutputProducer, HtmlReportProducer>(sp => sp.GetRequiredService<HtmlReportProducer>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStudyOutputProducer, PdfReportProducer>(sp => sp.GetRequiredService<PdfReportProducer>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStudyOutputProducer, FhirBundleProducer>(sp => sp.GetRequiredService<FhirBundleProducer>()));
        return services;
    }
}
