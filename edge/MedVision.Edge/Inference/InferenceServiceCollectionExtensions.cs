using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Inference;

public static class InferenceServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="InferenceOptions"/> (section <c>MedVision:Inference</c>, validated at start),
    /// <see cref="Preprocessor"/>, <see cref="ModelPackageLoader"/>, <see cref="ModelRegistry"/> the
    /// start-up load of every model package and the periodic scan for updates (<see cref="ModelWatcherService"/>).
    /// </summary>
    public static IServiceCollection AddEdgeInference(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<InferenceOptions>()
            .Bind(configuration.GetSection(InferenceOptions.Section))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<InferenceOptions>, InferenceOptionsSetup>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<InferenceOptions>, InferenceOptionsValidator>());

        services.AddOptions<ModelUpdateOptions>()
            .Bind(configuration.GetSection(ModelUpdateOptions.Section))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ModelUpdateOptions>, ModelUpdateOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<GoldenSetVerifier>();
        services.TryAddSingleton<Preprocessor>();
        services.TryAddSingleton<ModelPackageLoader>();
        services.TryAddSingleton<ModelRegistry>();
        services.TryAddSingleton<ModelRouter>();
        services.AddHostedService<ModelLoaderService>();
        services.AddHostedService<ModelWatcherService>();
        return services;
    }
}
