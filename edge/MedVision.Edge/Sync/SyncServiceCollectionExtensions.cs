using MedVision.Edge.Api;
using MedVision.Edge.Pipeline;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Sync;

public static class SyncServiceCollectionExtensions
{
    /// <summary>
    /// Registers the cloud sync agent (section <c>MedVision:Cloud</c>, validated at start). With <c>Enabled=false</c>
    /// (the default) only the options are registered: nothing is queued and nothing leaves the appliance.
    /// Needs <c>AddEdgeStorage</c> and <c>AddEdgeInference</c>.
    /// </summary>
    public static IServiceCollection AddEdgeSync(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(CloudOptions.Section);
        services.AddOptions<CloudOptions>().Bind(section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CloudOptions>, CloudOptionsValidator>());
        if (!section.GetValue<bool>(nameof(CloudOptions.Enabled)))
        {
            return services;
        }
        services.TryAddSingleton(TimeProvider.System);
        services.AddHttpClient(CloudSyncAgent.HttpClientName);
        services.TryAddSingleton<CloudSignal>();
        services.TryAddSingleton<RemoteSettings>();
        services.TryAddSingleton<CloudOutbox>();
        services.TryAddSingleton<SitePseudonyms>();
        services.TryAddSingleton<DeviceCredentialStore>();
        services.TryAddSingleton<ModelOfferSignal>();
        services.TryAddSingleton<ModelOfferInbox>();
        services.AddHostedService<ModelDeliveryService>();
        services.TryAddSingleton<CloudSyncAgent>();
        services.AddHostedService(sp => sp.GetRequiredService<CloudSyncAgent>());
        services.AddHostedService<HeartbeatService>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IFindingsListener, CloudFindingsListener>());
        // Radiologists' reviews go to the hub as de-identified feedback, queued with the review in one transaction.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<MedVision.Edge.Review.IReviewSink, CloudFeedbackListener>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHealthContributor, CloudSyncAgent>(sp => sp.GetRequiredService<CloudSyncAgent>()));
        return services;
    }
}
