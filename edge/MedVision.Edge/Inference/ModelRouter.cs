using MedVision.Dicom;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Inference;

/// <summary>The attributes of an instance that decide which models it is offered to.</summary>
public sealed record InstanceAttributes(
    string? Modality,
    string? BodyPartExamined,
    string? SopClassUid,
    string? ViewPosition,
    string? PhotometricInterpretation,
    int? Rows,
    int? Columns)
{
    /// <summary>Reads the routing attributes from a data set header; <paramref name="modality"/> is the value ingest recorded.</summary>
    public static InstanceAttributes From(DicomDataset dataset, string? modality) => new(
        modality ?? dataset.GetStringOrDefault(DicomTags.Modality),
        dataset.GetStringOrDefault(DicomTags.BodyPartExamined),
        dataset.GetStringOrDefault(DicomTags.SOPClassUID),
        dataset.GetStringOrDefault(DicomTags.ViewPosition),
        dataset.GetStringOrDefault(DicomTags.PhotometricInterpretation),
        dataset.TryGetElement(DicomTags.Rows, out _) ? dataset.GetIntOrDefault(DicomTags.Rows, 0) : null,
        dataset.TryGetElement(DicomTags.Columns, out _) ? dataset.GetIntOrDefault(DicomTags.Columns, 0) : null);
}

/// <summary>Why a model was not offered an instance, for the log and the instance's record.</summary>
public sealed record RouteDecision(bool Applies, string? Reason)
{
    public static RouteDecision Yes { get; } = new(true, null);
}

/// <summary>
/// Decides which models run on an instance: the package's applies_to, with any site override from
/// <c>MedVision:Inference:Routing:&lt;modelId&gt;</c> replacing the lists it sets. A listed attribute the instance lacks does not
/// exclude it (many modalities leave Body Part Examined or View Position empty, and skipping those images silently would lose
/// findings); a value that is present and not listed does.
/// </summary>
public sealed class ModelRouter(IOptions<InferenceOptions> options)
{
    /// <summary>The cheap check made before the file is opened: is the model enabled here and does it take this modality?</summary>
    public bool MayApply(LoadedModel model, string? modality)
    {
        var rule = Effective(model);
        return rule.Enabled && modality is not null && Contains(rule.Modalities, modality, emptyMeansAny: false);
    }

    public RouteDecision Decide(LoadedModel model, InstanceAttributes instance)
    {
        var rule = Effective(model);
        if (!rule.Enabled)
        {
            return new(false, $"{model.Id} is disabled at this site");
        }
        if (instance.Modality is null || !Contains(rule.Modalities, instance.Modality, emptyMeansAny: false))
        {
            return new(false, $"{model.Id} takes modality {string.Join('/', rule.Modalities)}, not {instance.Modality ?? "(none)"}");
        }
        if (Mismatch(rule.BodyParts, instance.BodyPartExamined))
        {
            return new(false, $"{model.Id} takes body part {string.Join('/', rule.BodyParts!)}, not {instance.BodyPartExamined}");
        }
        if (Mismatch(rule.SopClasses, instance.SopClassUid))
        {
            return new(false, $"{model.Id} does not take SOP class {instance.SopClassUid}");
        }
        if (Mismatch(rule.Views, instance.ViewPosition))
        {
            return new(false, $"{model.Id} takes view {string.Join('/', rule.Views!)}, not {instance.ViewPosition}");
        }
        if (Mismatch(rule.PhotometricInterpretations, instance.PhotometricInterpretation))
        {
            return new(false, $"{model.Id} takes photometric interpretation {string.Join('/', rule.PhotometricInterpretations!)}, not {instance.PhotometricInterpretation}");
        }
        if (rule.MinRows is { } minRows && instance.Rows < minRows || rule.MinColumns is { } minColumns && instance.Columns < minColumns)
        {
            return new(false, $"{model.Id} needs at least {rule.MinColumns ?? 0}x{rule.MinRows ?? 0} pixels, the image is {instance.Columns}x{instance.Rows}");
        }
        return RouteDecision.Yes;
    }

    private EffectiveRule Effective(LoadedModel model)
    {
        var spec = model.Manifest.AppliesTo;
        options.Value.Routing.TryGetValue(model.Id, out var site);
        return new EffectiveRule(
            site?.Enabled ?? true,
            Pick(site?.Modalities, spec.Modalities) ?? [],
            Pick(site?.BodyParts, spec.BodyParts),
            Pick(site?.SopClasses, spec.SopClasses),
            Pick(site?.Views, spec.Views),
            Pick(site?.PhotometricInterpretations, spec.PhotometricInterpretations),
            site?.MinRows ?? spec.MinRows,
            site?.MinColumns ?? spec.MinColumns);
    }

    private static IReadOnlyList<string>? Pick(List<string>? site, IReadOnlyList<string>? manifest) => site is { Count: > 0 } ? site : manifest;

    private static bool Mismatch(IReadOnlyList<string>? allowed, string? value) =>
        !string.IsNullOrWhiteSpace(value) && !Contains(allowed, value, emptyMeansAny: true);

    private static bool Contains(IReadOnlyList<string>? allowed, string value, bool emptyMeansAny) =>
        allowed is null || allowed.Count == 0 ? emptyMeansAny : allowed.Any(a => string.Equals(a.Trim(), value.Trim(), StringComparison.OrdinalIgnoreCase));

    private sealed record EffectiveRule(
        bool Enabled,
        IReadOnlyList<string> Modalities,
        IReadOnlyList<string>? BodyParts,
        IReadOnlyList<string>? SopClasses,
        IReadOnlyList<string>? Views,
        IReadOnlyList<string>? PhotometricInterpretations,
        int? MinRows,
        int? MinColumns);
}

/// <summary>A site's routing override for one model (MedVision:Inference:Routing:&lt;modelId&gt;); set lists replace the manifest's.</summary>
public sealed class ModelRoutingOverride
{
    public bool? Enabled { get; set; }

    public List<string>? Modalities { get; set; }

    public List<string>? BodyParts { get; set; }

    public List<string>? SopClasses { get; set; }

    public List<string>? Views { get; set; }

    public List<string>? PhotometricInterpretations { get; set; }

    public int? MinRows { get; set; }

    public int? MinColumns { get; set; }
}
