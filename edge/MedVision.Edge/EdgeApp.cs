using MedVision.Edge.Alerts;
using MedVision.Edge.Api;
using MedVision.Edge.Export;
using MedVision.Edge.Inference;
using MedVision.Edge.Ingest;
using MedVision.Edge.Outputs;
using MedVision.Edge.Pipeline;
using MedVision.Edge.Priors;
using MedVision.Edge.Reports;
using MedVision.Edge.Review;
using MedVision.Edge.Storage;
using MedVision.Edge.Sync;
using Microsoft.Extensions.Options;

namespace MedVision.Edge;

/// <summary>
/// Composes the appliance: DICOM ingest → spool + SQLite → inference pipeline → findings, with the HTTP API beside.
/// Runs on embedded defaults; appsettings.json, MEDVISION__* environment variables and command-line arguments override.
/// </summary>
public static class EdgeApp
{
    public const string DefaultHttpUrls = "http://0.0.0.0:8080";

    public static WebApplication Build(string[] args) => Build(args, null);

    /// <param name="configureServices">Runs after the appliance's own registrations (tests add producers or peers here).</param>
    public static WebApplication Build(string[] args, Action<IServiceCollection>? configureServices)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Host.UseSystemd();
        // ASPNETCORE_URLS / --urls win; otherwise MedVision:Http:Urls, otherwise port 8080 on all interfaces.
        if (string.IsNullOrEmpty(builder.Configuration["urls"]))
        {
            builder.WebHost.UseUrls(builder.Configuration["MedVision:Http:Urls"] ?? DefaultHttpUrls);
        }

        var services = builder.Services;
        services.AddSingleton(TimeProvider.System);
        services.AddEdgeStorage(builder.Configuration);
        services.AddEdgeInference(builder.Configuration);

        services.AddOptions<DicomOptions>().Bind(builder.Configuration.GetSection(DicomOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<DicomOptions>, DicomOptionsValidator>();
        services.AddSingleton<IngestStatistics>();
        services.AddSingleton<PipelineSignal>();
        services.AddSingleton<SpoolStoreHandler>();
        services.AddSingleton<SpoolSlots>();
        services.AddSingleton<SpoolRecovery>();
        // Before the listener: recovery must finish before the first association is accepted.
        services.AddHostedService<SpoolSlotService>();
        services.AddSingleton<PeerPolicy>();
        services.AddSingleton<MedVision.Edge.Commitment.StorageCommitmentStore>();
        services.AddSingleton<MedVision.Edge.Commitment.StorageCommitmentService>();
        services.AddHostedService(sp => sp.GetRequiredService<MedVision.Edge.Commitment.StorageCommitmentService>());
        services.AddSingleton<IHealthContributor>(sp => sp.GetRequiredService<MedVision.Edge.Commitment.StorageCommitmentService>());
        services.AddSingleton<DicomListenerService>();
        services.AddHostedService(sp => sp.GetRequiredService<DicomListenerService>());
        services.AddSingleton<IHealthContributor, DicomHealthContributor>();
        services.AddSingleton<IngestMetrics>();

        services.AddOptions<PipelineOptions>().Bind(builder.Configuration.GetSection(PipelineOptions.Section));
        services.AddSingleton<InstanceProcessor>();
        services.AddHostedService<InferencePipelineService>();
        services.AddHostedService<StudyCompletionService>();
        services.AddEdgeAlerts(builder.Configuration);
        services.AddEdgePriors(builder.Configuration);
        services.AddEdgeOutputs(builder.Configuration);
        services.AddEdgeReports(builder.Configuration);
        services.AddEdgeExport(builder.Configuration);
        services.AddEdgeReview(builder.Configuration);
        services.AddEdgeSync(builder.Configuration);

        // Last, so that what a test registers replaces the appliance's own choice.
        configureServices?.Invoke(services);
        var app = builder.Build();
        app.MapEdgeApi();
        // Instruments are created on first resolve, so create them before the first scrape.
        app.Services.GetRequiredService<IngestMetrics>();
        app.MapHostMetrics();
        app.MapAlertsApi();
        app.MapPriorsApi();
        app.MapExportApi();
        app.MapReviewApi();
        return app;
    }
}
