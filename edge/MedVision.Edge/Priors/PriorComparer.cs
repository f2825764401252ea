using MedVision.Edge.Outputs;
using MedVision.Edge.Storage;

namespace MedVision.Edge.Priors;

/// <summary>Study-level decisions compared label by label: the study is positive for a label when any of its images is.</summary>
public static class PriorComparer
{
    public static IReadOnlyList<LabelResult> Aggregate(IEnumerable<FindingRecord> findings) =>
        findings
            .GroupBy(f => (f.ModelId, f.Label))
            .Select(g => new LabelResult(g.Key.ModelId, g.First().ModelVersion, g.Key.Label, g.Max(f => f.Probability), g.First().Threshold, g.Any(f => f.Positive)))
            .OrderBy(r => r.ModelId, StringComparer.Ordinal).ThenBy(r => r.Label, StringComparer.Ordinal)
            .ToList();

    /// <summary>
    /// One change per current (model, label). A label the prior could not be assessed for (no applicable image) counts as
    /// negative there, so a current positive reads "new" — the safer reading for a radiologist.
    /// </summary>
    public static IReadOnlyList<FindingChange> Compare(IReadOnlyList<LabelResult> current, IReadOnlyList<LabelResult> prior)
    {
        var priorByKey = prior.ToDictionary(p => (p.ModelId, p.Label));
        return current.Select(c =>
        {
            priorByKey.TryGetValue((c.ModelId, c.Label), out var p);
            var priorPositive = p?.Positive ?? false;
            var change = (c.Positive, priorPositive) switch
            {
                (true, false) => FindingChanges.New,
                (false, true) => FindingChanges.Resolved,
                _ => FindingChanges.Unchanged,
            };
            return new FindingChange(c.ModelId, c.Label, p?.Probability, p?.Positive, c.Probability, c.Positive, change);
        }).ToList();
    }
}
