using MedVision.Edge.Storage;

namespace MedVision.Edge.Tests.Storage;

public sealed class SqliteStudyStoreTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Record_pending_mark_processed_makes_the_study_processed()
    {
        await using var storage = await TempStorage.CreateAsync();
        var store = storage.Store;
        var t0 = new DateTimeOffset(2024, 1, 31, 10, 0, 0, TimeSpan.Zero);

        Assert.Equal(RecordResult.Added, await store.RecordReceivedAsync(TempStorage.Instance("1.1", received: t0), None));
        Assert.Equal(RecordResult.Added, await store.RecordReceivedAsync(TempStorage.Instance("1.2", received: t0.AddSeconds(1)), None));

        var study = await store.GetStudyAsync("1.2.3.4", None);
        Assert.NotNull(study);
        Assert.Equal(StudyStatuses.Receiving, study.Status);
        Assert.Equal(2, study.InstanceCount);
        Assert.Equal("PAT1", study.PatientId);
        Assert.Equal("DOE^JANE", study.PatientName);
        Assert.Equal("CR", study.Modality);
        Assert.Equal(t0, study.FirstReceivedUtc);
        Assert.Equal(t0.AddSeconds(1), study.LastReceivedUtc);

        var pending = await store.GetPendingInstancesAsync(10, None);
        Assert.Equal(["1.1", "1.2"], pending.Select(p => p.SopInstanceUid));
        Assert.Equal("1.2.3.4", pending[0].StudyUid);
        Assert.Equal("CR", pending[0].Modality);
        Assert.Equal("/spool/1.1.dcm", pending[0].SpoolPath);
        Assert.Equal(t0, pending[0].ReceivedUtc);
        Assert.Single(await store.GetPendingInstancesAsync(1, None));

        await store.MarkInstanceAsync("1.1", InstanceStates.Processed, null, None);
        await store.UpdateStudyStatusAsync("1.2.3.4", None);
        Assert.Equal(StudyStatuses.Receiving, (await store.GetStudyAsync("1.2.3.4", None))!.Status);

        await store.MarkInstanceAsync("1.2", InstanceStates.Skipped, "no model for CR", None);
        await store.UpdateStudyStatusAsync("1.2.3.4", None);
        Assert.Equal(StudyStatuses.Processed, (await store.GetStudyAsync("1.2.3.4", None))!.Status);
        Assert.Empty(await store.GetPendingInstancesAsync(10, None));

        var statistics = await store.GetStatisticsAsync(None);
        Assert.Equal(1, statistics.Studies);
        Assert.Equal(1, statistics.InstancesByState[InstanceStates.Processed]);
        Assert.Equal(1, statistics.InstancesByState[InstanceStates.Skipped]);
        Assert.Equal(0, statistics.InstancesByState[InstanceStates.Received]);
        Assert.Equal(0, statistics.InstancesByState[InstanceStates.Failed]);
        Assert.Equal(2, statistics.Instances);
    }

    [Fact]
    public async Task Study_status_is_failed_when_an_instance_failed_and_none_is_pending()
    {
        await using var storage = await TempStorage.CreateAsync();
        var store = storage.Store;
        await store.RecordReceivedAsync(TempStorage.Instance("2.1"), None);
        await store.RecordReceivedAsync(TempStorage.Instance("2.2"), None);
        await store.RecordReceivedAsync(TempStorage.Instance("2.3"), None);

        await store.MarkInstanceAsync("2.1", InstanceStates.Failed, "decoder error", None);
        await store.MarkInstanceAsync("2.2", InstanceStates.Processed, null, None);
        await store.UpdateStudyStatusAsync("1.2.3.4", None);
        Assert.Equal(StudyStatuses.Receiving, (await store.GetStudyAsync("1.2.3.4", None))!.Status);

        await store.MarkInstanceAsync("2.3", InstanceStates.Processed, null, None);
        await store.UpdateStudyStatusAsync("1.2.3.4", None);
        Assert.Equal(StudyStatuses.Failed, (await store.GetStudyAsync("1.2.3.4", None))!.Status);
    }

    // Both ways a record is written: a pooled connection (durable commit) and the ingest path's kept-prepared connection.
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Resend_of_a_known_instance_replaces_it_and_resets_its_state(bool syncToDisk)
    {
        await using var storage = await TempStorage.CreateAsync();
        var store = storage.Store;
        await store.RecordReceivedAsync(TempStorage.Instance("3.1", spoolPath: "/spool/a.dcm", size: 10), syncToDisk, None);
        await store.MarkInstanceAsync("3.1", InstanceStates.Processed, null, None);
        await store.UpdateStudyStatusAsync("1.2.3.4", None);

        var result = await store.RecordReceivedAsync(TempStorage.Instance("3.1", spoolPath: "/spool/b.dcm", size: 20), syncToDisk, None);

        Assert.True(result.IsDuplicate);
        Assert.Equal("/spool/a.dcm", result.PreviousSpoolPath);
        var study = await store.GetStudyAsync("1.2.3.4", None);
        Assert.Equal(1, study!.InstanceCount);
        Assert.Equal(StudyStatuses.Receiving, study.Status);
        var pending = Assert.Single(await store.GetPendingInstancesAsync(10, None));
        Assert.Equal("/spool/b.dcm", pending.SpoolPath);
        var statistics = await store.GetStatisticsAsync(None);
        Assert.Equal(1, statistics.Instances);
        Assert.Equal(1, statistics.InstancesByState[InstanceStates.Received]);
    }

    // Both ways a record is written: a pooled connection (durable commit) and the ingest path's kept-prepared connection.
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Resend_under_another_study_moves_the_instance(bool syncToDisk)
    {
        await using var storage = await TempStorage.CreateAsync();
        var store = storage.Store;
        await store.RecordReceivedAsync(TempStorage.Instance("4.1", study: "9.1"), syncToDisk, None);
        await store.RecordReceivedAsync(TempStorage.Instance("4.2", study: "9.1"), syncToDisk, None);
        await store.MarkInstanceAsync("4.2", InstanceStates.Processed, null, None);

        var result = await store.RecordReceivedAsync(TempStorage.Instance("4.1", study: "9.2"), syncToDisk, None);

        Assert.True(result.IsDuplicate);
        var old = await store.GetStudyAsync("9.1", None);
        var moved = await store.GetStudyAsync("9.2", None);
        Assert.Equal(1, old!.InstanceCount);
        Assert.Equal(StudyStatuses.Processed, old.Status);
        Assert.Equal(1, moved!.InstanceCount);
    }

    [Fact]
    public async Task Missing_patient_data_is_filled_in_by_later_instances_but_never_overwritten()
    {
        await using var storage = await TempStorage.CreateAsync();
        var store = storage.Store;
        await store.RecordReceivedAsync(TempStorage.Instance("5.1", modality: null, patientId: null), None);
        await store.RecordReceivedAsync(TempStorage.Instance("5.2", modality: "DX", patientId: "PAT2"), None);
        await store.RecordReceivedAsync(TempStorage.Instance("5.3", modality: "CR", patientId: "PAT3"), None);

        var study = await store.GetStudyAsync("1.2.3.4", None);
        Assert.Equal("PAT2", study!.PatientId);
        Assert.Equal("DX", study.Modality);
        Assert.Equal(3, study.InstanceCount);
    }

    [Fact]
    public async Task Findings_round_trip_and_replace_on_their_unique_key()
    {
        await using var storage = await TempStorage.CreateAsync();
        var store = storage.Store;
        await store.RecordReceivedAsync(TempStorage.Instance("6.1"), None);
        var created = new DateTimeOffset(2024, 2, 1, 8, 30, 0, 123, TimeSpan.Zero);
        var finding = new FindingRecord("1.2.3.4", "6.1", "cxr-pneumonia", "1.0.0", new string('a', 64), "pneumonia",
            0.8125, 0.42, true, "CPU", 3.5, created);
        var other = finding with { StudyUid = "7.7.7", SopInstanceUid = "7.1", Probability = 0.1, Positive = false, InferenceMs = null };

        await store.AddFindingsAsync([finding, other], None);
        var stored = await store.ListFindingsAsync("1.2.3.4", 10, None);

        var single = Assert.Single(stored);
        Assert.Equal(finding, single.Finding);
        Assert.Equal(2, (await store.ListFindingsAsync(null, 10, None)).Count);
        Assert.Null((await store.ListFindingsAsync("7.7.7", 10, None))[0].Finding.InferenceMs);

        // Re-running the same model version on the same instance replaces the row and keeps its id.
        var rerun = finding with { Probability = 0.3, Positive = false, ExecutionProvider = "CUDA", CreatedUtc = created.AddMinutes(5) };
        await store.AddFindingsAsync([rerun], None);
        var replaced = Assert.Single(await store.ListFindingsAsync("1.2.3.4", 10, None));
        Assert.Equal(single.Id, replaced.Id);
        Assert.Equal(rerun, replaced.Finding);

        // A new model version is a new finding.
        await store.AddFindingsAsync([finding with { ModelVersion = "1.1.0" }], None);
        Assert.Equal(2, (await store.ListFindingsAsync("1.2.3.4", 10, None)).Count);
        Assert.Equal(3, (await store.GetStatisticsAsync(None)).Findings);
        Assert.Single(await store.ListFindingsAsync(null, 1, None));
    }

    [Fact]
    public async Task Studies_are_listed_most_recent_first_with_paging()
    {
        await using var storage = await TempStorage.CreateAsync();
        var store = storage.Store;
        var t0 = new DateTimeOffset(2024, 3, 1, 0, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < 5; i++)
        {
            await store.RecordReceivedAsync(TempStorage.Instance($"8.{i}", study: $"s{i}", received: t0.AddMinutes(i)), None);
        }

        var firstPage = await store.ListStudiesAsync(2, 0, None);
        var secondPage = await store.ListStudiesAsync(2, 2, None);

        Assert.Equal(["s4", "s3"], firstPage.Select(s => s.StudyUid));
        Assert.Equal(["s2", "s1"], secondPage.Select(s => s.StudyUid));
        Assert.Null(await store.GetStudyAsync("nope", None));
    }

    [Fact]
    public async Task Marking_an_unknown_instance_is_ignored_and_bad_states_are_rejected()
    {
        await using var storage = await TempStorage.CreateAsync();
        await storage.Store.MarkInstanceAsync("no.such.instance", InstanceStates.Processed, null, None);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(
            () => storage.Store.MarkInstanceAsync("x", "done", null, None));
    }

    [Fact]
    public async Task Ingest_record_that_fails_leaves_nothing_behind_and_the_next_one_is_written()
    {
        await using var storage = await TempStorage.CreateAsync();
        var store = storage.Store;
        await store.RecordReceivedAsync(TempStorage.Instance("11.1", study: "9.9"), syncToDisk: false, None);

        // A record without a SOP Class UID fails at the instance row, after the study upsert ran: that must roll back.
        var broken = TempStorage.Instance("11.2", study: "9.9") with { SopClassUid = null! };
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.RecordReceivedAsync(broken, syncToDisk: false, None));

        // The kept connection was dropped with the failure; the next record opens a fresh one and is written.
        var next = await store.RecordReceivedAsync(TempStorage.Instance("11.3", study: "9.9"), syncToDisk: false, None);
        Assert.False(next.IsDuplicate);
        Assert.Equal(2, (await store.GetStudyAsync("9.9", None))!.InstanceCount);
        Assert.Equal(["11.1", "11.3"], (await store.GetPendingInstancesAsync(10, None)).Select(p => p.SopInstanceUid).Order());
    }

    // Both ways a record is written: a pooled connection (durable commit) and the ingest path's kept-prepared connection.
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Concurrent_records_from_8_tasks_of_50_instances_lose_nothing(bool syncToDisk)
    {
        await using var storage = await TempStorage.CreateAsync();
        var store = storage.Store;
        const int Tasks = 8;
        const int PerTask = 50;

        // Four studies shared by all tasks, so writers contend on the same study rows.
        var results = await Task.WhenAll(Enumerable.Range(0, Tasks).Select(t => Task.Run(async () =>
        {
            var added = 0;
            for (var i = 0; i < PerTask; i++)
            {
                var result = await store.RecordReceivedAsync(TempStorage.Instance($"10.{t}.{i}", study: $"study-{(t * PerTask + i) % 4}"), syncToDisk, None);
                added += result.IsDuplicate ? 0 : 1;
            }
            return added;
        })));

        Assert.All(results, added => Assert.Equal(PerTask, added));
        var statistics = await store.GetStatisticsAsync(None);
        Assert.Equal(Tasks * PerTask, statistics.InstancesByState[InstanceStates.Received]);
        Assert.Equal(4, statistics.Studies);
        var studies = await store.ListStudiesAsync(10, 0, None);
        Assert.Equal(Tasks * PerTask, studies.Sum(s => s.InstanceCount));
        Assert.All(studies, s => Assert.Equal(Tasks * PerTask / 4, s.InstanceCount));
        Assert.Equal(Tasks * PerTask, (await store.GetPendingInstancesAsync(1000, None)).Count);
    }
}
