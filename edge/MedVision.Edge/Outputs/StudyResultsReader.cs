using MedVision.Dicom;
using MedVision.Dicom.IO;
using MedVision.Edge.Inference;
using MedVision.Edge.Outputs.Heatmaps;
using MedVision.Edge.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Outputs;

/// <summary>
/// <see cref="IStudyResultsReader"/> over SQLite (instances, findings, heat maps), the spooled files (patient and study attributes,
/// read without pixel data) and the model registry (label display and coding); the prior comparison comes from the first registered
/// <see cref="IPriorComparisonSource"/> that has one.
/// </summary>
public sealed class StudyResultsReader(
    EdgeDatabase database,
    IOptions<StorageOptions> storage,
    ModelRegistry models,
    HeatmapStore heatmaps,
    IEnumerable<IPriorComparisonSource> priorSources,
    ILogger<StudyResultsReader> logger,
    TimeProvider timeProvider) : IStudyResultsReader
{
    private readonly SqliteTransactions _transactions = SqliteTransactions.Create(database, storage.Value.TransientRetryCount, logger, timeProvider);

    public async Task<StudyResults?> ReadAsync(string studyUid, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(studyUid);
        var rows = await _transactions.ReadAsync<(List<SourceInstance> Instances, List<FindingRow> Findings)?>(async (connection, ct) =>
        {
            await using (var exists = SqliteTransactions.Command(connection, null, "SELECT 1 FROM studies WHERE study_uid = $study;"))
            {
                exists.Parameters.AddWithValue("$study", studyUid);
                if (await exists.ExecuteScalarAsync(ct).ConfigureAwait(false) is null)
                {
                    return null;
                }
            }
            return (await ReadInstancesAsync(connection, studyUid, ct).ConfigureAwait(false),
                await ReadFindingsAsync(connection, studyUid, ct).ConfigureAwait(false));
        }, cancellationToken).ConfigureAwait(false);
        if (rows is not var (instances, findings))
        {
            return null;
        }

        StudyHeader? header = null;
        foreach (var instance in instances)
        {
            // The first readable instance speaks for the study: they all carry the same patient and study modules.
            header = ReadHeader(studyUid, instance);
            if (header is not null)
            {
                break;
            }
        }
        header ??= new StudyHeader(studyUid, null, null, null, null, null, null, null, null, null, null, instances.FirstOrDefault()?.Modality);

        var prior = await ReadPriorAsync(studyUid, cancellationToken).ConfigureAwait(false);
        var described = new List<StudyFinding>(findings.Count);
        foreach (var row in findings)
        {
            var finding = Describe(studyUid, row);
            if (row.Heatmap is { } map)
            {
                var source = instances.FirstOrDefault(i => i.SopInstanceUid == row.Stored.Finding.SopInstanceUid);
                finding = finding with { Heatmap = await MaterializeAsync(studyUid, map, source, cancellationToken).ConfigureAwait(false) };
            }
            described.Add(finding);
        }
        return new StudyResults(header, instances, described, prior);
    }

    private StudyHeader? ReadHeader(string studyUid, SourceInstance instance)
    {
        try
        {
            var dataset = DicomFile.Open(instance.SpoolPath, new DicomReadOptions { StopBeforeTag = DicomTags.PixelData }).Dataset;
            return new StudyHeader(
                studyUid,
                dataset.GetStringOrDefault(DicomTags.PatientName),
                dataset.GetStringOrDefault(DicomTags.PatientID),
                dataset.GetStringOrDefault(DicomTags.PatientBirthDate),
                dataset.GetStringOrDefault(DicomTags.PatientSex),
                dataset.GetStringOrDefault(DicomTags.StudyDate),
                dataset.GetStringOrDefault(DicomTags.StudyTime),
                dataset.GetStringOrDefault(DicomTags.AccessionNumber),
                dataset.GetStringOrDefault(DicomTags.StudyDescription),
                dataset.GetStringOrDefault(DicomTags.StudyID),
                dataset.GetStringOrDefault(DicomTags.ReferringPhysicianName),
                dataset.GetStringOrDefault(DicomTags.Modality) ?? instance.Modality);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or DicomFormatException)
        {
            OutputsLog.SourceUnreadable(logger, studyUid, instance.SopInstanceUid, instance.SpoolPath, ex.Message);
            return null;
        }
    }

    private async Task<PriorComparison?> ReadPriorAsync(string studyUid, CancellationToken cancellationToken)
    {
        foreach (var source in priorSources)
        {
            try
            {
                if (await source.GetComparisonAsync(studyUid, cancellationToken).ConfigureAwait(false) is { } comparison)
                {
                    return comparison;
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // The current study's results stand on their own; a failing prior lookup must not hold them back.
                OutputsLog.PriorSourceFailed(logger, source.GetType().Name, studyUid, ex);
            }
        }
        return null;
    }

    private StudyFinding Describe(string studyUid, FindingRow row)
    {
        // Label wording comes from the package that made the finding when it is still loaded, else from any loaded version.
        var model = models.Models.FirstOrDefault(m => m.Id == row.Stored.Finding.ModelId && m.Version == row.Stored.Finding.ModelVersion)
            ?? models.Find(row.Stored.Finding.ModelId);
        var label = model?.Labels.FirstOrDefault(l => l.Name == row.Stored.Finding.Label);
        var code = label?.Coding is { } coding ? new CodedConcept(coding.System, coding.Code, coding.Display) : null;
        return new StudyFinding(row.Stored.Id, row.Stored.Finding with { Heatmap = row.Heatmap }, label?.Display ?? row.Stored.Finding.Label, code, null);
    }

    /// <summary>Renders the heat map of a finding from its recorded CAM (once; later reads find the files intact).</summary>
    private async Task<HeatmapReference?> MaterializeAsync(string studyUid, HeatmapRecord map, SourceInstance? source, CancellationToken cancellationToken)
    {
        if (source is null)
        {
            OutputsLog.HeatmapFileMissing(logger, studyUid, heatmaps.Resolve(map.FloatMapPath));
            return null;
        }
        try
        {
            if (!await heatmaps.MaterializeAsync(map, source.SpoolPath, cancellationToken).ConfigureAwait(false))
            {
                return null;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A heat map explains a finding; failing to draw one must not hold back the results themselves.
            OutputsLog.HeatmapFailed(logger, source.SopInstanceUid, map.FloatMapPath, ex.Message, ex);
            return null;
        }
        return new HeatmapReference(map.ParametricMapUid, map.Columns, map.Rows, heatmaps.Resolve(map.FloatMapPath), heatmaps.Resolve(map.OverlayPngPath));
    }

    private static async Task<List<SourceInstance>> ReadInstancesAsync(SqliteConnection connection, string studyUid, CancellationToken ct)
    {
        await using var command = SqliteTransactions.Command(connection, null, """
            SELECT sop_class_uid, sop_instance_uid, series_uid, modality, spool_path
            FROM instances WHERE study_uid = $study ORDER BY received_utc, sop_instance_uid;
            """);
        command.Parameters.AddWithValue("$study", studyUid);
        var instances = new List<SourceInstance>();
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            instances.Add(new SourceInstance(
                reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetString(4)));
        }
        return instances;
    }

    private static async Task<List<FindingRow>> ReadFindingsAsync(SqliteConnection connection, string studyUid, CancellationToken ct)
    {
        await using var command = SqliteTransactions.Command(connection, null, """
            SELECT f.id, f.study_uid, f.sop_instance_uid, f.model_id, f.model_version, f.model_sha256, f.label, f.probability,
                   f.threshold, f.positive, f.execution_provider, f.inference_ms, f.created_utc,
                   h.parametric_map_uid, h.columns, h.rows, h.float_map_path, h.overlay_png_path, h.cam_width, h.cam_height, h.cam
            FROM findings f
            LEFT JOIN heatmaps h ON h.sop_instance_uid = f.sop_instance_uid AND h.model_id = f.model_id
                                AND h.model_version = f.model_version AND h.label = f.label
            WHERE f.study_uid = $study
            ORDER BY f.id;
            """);
        command.Parameters.AddWithValue("$study", studyUid);
        var findings = new List<FindingRow>();
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            var finding = new FindingRecord(
                reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5),
                reader.GetString(6), reader.GetDouble(7), reader.GetDouble(8), reader.GetInt64(9) != 0, reader.GetString(10),
                reader.IsDBNull(11) ? null : reader.GetDouble(11), SqliteStudyStore.ParseTimestamp(reader.GetString(12)));
            var heatmap = reader.IsDBNull(13)
                ? null
                : new HeatmapRecord(reader.GetString(13), reader.GetInt32(14), reader.GetInt32(15), reader.GetString(16), reader.GetString(17),
                    reader.GetInt32(18), reader.GetInt32(19), HeatmapRecordEncoding.FromBytes((byte[])reader.GetValue(20)));
            findings.Add(new FindingRow(new StoredFinding(reader.GetInt64(0), finding), heatmap));
        }
        return findings;
    }

    private sealed record FindingRow(StoredFinding Stored, HeatmapRecord? Heatmap);
}
