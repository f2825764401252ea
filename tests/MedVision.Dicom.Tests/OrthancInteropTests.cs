using System.Collections.Concurrent;
using MedVision.Dicom.IO;
using MedVision.Dicom.Network;
using MedVision.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace MedVision.Dicom.Tests;

/// <summary>Our SCU and SCP against a real PACS (Orthanc): store, find and move, checked through Orthanc's REST API.</summary>
public sealed class OrthancInteropTests : IAsyncLifetime
{
    private const string StudyRootFind = "1.2.840.10008.5.1.4.1.2.2.1";
    private const string StudyRootMove = "1.2.840.10008.5.1.4.1.2.2.2";
    private const string StudyRootGet = "1.2.840.10008.5.1.4.1.2.2.3";
    // Distinct SOP Instance UIDs (several pydicom variants share one), uncompressed and compressed syntaxes.
    private static readonly string[] Files = ["CT_small.dcm", "MR_small_bigendian.dcm", "rtplan.dcm", "JPEG2000.dcm", "SC_rgb_rle.dcm", "SC_rgb_jpeg_dcmtk.dcm"];

    private readonly MemoryStoreHandler _received = new();
    private readonly CancellationTokenSource _stop = new();
    private DicomServer _scp = null!;
    private Task _scpRunning = Task.CompletedTask;
    private OrthancServer _orthanc = null!;

    public async Task InitializeAsync()
    {
        var options = new DicomServerOptions { AeTitle = "MEDVISION", Port = 0, BindAddress = "127.0.0.1" };
        _scp = new DicomServer(options, [new DefaultAssociationPolicy(options)], _received, new AlwaysSuccessfulEcho(), NullLogger<DicomServer>.Instance);
        _scp.Start();
        _scpRunning = _scp.RunAsync(_stop.Token);
        _orthanc = await OrthancServer.StartAsync(new Dictionary<string, int> { ["MEDVISION"] = _scp.BoundPort });
    }

    public async Task DisposeAsync()
    {
        await _orthanc.DisposeAsync();
        await _stop.CancelAsync();
        await _scpRunning;
        await _scp.DisposeAsync();
    }

    [Fact]
    public async Task Our_scu_stores_every_file_intact_in_orthanc()
    {
        var originals = Files.Select(f => DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, f))).ToList();
        var contexts = originals.Select((f, i) => new PresentationContextProposal((byte)(2 * i + 1),
            f.Dataset.GetStringOrDefault(DicomTags.SOPClassUID)!, [f.TransferSyntax.Uid])).ToList();
        await using (var client = await DicomClient.ConnectAsync("127.0.0.1", _orthanc.DicomPort, "MEDVISION", OrthancServer.AeTitle, contexts, CancellationToken.None))
        {
            for (var i = 0; i < originals.Count; i++)
            {
                var context = client.AcceptedContexts[(byte)(2 * i + 1)];
                Assert.Equal(originals[i].TransferSyntax, context.Syntax);
                var status = await client.StoreAsync(originals[i], CancellationToken.None);
                Assert.True(status.IsSuccess, $"{Files[i]}: {status}");
            }
            await client.ReleaseAsync(CancellationToken.None);
        }

        using var temp = new TempDirectory();
        for (var i = 0; i < originals.Count; i++)
        {
            var id = await _orthanc.FindInstanceAsync(originals[i].Dataset.GetStringOrDefault(DicomTags.SOPInstanceUID)!);
            Assert.NotNull(id);
            var stored = temp.Combine($"{i}.dcm");
            await File.WriteAllBytesAsync(stored, await _orthanc.Http.GetByteArrayAsync($"/instances/{id}/file"));
            var before = await ExternalTool.RunAsync("dcmdump", ["+L", Path.Combine(RepoPaths.PydicomTestFiles, Files[i])]);
            var after = await ExternalTool.RunAsync("dcmdump", ["+L", stored]);
            Assert.Equal(DataSetLines(before.StandardOutput), DataSetLines(after.StandardOutput));
        }
    }

    /// <summary>
    /// dcmdump's data set lines without what may legitimately change in storage: the meta group, length comments,
    /// defined vs undefined sequence lengths and their delimiters, and Data Set Trailing Padding (PS3.10 7.2).
    /// </summary>
    private static string[] DataSetLines(string dump) =>
        dump.Split('\n').Select(l => l.Trim())
            .Where(l => l.StartsWith('(') && !l.StartsWith("(0002,", StringComparison.Ordinal) && !l.StartsWith("(fffc,fffc)", StringComparison.Ordinal)
                        && !l.StartsWith("(fffe,e00d)", StringComparison.Ordinal) && !l.StartsWith("(fffe,e0dd)", StringComparison.Ordinal))
            .Select(l => System.Text.RegularExpressions.Regex.Replace(l.Split('#')[0], "with (undefined|explicit) length ", string.Empty).TrimEnd())
            .ToArray();

    [Fact]
    public async Task Find_and_move_a_prior_study_from_orthanc_into_our_scp()
    {
        var ct = DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, "CT_small.dcm"));
        await _orthanc.UploadAsync(Path.Combine(RepoPaths.PydicomTestFiles, "CT_small.dcm"));
        var patientId = ct.Dataset.GetStringOrDefault(DicomTags.PatientID)!;
        var studyUid = ct.Dataset.GetStringOrDefault(DicomTags.StudyInstanceUID)!;

        await using var client = await DicomClient.ConnectAsync("127.0.0.1", _orthanc.DicomPort, "MEDVISION", OrthancServer.AeTitle,
            [new PresentationContextProposal(1, StudyRootFind, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid]),
             new PresentationContextProposal(3, StudyRootMove, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid])], CancellationToken.None);
        var query = new DicomDataset()
            .AddOrUpdate(DicomTags.QueryRetrieveLevel, DicomVR.CS, "STUDY")
            .AddOrUpdate(DicomTags.PatientID, DicomVR.LO, patientId)
            .AddOrUpdate(DicomTags.StudyInstanceUID, DicomVR.UI, string.Empty)
            .AddOrUpdate(DicomTags.StudyDate, DicomVR.DA, string.Empty)
            .AddOrUpdate(DicomTags.ModalitiesInStudy, DicomVR.CS, string.Empty);
        var (matches, findStatus) = await client.FindAsync(StudyRootFind, query, CancellationToken.None);
        Assert.True(findStatus.IsSuccess, findStatus.ToString());
        var match = Assert.Single(matches);
        Assert.Equal(studyUid, match.GetStringOrDefault(DicomTags.StudyInstanceUID));
        Assert.Equal(ct.Dataset.GetStringOrDefault(DicomTags.StudyDate), match.GetStringOrDefault(DicomTags.StudyDate));

        var move = await client.MoveAsync(StudyRootMove, "MEDVISION", new DicomDataset()
            .AddOrUpdate(DicomTags.QueryRetrieveLevel, DicomVR.CS, "STUDY")
            .AddOrUpdate(DicomTags.StudyInstanceUID, DicomVR.UI, studyUid), CancellationToken.None);
        Assert.True(move.Status.IsSuccess, move.Status.ToString());
        Assert.Equal(1, move.Completed);
        Assert.Equal(0, move.Failed);
        await client.ReleaseAsync(CancellationToken.None);

        var received = Assert.Single(_received.Received);
        var dataset = DicomReader.ReadDataset(new MemoryStream(received.Value.Bytes), received.Value.Syntax);
        Assert.True(ct.Dataset.TryGetElement(DicomTags.PixelData, out var a));
        Assert.True(dataset.TryGetElement(DicomTags.PixelData, out var b));
        Assert.True(a.Buffer.GetBytes().Span.SequenceEqual(b.Buffer.GetBytes().Span));
    }

    [Fact]
    public async Task Get_retrieves_a_study_from_orthanc_on_the_same_association()
    {
        var files = new[] { "CT_small.dcm", "MR_small.dcm" };
        foreach (var file in files)
        {
            await _orthanc.UploadAsync(Path.Combine(RepoPaths.PydicomTestFiles, file));
        }
        var ct = DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, "CT_small.dcm"));
        var (result, received) = await GetStudyAsync(ct.Dataset.GetStringOrDefault(DicomTags.StudyInstanceUID)!,
            ["1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.4"],
            [DicomTransferSyntax.ExplicitVRLittleEndian.Uid, DicomTransferSyntax.ImplicitVRLittleEndian.Uid]);

        Assert.True(result.Status.IsSuccess, result.Status.ToString());
        Assert.Equal(1, result.Completed);
        Assert.Equal(0, result.Failed);
        var instance = Assert.Single(received);
        Assert.Equal(ct.Dataset.GetStringOrDefault(DicomTags.SOPInstanceUID), instance.SopInstanceUid);
        Assert.Equal(ct.Dataset.GetStringOrDefault(DicomTags.PatientName), instance.Dataset.GetStringOrDefault(DicomTags.PatientName));
        Assert.True(ct.Dataset.TryGetElement(DicomTags.PixelData, out var a));
        Assert.True(instance.Dataset.TryGetElement(DicomTags.PixelData, out var b));
        Assert.True(a.Buffer.GetBytes().Span.SequenceEqual(b.Buffer.GetBytes().Span));
    }

    [Fact]
    public async Task Get_brings_a_compressed_instance_as_stored_when_its_syntax_is_offered_and_it_decodes_exactly()
    {
        // One context per syntax lets Orthanc send the JPEG-LS file as stored rather than transcode it.
        var compressed = Path.Combine(RepoPaths.PydicomTestFiles, "MR_small_jpeg_ls_lossless.dcm");
        await _orthanc.UploadAsync(compressed);
        var source = DicomFile.Open(compressed);
        const string JpegLsLossless = "1.2.840.10008.1.2.4.80";
        var (result, received) = await GetStudyAsync(source.Dataset.GetStringOrDefault(DicomTags.StudyInstanceUID)!,
            ["1.2.840.10008.5.1.4.1.1.4"], [DicomTransferSyntax.ExplicitVRLittleEndian.Uid, JpegLsLossless, DicomTransferSyntax.ImplicitVRLittleEndian.Uid]);

        Assert.True(result.Status.IsSuccess, result.Status.ToString());
        var instance = Assert.Single(received);
        Assert.Equal(JpegLsLossless, instance.TransferSyntax.Uid);
        var uncompressed = MedVision.Dicom.Imaging.DicomImage.Open(DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, "MR_small.dcm"))).GetModalityFrame(0);
        var retrieved = MedVision.Dicom.Imaging.DicomImage.Open(new DicomFile(DicomFile.CreateFileMetaInfo(instance.SopClassUid, instance.SopInstanceUid, instance.TransferSyntax, "TEST"), instance.Dataset, instance.TransferSyntax)).GetModalityFrame(0);
        Assert.Equal(uncompressed.Values, retrieved.Values);
    }

    /// <summary>A C-GET of one study from Orthanc on one association, every sub-operation accepted.</summary>
    private async Task<(MoveResult Result, List<RetrievedInstance> Received)> GetStudyAsync(string studyUid, string[] sopClasses, string[] transferSyntaxes)
    {
        var (storage, roles) = DicomClient.StorageContextsForGet(sopClasses, transferSyntaxes);
        Assert.Equal(sopClasses.Length * transferSyntaxes.Length, storage.Count);
        await using var client = await DicomClient.ConnectAsync("127.0.0.1", _orthanc.DicomPort, "MEDVISION", OrthancServer.AeTitle,
            [new PresentationContextProposal(1, StudyRootGet, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid]), .. storage], roles, CancellationToken.None);
        var received = new List<RetrievedInstance>();
        var result = await client.GetAsync(StudyRootGet, new DicomDataset()
            .AddOrUpdate(DicomTags.QueryRetrieveLevel, DicomVR.CS, "STUDY")
            .AddOrUpdate(DicomTags.StudyInstanceUID, DicomVR.UI, studyUid),
            (instance, _) =>
            {
                received.Add(instance);
                return Task.FromResult(DicomStatus.FromCode(0x0000));
            }, CancellationToken.None);
        await client.ReleaseAsync(CancellationToken.None);
        return (result, received);
    }

    [Fact]
    public async Task Get_sub_operation_refused_by_our_handler_is_reported_failed_by_orthanc()
    {
        await _orthanc.UploadAsync(Path.Combine(RepoPaths.PydicomTestFiles, "CT_small.dcm"));
        var ct = DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, "CT_small.dcm"));
        var (storage, roles) = DicomClient.StorageContextsForGet(["1.2.840.10008.5.1.4.1.1.2"], [DicomTransferSyntax.ExplicitVRLittleEndian.Uid]);
        await using var client = await DicomClient.ConnectAsync("127.0.0.1", _orthanc.DicomPort, "MEDVISION", OrthancServer.AeTitle,
            [new PresentationContextProposal(1, StudyRootGet, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid]), .. storage], roles, CancellationToken.None);
        var result = await client.GetAsync(StudyRootGet, new DicomDataset()
            .AddOrUpdate(DicomTags.QueryRetrieveLevel, DicomVR.CS, "STUDY")
            .AddOrUpdate(DicomTags.StudyInstanceUID, DicomVR.UI, ct.Dataset.GetStringOrDefault(DicomTags.StudyInstanceUID)!),
            (_, _) => Task.FromResult(DicomStatus.FromCode(0xA700, "out of resources")), CancellationToken.None);
        await client.ReleaseAsync(CancellationToken.None);
        Assert.Equal(0, result.Completed);
        Assert.Equal(1, result.Failed);
        Assert.False(result.Status.IsSuccess);
    }

    [Fact]
    public async Task Orthanc_as_sender_stores_into_our_scp()
    {
        var ids = new List<string>();
        foreach (var file in Files)
        {
            ids.Add(await _orthanc.UploadAsync(Path.Combine(RepoPaths.PydicomTestFiles, file)));
        }
        var result = await _orthanc.PostJsonAsync("/modalities/MEDVISION/store", System.Text.Json.JsonSerializer.Serialize(new { Resources = ids, Synchronous = true }));
        Assert.Equal(Files.Length, result.GetProperty("InstancesCount").GetInt32());
        Assert.Equal(0, result.GetProperty("FailedInstancesCount").GetInt32());
        var missing = Files.Where(f => !_received.Received.ContainsKey(DicomFile.Open(Path.Combine(RepoPaths.PydicomTestFiles, f)).Dataset.GetStringOrDefault(DicomTags.SOPInstanceUID)!));
        Assert.Empty(missing);
    }
}
