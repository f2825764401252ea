using MedVision.Edge.Export;
using MedVision.Edge.Storage;
using MedVision.Edge.Tests.Storage;
using MedVision.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MedVision.Edge.Tests.Export;

/// <summary>
/// The delivery loop on a real SQLite database and a real folder destination: a database that cannot be opened when the
/// loop starts is logged and retried, and the delivery a stop cut short still goes out once the database is back. An
/// exception escaping the loop would stop the whole appliance (the host's default BackgroundServiceExceptionBehavior).
/// </summary>
public sealed class DeliveryServiceResilienceTests : IAsyncLifetime
{
    private readonly TempDirectory _root = new("medvision-export-resilience");
    private readonly TempDirectory _folder = new("medvision-export-folder");
    private readonly CapturingLoggerProvider _logs = new();
    private ServiceProvider? _services;

    private ServiceProvider Services => _services!;

    public async Task InitializeAsync() => _services = await ExportTestKit.BuildServicesAsync(_root.Path, new Dictionary<string, string?>
    {
        ["MedVision:Export:Destinations:0:Type"] = "folder",
        ["MedVision:Export:Destinations:0:Path"] = _folder.Path,
    }, services => services.AddLogging(logging => logging.AddProvider(_logs)));

    public async Task DisposeAsync()
    {
        await ExportTestKit.DisposeServicesAsync(_services);
        _root.Dispose();
        _folder.Dispose();
    }

    [Fact]
    public async Task A_database_that_cannot_be_opened_at_start_is_logged_and_retried_and_the_cut_short_delivery_still_goes_out()
    {
        var ct = CancellationToken.None;
        var studies = Services.GetRequiredService<IStudyStore>();
        var outbox = Services.GetRequiredService<OutboxStore>();
        var database = Services.GetRequiredService<EdgeDatabase>();
        var study = ChestXrayDicom.NewUid();
        await studies.RecordReceivedAsync(TempStorage.Instance(ChestXrayDicom.NewUid(), study, received: DateTimeOffset.UtcNow.AddMinutes(-1)), ct);
        Assert.NotEmpty(await studies.CompleteQuietStudiesAsync(DateTimeOffset.UtcNow, ct));
        Assert.True(await outbox.RequestGenerationAsync(study, DateTimeOffset.UtcNow, ct));
        var generation = Assert.Single(await outbox.ListDueGenerationsAsync(DateTimeOffset.UtcNow, 10, ct));
        var path = _root.Combine("x.dcm");
        await File.WriteAllBytesAsync(path, [1, 2, 3]);
        var output = Assert.Single(await outbox.CompleteGenerationAsync(generation.Id, study,
            [new NewOutput("secondary-capture", "x.dcm", "application/dicom", null, null, 3, "00", path, ["folder"])], null, DateTimeOffset.UtcNow, ct));
        var due = Assert.Single(await outbox.ListDueDeliveriesAsync("folder", DateTimeOffset.UtcNow, 10, ct));
        // The last run stopped mid-send: the row is 'delivering' until the loop's start-up reset puts it back.
        Assert.True(await outbox.ClaimAsync(due.Delivery.Id, DateTimeOffset.UtcNow, ct));

        // The database folder is gone and a file stands in its place (a storage hiccup at boot): SQLite cannot open the
        // database. Pooled connections would keep the moved file open, so they are released first.
        var databaseFolder = Path.GetDirectoryName(database.DatabasePath)!;
        var aside = databaseFolder + ".aside";
        database.Dispose();
        Directory.Move(databaseFolder, aside);
        await File.WriteAllTextAsync(databaseFolder, "not a folder");

        var service = Services.GetServices<IHostedService>().OfType<DeliveryService>().Single();
        await service.StartAsync(ct);
        try
        {
            await Eventually.UntilAsync(() =>
            {
                // An exception out of the loop ends it, and with it the appliance.
                Assert.False(service.ExecuteTask!.IsCompleted, $"the delivery loop ended: {service.ExecuteTask.Exception?.GetBaseException().Message}");
                return Task.FromResult(_logs.Entries.Any(e => e.EventId.Id == 5124 && e.Exception is Microsoft.Data.Sqlite.SqliteException));
            }, TimeSpan.FromSeconds(20), "the failed start-up reset logged");

            File.Delete(databaseFolder);
            Directory.Move(aside, databaseFolder);

            await Eventually.UntilAsync(async () => Assert.Single(await outbox.ListDeliveriesForOutputsAsync([output], ct)).State == DeliveryStates.Delivered,
                TimeSpan.FromSeconds(20), "the cut-short delivery delivered");
            Assert.Equal([1, 2, 3], await File.ReadAllBytesAsync(Path.Combine(_folder.Path, study, $"{output}_x.dcm")));
            var delivery = Assert.Single(await outbox.ListDeliveriesForOutputsAsync([output], ct));
            // The cut-short attempt still counts; the one after the reset delivered.
            Assert.Equal(2, delivery.Attempts);
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
        }
    }
}
