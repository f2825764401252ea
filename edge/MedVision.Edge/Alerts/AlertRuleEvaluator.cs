using MedVision.Edge.Storage;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Alerts;

/// <summary>What a rule may look at besides the finding itself.</summary>
/// <param name="Modality">The instance's modality.</param>
/// <param name="Priority">Reads the study priority on demand (only rules that name priorities need it).</param>
public sealed record FindingContext(string? Modality, Func<string?> Priority);

/// <summary>Finds the first configured rule a finding matches.</summary>
public sealed class AlertRuleEvaluator(IOptions<AlertOptions> options)
{
    private readonly IReadOnlyList<AlertRuleOptions> _rules = options.Value.Rules;

    public IReadOnlyList<AlertRuleOptions> Rules => _rules;

    public AlertRuleOptions? Match(FindingRecord finding, FindingContext context)
    {
        ArgumentNullException.ThrowIfNull(finding);
        ArgumentNullException.ThrowIfNull(context);
        foreach (var rule in _rules)
        {
            if (Matches(rule, finding, context))
            {
                return rule;
            }
        }
        return null;
    }

    public static bool Matches(AlertRuleOptions rule, FindingRecord finding, FindingContext context)
    {
        if (!string.IsNullOrWhiteSpace(rule.ModelId) && !rule.ModelId.Equals(finding.ModelId, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        if (!string.IsNullOrWhiteSpace(rule.Label) && !rule.Label.Equals(finding.Label, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        var fires = rule.MinProbability is { } min ? finding.Probability >= min : finding.Positive;
        if (!fires)
        {
            return false;
        }
        if (rule.Modalities.Count > 0
            && (context.Modality is null || !rule.Modalities.Contains(context.Modality, StringComparer.OrdinalIgnoreCase)))
        {
            return false;
        }
        if (rule.Priorities.Count > 0)
        {
            var priority = context.Priority();
            if (priority is null || !rule.Priorities.Contains(priority, StringComparer.OrdinalIgnoreCase))
            {
                return false;
            }
        }
        return true;
    }
}
