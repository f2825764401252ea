using MedVision.Edge.Api;
using MedVision.Edge.Outputs;
using MedVision.Edge.Pipeline;

namespace MedVision.Edge.Priors;

public static class PriorsServiceCollectionExtensions
{
    /// <summary>Prior comparison (MedVision:Priors): off unless enabled; then a study-completed listener, a background loop and a result source.</summary>
    public static IServiceCollection AddEdgePriors(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<PriorOptions>().Bind(configuration.GetSection(PriorOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<PriorComparisonStore>();
        services.AddSingleton<PacsPriorRetriever>();
        services.AddSingleton<PriorComparisonService>();
        services.AddHostedService(sp => sp.GetRequiredService<PriorComparisonService>());
        services.AddSingleton<IStudyCompletedListener>(sp => sp.GetRequiredService<PriorComparisonService>());
        services.AddSingleton<IPriorComparisonSource>(sp => sp.GetRequiredService<PriorComparisonService>());
        services.AddSingleton<IHealthContributor>(sp => sp.GetRequiredService<PriorComparisonService>());
        return services;
    }

    /// <summary><c>GET /api/studies/{studyUid}/prior</c>: the comparison's state, the prior used and the change per label.</summary>
    public static IEndpointRouteBuilder MapPriorsApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/api/studies/{studyUid}/prior", async (string studyUid, PriorComparisonService service, CancellationToken cancellationToken) =>
            await service.GetRecordAsync(studyUid, cancellationToken).ConfigureAwait(false) is { } record
                ? Results.Ok(record)
                : Results.NotFound(new { error = $"No prior comparison for study {studyUid} (not complete yet, or MedVision:Priors:Enabled is false)." }));
        return endpoints;
    }
}
