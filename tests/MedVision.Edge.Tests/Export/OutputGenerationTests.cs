using MedVision.Edge.Export;
using MedVision.Edge.Outputs;
using MedVision.Edge.Storage;
using MedVision.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MedVision.Edge.Tests.Export;

/// <summary>
/// The generation half of the outbox on a real SQLite database and real spool files, step by step: outputs wait for the
/// pipeline, a study reopened by a late instance gets a new generation (the old one is superseded), files left by a try that
/// never got recorded are replaced, and asking twice for the same completion makes one set.
/// </summary>
public sealed class OutputGenerationTests : IAsyncLifetime
{
    private readonly TempDirectory _root = new("medvision-export-gen");
    private readonly TempDirectory _folder = new("medvision-export-folder");
    private ServiceProvider? _services;

    private ServiceProvider Services => _services!;

    public async Task InitializeAsync() => _services = await ExportTestKit.BuildServicesAsync(_root.Path, new Dictionary<string, string?>
    {
        ["MedVision:Export:Destinations:0:Type"] = "folder",
        ["MedVision:Export:Destinations:0:Path"] = _folder.Path,
        ["MedVision:Export:Destinations:0:Kinds:0"] = "secondary-capture",
    }, ExportTestKit.UseTestProducers);

    public async Task DisposeAsync()
    {
        await ExportTestKit.DisposeServicesAsync(_services);
        _root.Dispose();
        _folder.Dispose();
    }

    [Fact]
    public async Task Outputs_wait_for_the_pipeline_and_a_reopened_study_gets_a_new_generation_made_once()
    {
        var ct = CancellationToken.None;
        var studies = Services.GetRequiredService<IStudyStore>();
        var outbox = Services.GetRequiredService<OutboxStore>();
        var generator = Services.GetServices<IHostedService>().OfType<OutputGenerationService>().Single();
        var reader = Services.GetRequiredService<IStudyResultsReader>();
        var producers = Services.GetServices<IStudyOutputProducer>().ToList();
        var images = Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images");
        var study = ChestXrayDicom.NewUid();
        var t0 = DateTimeOffset.UtcNow.AddMinutes(-10);

        var first = await ReceiveAsync(studies, images.Image(1), study, t0);
        Assert.NotEmpty(await studies.CompleteQuietStudiesAsync(t0.AddSeconds(1), ct));
        Assert.True(await outbox.RequestGenerationAsync(study, t0.AddSeconds(2), ct));
        Assert.False(await outbox.RequestGenerationAsync(study, t0.AddSeconds(2), ct));

        // The instance is still 'received': nothing is made yet and the request stays pending.
        var gen1 = Assert.Single(await outbox.ListDueGenerationsAsync(DateTimeOffset.UtcNow, 10, ct));
        await generator.GenerateAsync(gen1, reader, producers, ct);
        Assert.Empty(await outbox.ListOutputsAsync(study, ct));
        Assert.Equal(1, (await outbox.CountAsync(ct)).PendingGenerations);

        // A late instance reopens the study: the first request is superseded, not made from half a study.
        var second = await ReceiveAsync(studies, images.Image(2), study, t0.AddSeconds(30));
        await generator.GenerateAsync(gen1, reader, producers, ct);
        Assert.Equal(0, (await outbox.CountAsync(ct)).PendingGenerations);
        Assert.Empty(await outbox.ListOutputsAsync(study, ct));

        await studies.MarkInstanceAsync(first, InstanceStates.Processed, null, ct);
        await studies.MarkInstanceAsync(second, InstanceStates.Skipped, null, ct);
        Assert.NotEmpty(await studies.CompleteQuietStudiesAsync(t0.AddSeconds(31), ct));
        Assert.True(await outbox.RequestGenerationAsync(study, t0.AddSeconds(32), ct));
        var gen2 = Assert.Single(await outbox.ListDueGenerationsAsync(DateTimeOffset.UtcNow, 10, ct));
        Assert.NotEqual(gen1.Id, gen2.Id);

        // Files of an earlier try that stopped before recording them: never recorded, never sent, so replaced.
        var genFolder = Path.Combine(_root.Path, "outputs", study, gen2.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Directory.CreateDirectory(genFolder);
        await File.WriteAllTextAsync(Path.Combine(genFolder, "01_left-over.dcm"), "half written");

        await generator.GenerateAsync(gen2, reader, producers, ct);
        var outputs = await outbox.ListOutputsAsync(study, ct);
        Assert.Equal(["fhir-bundle", "secondary-capture"], outputs.Select(o => o.Kind).Order());
        Assert.Equal(outputs.Select(o => Path.GetFileName(o.Path)).Order(), Directory.GetFiles(genFolder).Select(Path.GetFileName).Order());
        Assert.All(outputs, o => Assert.Equal(o.SizeBytes, new FileInfo(o.Path).Length));

        // Deliveries follow the kind filter: the folder takes only the Secondary Capture here.
        var deliveries = await outbox.ListDeliveriesForOutputsAsync(outputs.Select(o => o.Id).ToList(), ct);
        var delivery = Assert.Single(deliveries);
        Assert.Equal(outputs.Single(o => o.Kind == "secondary-capture").Id, delivery.OutputId);
        Assert.Equal(DeliveryStates.Pending, delivery.State);

        // The same completion asked for again (a restart, the catch-up scan) makes nothing new.
        await generator.GenerateAsync(gen2, reader, producers, ct);
        Assert.False(await outbox.RequestGenerationAsync(study, DateTimeOffset.UtcNow, ct));
        Assert.Equal(0, await outbox.CatchUpGenerationsAsync(DateTimeOffset.UtcNow, ct));
        Assert.Empty(await outbox.ListDueGenerationsAsync(DateTimeOffset.UtcNow, 10, ct));
        Assert.Equal(2, (await outbox.ListOutputsAsync(study, ct)).Count);
    }

    [Fact]
    public async Task A_study_completed_without_telling_the_export_is_caught_up_at_start()
    {
        var ct = CancellationToken.None;
        var studies = Services.GetRequiredService<IStudyStore>();
        var outbox = Services.GetRequiredService<OutboxStore>();
        var study = ChestXrayDicom.NewUid();
        // Completion stamps 'now', after the outbox migration was applied.
        await ReceiveAsync(studies, Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images").Image(3), study, DateTimeOffset.UtcNow.AddMinutes(-1));
        Assert.NotEmpty(await studies.CompleteQuietStudiesAsync(DateTimeOffset.UtcNow, ct));

        Assert.Equal(1, await outbox.CatchUpGenerationsAsync(DateTimeOffset.UtcNow, ct));
        Assert.Equal(0, await outbox.CatchUpGenerationsAsync(DateTimeOffset.UtcNow, ct));
        Assert.Equal(study, Assert.Single(await outbox.ListDueGenerationsAsync(DateTimeOffset.UtcNow, 10, ct)).StudyUid);
    }

    [Fact]
    public async Task A_crash_mid_send_leaves_the_attempt_counted_and_due_again_and_a_delivered_row_is_never_taken_again()
    {
        var ct = CancellationToken.None;
        var studies = Services.GetRequiredService<IStudyStore>();
        var outbox = Services.GetRequiredService<OutboxStore>();
        var study = ChestXrayDicom.NewUid();
        await ReceiveAsync(studies, Npz.ReadUInt8(RepoPaths.PneumoniaMnist, "test_images").Image(4), study, DateTimeOffset.UtcNow.AddMinutes(-1));
        await studies.CompleteQuietStudiesAsync(DateTimeOffset.UtcNow, ct);
        await outbox.RequestGenerationAsync(study, DateTimeOffset.UtcNow, ct);
        var generation = Assert.Single(await outbox.ListDueGenerationsAsync(DateTimeOffset.UtcNow, 10, ct));
        var path = Path.Combine(_root.Path, "x.dcm");
        await File.WriteAllBytesAsync(path, [1, 2, 3]);
        var output = Assert.Single(await outbox.CompleteGenerationAsync(generation.Id, study,
            [new NewOutput("secondary-capture", "x.dcm", "application/dicom", null, null, 3, "00", path, ["folder"])], null, DateTimeOffset.UtcNow, ct));

        var due = Assert.Single(await outbox.ListDueDeliveriesAsync("folder", DateTimeOffset.UtcNow, 10, ct));
        Assert.True(await outbox.ClaimAsync(due.Delivery.Id, DateTimeOffset.UtcNow, ct));
        Assert.False(await outbox.ClaimAsync(due.Delivery.Id, DateTimeOffset.UtcNow, ct));
        Assert.Empty(await outbox.ListDueDeliveriesAsync("folder", DateTimeOffset.UtcNow, 10, ct));

        // The process died here. At the next start the attempt is still counted and the delivery is due again.
        Assert.Equal(1, await outbox.ResetDeliveringAsync(DateTimeOffset.UtcNow, ct));
        var again = Assert.Single(await outbox.ListDueDeliveriesAsync("folder", DateTimeOffset.UtcNow, 10, ct));
        Assert.Equal(1, again.Delivery.Attempts);
        Assert.Equal(output, again.Output.Id);

        Assert.True(await outbox.ClaimAsync(again.Delivery.Id, DateTimeOffset.UtcNow, ct));
        await outbox.MarkDeliveredAsync(again.Delivery.Id, DateTimeOffset.UtcNow, ct);
        Assert.Equal(0, await outbox.ResetDeliveringAsync(DateTimeOffset.UtcNow, ct));
        Assert.False(await outbox.ClaimAsync(again.Delivery.Id, DateTimeOffset.UtcNow, ct));
        // A late failure report (e.g. a duplicate worker) cannot turn a delivered row back.
        await outbox.MarkFailedAsync(again.Delivery.Id, "late", DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, ct);
        var (outcome, record) = await outbox.RetryAsync(again.Delivery.Id, DateTimeOffset.UtcNow, ct);
        Assert.Equal(RetryOutcome.Conflict, outcome);
        Assert.Equal(DeliveryStates.Delivered, record!.State);
        Assert.Equal(2, record.Attempts);
        Assert.Equal(RetryOutcome.NotFound, (await outbox.RetryAsync(424242, DateTimeOffset.UtcNow, ct)).Outcome);
    }

    private async Task<string> ReceiveAsync(IStudyStore studies, byte[] image, string study, DateTimeOffset received)
    {
        var file = ChestXrayDicom.Create(_root.Path, image, scale: 2, studyUid: study);
        await studies.RecordReceivedAsync(new ReceivedInstance(
            file.SopInstanceUid, "1.2.840.10008.5.1.4.1.1.1", study, null, "CR", "MV-TEST-0001", "TEST^PNEUMONIA", null, "ACC0001",
            "1.2.840.10008.1.2.1", "TESTSCU", file.Path, new FileInfo(file.Path).Length, received), CancellationToken.None);
        return file.SopInstanceUid;
    }
}
