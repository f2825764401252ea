using System.Buffers.Binary;
using MedVision.Dicom;
using MedVision.Dicom.IO;
using MedVision.Dicom.Network;
using MedVision.Edge.Outputs;
using MedVision.Edge.Outputs.Dicom;
using MedVision.Testing;

namespace MedVision.Edge.Tests.Outputs;

/// <summary>
/// The SR, Parametric Maps and Secondary Captures made from a real processed study: valid to dicom3tools' dciodvfy, readable by dcmtk,
/// and stored unchanged by a real PACS (Orthanc).
/// </summary>
[Collection(ProcessedStudyCollection.Name)]
public sealed class DicomOutputTests(ProcessedStudyFixture study)
{
    [Fact]
    public void Reader_assembles_header_instances_findings_with_codes_and_heatmaps()
    {
        var results = study.Results;
        Assert.Equal(study.Pneumonia.StudyUid, results.Study.StudyInstanceUid);
        Assert.Equal("MÜLLER^JÖRG", results.Study.PatientName);
        Assert.Equal("MV-OUT-0001", results.Study.PatientId);
        Assert.Equal("20261120", results.Study.StudyDate);
        Assert.Equal("ACC-OUT-1", results.Study.AccessionNumber);
        Assert.Equal("CR", results.Study.Modality);
        Assert.Equal(
            new[] { study.Pneumonia.SopInstanceUid, study.Normal.SopInstanceUid }.Order(),
            results.Instances.Select(i => i.SopInstanceUid).Order());
        Assert.All(results.Instances, i => Assert.True(File.Exists(i.SpoolPath)));
        Assert.Equal(2, results.Findings.Count);
        foreach (var finding in results.Findings)
        {
            Assert.Equal("Pneumonia", finding.LabelDisplay);
            Assert.Equal(new CodedConcept("http://snomed.info/sct", "233604007", "Pneumonia (disorder)"), finding.Code);
            var heatmap = Assert.IsType<HeatmapReference>(finding.Heatmap);
            var source = finding.Finding.SopInstanceUid == study.Pneumonia.SopInstanceUid ? study.Pneumonia : study.Normal;
            Assert.Equal((source.Columns, source.Rows), (heatmap.Columns, heatmap.Rows));
            Assert.True(File.Exists(heatmap.FloatMapPath) && File.Exists(heatmap.OverlayPngPath));
        }
        Assert.Null(results.Prior);
    }

    [Fact]
    public void Producers_make_one_sr_and_a_parametric_map_and_secondary_capture_per_heatmap()
    {
        var kinds = study.Outputs.GroupBy(o => o.Output.Kind).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(1, kinds[StudyOutputKinds.StructuredReport]);
        Assert.Equal(2, kinds[StudyOutputKinds.ParametricMap]);
        Assert.Equal(2, kinds[StudyOutputKinds.SecondaryCapture]);
        Assert.Equal(
            study.Results.Findings.Select(f => f.Heatmap!.SopInstanceUid).Order(),
            study.Outputs.Where(o => o.Output.Kind == StudyOutputKinds.ParametricMap).Select(o => o.Output.SopInstanceUid!).Order());
    }

    [Fact]
    public async Task Every_object_passes_dciodvfy_without_errors_and_dcmdump_reads_it()
    {
        var reports = new List<string>();
        foreach (var (_, path) in study.Outputs)
        {
            if (await DciodvfyErrorsAsync(path) is { } report)
            {
                reports.Add(report);
            }
        }
        Assert.True(reports.Count == 0, string.Join("\n\n", reports));
        foreach (var (output, path) in study.Outputs)
        {
            var dump = await ExternalTool.RunAsync("dcmdump", [path]);
            Assert.True(dump.ExitCode == 0, dump.Combined);
            Assert.Contains(study.Pneumonia.StudyUid, dump.StandardOutput, StringComparison.Ordinal);
            Assert.Contains(output.SopInstanceUid!, dump.StandardOutput, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Sr_reads_in_dsrdump_as_a_tid_1500_report_of_both_findings()
    {
        var sr = study.Outputs.Single(o => o.Output.Kind == StudyOutputKinds.StructuredReport);
        var dump = await ExternalTool.RunAsync("dsrdump", ["+Pc", "+Pl", "+Pu", "+Pt", sr.Path]);
        Assert.True(dump.ExitCode == 0, dump.Combined);
        var text = dump.StandardOutput;
        Assert.Contains("Comprehensive 3D SR Document", text, StringComparison.Ordinal);
        Assert.Contains("Imaging Measurement Report", text, StringComparison.Ordinal);
        Assert.Contains("UNVERIFIED", text, StringComparison.Ordinal);
        Assert.Contains("Device Observer Manufacturer", text, StringComparison.Ordinal);
        Assert.Contains("Image Library", text, StringComparison.Ordinal);
        Assert.Contains("(233604007,SCT,\"Pneumonia (disorder)\")", text, StringComparison.Ordinal);
        Assert.Equal(2, Count(text, "Measurement Group"));
        foreach (var finding in study.Results.Findings)
        {
            var f = finding.Finding;
            Assert.Contains($"=\"{DicomBuild.FormatDecimal(f.Probability)}\" ({{probability}},UCUM", text, StringComparison.Ordinal);
            Assert.Contains(f.ModelSha256, text, StringComparison.Ordinal);
            Assert.Contains(finding.Heatmap!.SopInstanceUid, text, StringComparison.Ordinal);
            Assert.Contains(f.SopInstanceUid, text, StringComparison.Ordinal);
        }
        var positives = study.Results.Findings.Count(f => f.Finding.Positive);
        Assert.Equal(positives, Count(text, "(10828004,SCT,\"Positive\")"));
        Assert.Equal(2 - positives, Count(text, "(260385009,SCT,\"Negative\")"));
    }

    [Fact]
    public async Task Sr_with_a_prior_comparison_states_the_change_per_finding_and_stays_valid()
    {
        var current = study.Results.Findings.Single(f => f.Finding.SopInstanceUid == study.Pneumonia.SopInstanceUid).Finding;
        var prior = new PriorComparison("2.25.1234567890", "20250101", "ACC-PRIOR",
        [
            new FindingChange(current.ModelId, current.Label, 0.05, false, current.Probability, current.Positive,
                current.Positive ? FindingChanges.New : FindingChanges.Unchanged),
        ]);
        var outputs = await study.ProduceAsync(study.Results with { Prior = prior }, "with-prior");
        var sr = outputs.Single(o => o.Output.Kind == StudyOutputKinds.StructuredReport);
        await AssertValidAsync(sr.Path);
        var dump = await ExternalTool.RunAsync("dsrdump", ["+Pc", "+Pl", "+Pu", "+Pt", sr.Path]);
        Assert.True(dump.ExitCode == 0, dump.Combined);
        Assert.Contains(current.Positive ? "New since prior" : "Unchanged since prior", dump.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("2.25.1234567890", dump.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("DATE:(PRIORDATE,99MEDVISION,\"Prior study date\")=\"20250101\"", dump.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Parametric_map_carries_the_stored_float_map_and_secondary_capture_is_marked_burned_in()
    {
        foreach (var finding in study.Results.Findings)
        {
            var heatmap = finding.Heatmap!;
            var pm = DicomFile.Open(study.Outputs.Single(o => o.Output.SopInstanceUid == heatmap.SopInstanceUid).Path);
            Assert.Equal(heatmap.Rows, pm.Dataset.GetIntOrDefault(DicomTags.Rows, 0));
            Assert.Equal(heatmap.Columns, pm.Dataset.GetIntOrDefault(DicomTags.Columns, 0));
            Assert.True(pm.Dataset.TryGetElement(DicomTags.FloatPixelData, out var pixels));
            Assert.Equal(await File.ReadAllBytesAsync(heatmap.FloatMapPath), pixels.Buffer.GetBytes().ToArray());
        }
        foreach (var (_, path) in study.Outputs.Where(o => o.Output.Kind == StudyOutputKinds.SecondaryCapture))
        {
            var sc = DicomFile.Open(path).Dataset;
            Assert.Equal("YES", sc.GetStringOrDefault(DicomTags.BurnedInAnnotation));
            Assert.Equal("RGB", sc.GetStringOrDefault(DicomTags.PhotometricInterpretation));
            Assert.StartsWith(SecondaryCaptureProducer.DerivationText, sc.GetStringOrDefault(DicomTags.DerivationDescription), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Every_object_round_trips_through_orthanc_with_an_identical_data_set()
    {
        await using var orthanc = await OrthancServer.StartAsync();
        var classes = study.Outputs.Select(o => o.Output.SopClassUid!).Distinct().ToList();
        var contexts = classes.Select((c, i) => new PresentationContextProposal((byte)(2 * i + 1), c, [DicomTransferSyntax.ExplicitVRLittleEndian.Uid])).ToList();
        await using (var client = await DicomClient.ConnectAsync("127.0.0.1", orthanc.DicomPort, "MEDVISION", OrthancServer.AeTitle, contexts, CancellationToken.None))
        {
            foreach (var (output, _) in study.Outputs)
            {
                // The data set exactly as the producer wrote it, after its File Meta Information.
                var status = await client.StoreRawAsync(output.SopClassUid!, output.SopInstanceUid!, DatasetBytes(output.Content), CancellationToken.None);
                Assert.True(status.IsSuccess, $"{output.Kind} {output.SopInstanceUid}: {status}");
            }
            await client.ReleaseAsync(CancellationToken.None);
        }
        foreach (var (output, path) in study.Outputs)
        {
            var id = await orthanc.FindInstanceAsync(output.SopInstanceUid!);
            Assert.True(id is not null, $"{output.Kind} {output.SopInstanceUid} is not in Orthanc");
            var retrieved = await orthanc.Http.GetByteArrayAsync($"/instances/{id}/file");
            // Orthanc (DCMTK) may store sequences with explicit instead of undefined lengths; the attributes and their value bytes
            // must not change, so both sides are compared as our writer encodes them.
            if (!Canonical(output.Content).SequenceEqual(Canonical(retrieved)))
            {
                await File.WriteAllBytesAsync(path + ".orthanc", retrieved);
                var sent = (await ExternalTool.RunAsync("dcmdump", ["+L", path])).StandardOutput.Split('\n');
                var back = (await ExternalTool.RunAsync("dcmdump", ["+L", path + ".orthanc"])).StandardOutput.Split('\n');
                Assert.Fail($"{output.Kind} changed in Orthanc; sent only:\n{string.Join('\n', sent.Except(back))}\nreturned only:\n{string.Join('\n', back.Except(sent))}");
            }
        }
    }

    /// <summary>The data set after the File Meta Information (whose implementation attributes a PACS rewrites).</summary>
    private static byte[] DatasetBytes(byte[] part10)
    {
        // Preamble (128) + "DICM" + (0002,0000) UL element (12 bytes) whose value is the rest of the meta group's length.
        var groupLength = BinaryPrimitives.ReadUInt32LittleEndian(part10.AsSpan(128 + 4 + 8));
        return part10[(int)(128 + 4 + 12 + groupLength)..];
    }

    private static byte[] Canonical(byte[] part10)
    {
        var file = DicomReader.Read(new MemoryStream(part10), new DicomReadOptions { LargeValueThreshold = long.MaxValue });
        using var buffer = new MemoryStream();
        DicomWriter.WriteDataset(buffer, file.Dataset, DicomTransferSyntax.ExplicitVRLittleEndian);
        return buffer.ToArray();
    }

    private static async Task AssertValidAsync(string path)
    {
        var report = await DciodvfyErrorsAsync(path);
        Assert.True(report is null, report);
    }

    /// <summary>dciodvfy's whole report when it finds an error, else null (warnings are listed and explained in the README).</summary>
    private static async Task<string?> DciodvfyErrorsAsync(string path)
    {
        var result = await ExternalTool.RunAsync("dciodvfy", [path]);
        return result.Combined.Split('\n').Any(l => l.StartsWith("Error", StringComparison.Ordinal))
            ? $"dciodvfy {Path.GetFileName(path)}:\n{result.Combined}"
            : null;
    }

    private static int Count(string text, string value)
    {
        var count = 0;
        for (var i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + value.Length, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }
}
