using System.Diagnostics.Metrics;
using MedVision.Cloud.Api;
using MedVision.Cloud.Broker;
using MedVision.Cloud.Fleet;
using Microsoft.Extensions.Options;
using Prometheus;

namespace MedVision.Cloud;

/// <summary>
/// Composes the hub: fleet database, enrolment, the MQTT side (embedded broker or a client of an external one) and
/// the REST API, dashboard and /metrics. Runs on embedded defaults (MQTT 1883, HTTP 8090, SQLite under data/).
/// </summary>
public static class HubApp
{
    public const string DefaultHttpUrls = "http://0.0.0.0:8090";

    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (string.IsNullOrEmpty(builder.Configuration["urls"]))
        {
            builder.WebHost.UseUrls(builder.Configuration["MedVision:Http:Urls"] ?? DefaultHttpUrls);
        }
        var services = builder.Services;
        services.AddSingleton(TimeProvider.System);
        services.AddOptions<HubOptions>().Bind(builder.Configuration.GetSection(HubOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<HubOptions>, HubOptionsValidator>();
        if (string.IsNullOrWhiteSpace(builder.Configuration[$"{HubOptions.Section}:{nameof(HubOptions.PostgresConnectionString)}"]))
        {
            services.AddSingleton<IHubStore, SqliteHubStore>();
        }
        else
        {
            services.AddSingleton<IHubStore, PostgresHubStore>();
        }
        services.AddHostedService<HubDatabaseMigration>();
        services.AddSingleton<HubMetrics>();
        services.AddSingleton<EnrolmentService>();
        services.AddSingleton<FleetView>();
        services.AddSingleton<ModelPackages>();
        services.AddSingleton<MessageIngestor>();
        services.AddHostedService(sp => sp.GetRequiredService<MessageIngestor>());
        services.AddSingleton<HeartbeatRetentionService>();
        services.AddHostedService(sp => sp.GetRequiredService<HeartbeatRetentionService>());

        var broker = builder.Configuration.GetSection(HubOptions.Section).GetValue(nameof(HubOptions.Broker), BrokerMode.Embedded);
        if (broker == BrokerMode.External)
        {
            services.AddSingleton<IBrokerCredentialSink, MosquittoPasswordFile>();
            services.AddSingleton<ExternalBrokerClient>();
            services.AddHostedService(sp => sp.GetRequiredService<ExternalBrokerClient>());
            services.AddSingleton<IDeviceChannel>(sp => sp.GetRequiredService<ExternalBrokerClient>());
        }
        else
        {
            services.AddSingleton<IBrokerCredentialSink, NoCredentialSink>();
            services.AddSingleton<EmbeddedBroker>();
            services.AddHostedService(sp => sp.GetRequiredService<EmbeddedBroker>());
            services.AddSingleton<IDeviceChannel>(sp => sp.GetRequiredService<EmbeddedBroker>());
        }
        // After the broker, so the embedded one is listening when the retained messages go out.
        services.AddHostedService<DesiredStateRepublisher>();

        var app = builder.Build();
        app.Services.GetRequiredService<HubMetrics>();
        MapHostMetrics(app);
        app.UseOperatorReadAccess();
        app.MapHubApi();
        app.MapModelApi();
        return app;
    }

    /// <summary>/metrics from this host's own registry (the process-wide default would mix hosts started in one test process).</summary>
    private static void MapHostMetrics(WebApplication app)
    {
        var registry = Metrics.NewCustomRegistry();
        var meterFactory = app.Services.GetRequiredService<IMeterFactory>();
        var adapter = MeterAdapter.StartListening(new MeterAdapterOptions
        {
            Registry = registry,
            MetricFactory = Metrics.WithCustomRegistry(registry),
            InstrumentFilterPredicate = instrument => ReferenceEquals(instrument.Meter.Scope, meterFactory) || instrument.Meter.Name == "System.Runtime",
        });
        app.Lifetime.ApplicationStopped.Register(adapter.Dispose);
        app.MapMetrics("/metrics", registry);
    }
}

/// <summary>Creates the schema before anything else starts (registered first among the hosted services).</summary>
internal sealed class HubDatabaseMigration(IHubStore store, ILogger<HubDatabaseMigration> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await store.MigrateAsync(cancellationToken).ConfigureAwait(false);
        HubLog.DatabaseReady(logger, store.Description);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
