using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Storage;

public static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="StorageOptions"/> (section <c>MedVision:Storage</c>, validated at start),
    /// <see cref="EdgeDatabase"/>, <see cref="IStudyStore"/>, <see cref="IDiskSpace"/>, the migration that
    /// runs before any hosted service starts, and the retention of finished studies' files (<see cref="RetentionOptions"/>).
    /// </summary>
    public static IServiceCollection AddEdgeStorage(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<StorageOptions>()
            .Bind(configuration.GetSection(StorageOptions.Section))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<StorageOptions>, StorageOptionsSetup>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<StorageOptions>, StorageOptionsValidator>());

        services.TryAddSingleton<EdgeDatabase>();
        services.TryAddSingleton<IStudyStore, SqliteStudyStore>();
        services.TryAddSingleton<DiskSpace>();
        services.TryAddSingleton<IDiskSpace>(sp => sp.GetRequiredService<DiskSpace>());
        services.AddHostedService<DatabaseMigrationService>();

        services.AddOptions<RetentionOptions>()
            .Bind(configuration.GetSection(RetentionOptions.Section))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RetentionOptions>, RetentionOptionsValidator>());
        services.TryAddSingleton<RetentionStore>();
        services.TryAddSingleton<SpoolRetentionService>();
        services.AddHostedService(sp => sp.GetRequiredService<SpoolRetentionService>());
        return services;
    }
}
