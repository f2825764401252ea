using MedVision.Edge.Alerts.Beacon;
using MedVision.Edge.Alerts.Paging;
using MedVision.Edge.Api;
using MedVision.Edge.Pipeline;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Alerts;

public static class AlertsServiceCollectionExtensions
{
    /// <summary>
    /// Registers critical-finding alerting (section <c>MedVision:Alerts</c>, validated at start): the findings listener,
    /// the beacon, the paging channels, the engine that escalates and resumes after restarts, and their health entries.
    /// Needs <c>AddEdgeStorage</c>; map the endpoints with <see cref="AlertsApi.MapAlertsApi"/>.
    /// </summary>
    public static IServiceCollection AddEdgeAlerts(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<AlertOptions>()
            .Bind(configuration.GetSection(AlertOptions.Section))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<AlertOptions>, AlertOptionsSetup>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AlertOptions>, AlertOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddHttpClient(WebhookPagerChannel.HttpClientName);

        services.TryAddSingleton<AlertStore>();
        services.TryAddSingleton<AlertRuleEvaluator>();
        services.TryAddSingleton<QuietHoursPolicy>();
        services.TryAddSingleton<AlertSignal>();
        services.TryAddSingleton<AlertStatus>();
        services.TryAddSingleton<AlertMetrics>();
        services.TryAddSingleton<AckSigningKey>();
        services.TryAddSingleton<AckLinks>();
        services.TryAddSingleton<PageComposer>();
        services.TryAddSingleton<PageDispatcher>();
        services.TryAddSingleton<AlertCommands>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPagerChannel, SmtpPagerChannel>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPagerChannel, WebhookPagerChannel>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPagerChannel, LogPagerChannel>());

        // The beacon starts before the engine so the first pass (which resumes alerts after a restart) can light it.
        services.TryAddSingleton<BeaconController>();
        services.AddHostedService(sp => sp.GetRequiredService<BeaconController>());
        services.AddHostedService<AlertEngine>();

        services.TryAddSingleton<FindingsAlertListener>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IFindingsListener, FindingsAlertListener>(sp => sp.GetRequiredService<FindingsAlertListener>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHealthContributor, AlertsHealthContributor>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHealthContributor, BeaconHealthContributor>());
        return services;
    }
}
