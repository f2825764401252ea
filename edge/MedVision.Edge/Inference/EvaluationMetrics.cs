namespace MedVision.Edge.Inference;

/// <summary>
/// The model factory's test metrics (models/factory/metrics.py), computed the same way so an appliance-side
/// evaluation is comparable number for number: Mann-Whitney AUC with average ranks for ties, sensitivity and
/// specificity with positive iff p ≥ threshold, and equal-width-bin ECE whose last bin includes 1.0.
/// </summary>
public static class EvaluationMetrics
{
    public static double Auc(IReadOnlyList<int> labels, IReadOnlyList<double> scores)
    {
        Check(labels, scores);
        var n = scores.Count;
        var order = Enumerable.Range(0, n).OrderBy(i => scores[i]).ToArray();
        var ranks = new double[n];
        for (var start = 0; start < n;)
        {
            var end = start + 1;
            while (end < n && scores[order[end]] == scores[order[start]])
            {
                end++;
            }
            var rank = (start + end - 1) / 2.0 + 1.0;
            for (var k = start; k < end; k++)
            {
                ranks[order[k]] = rank;
            }
            start = end;
        }
        double positives = labels.Count(l => l != 0), negatives = n - positives;
        if (positives == 0 || negatives == 0)
        {
            return double.NaN;
        }
        var rankSum = Enumerable.Range(0, n).Where(i => labels[i] != 0).Sum(i => ranks[i]);
        return (rankSum - positives * (positives + 1) / 2.0) / (positives * negatives);
    }

    public static (double Sensitivity, double Specificity) SensitivitySpecificity(IReadOnlyList<int> labels, IReadOnlyList<double> probabilities, double threshold)
    {
        Check(labels, probabilities);
        int tp = 0, fn = 0, tn = 0, fp = 0;
        for (var i = 0; i < labels.Count; i++)
        {
            var predicted = probabilities[i] >= threshold;
            if (labels[i] != 0)
            {
                if (predicted) { tp++; } else { fn++; }
            }
            else if (predicted) { fp++; }
            else { tn++; }
        }
        return (tp + fn == 0 ? double.NaN : (double)tp / (tp + fn), tn + fp == 0 ? double.NaN : (double)tn / (tn + fp));
    }

    public static double ExpectedCalibrationError(IReadOnlyList<int> labels, IReadOnlyList<double> probabilities, int bins = 10)
    {
        Check(labels, probabilities);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bins);
        var count = new int[bins];
        var sumLabel = new double[bins];
        var sumProbability = new double[bins];
        for (var i = 0; i < labels.Count; i++)
        {
            var b = Math.Clamp((int)(probabilities[i] * bins), 0, bins - 1);
            count[b]++;
            sumLabel[b] += labels[i] != 0 ? 1 : 0;
            sumProbability[b] += probabilities[i];
        }
        var total = 0.0;
        for (var b = 0; b < bins; b++)
        {
            if (count[b] > 0)
            {
                total += (double)count[b] / labels.Count * Math.Abs(sumLabel[b] / count[b] - sumProbability[b] / count[b]);
            }
        }
        return total;
    }

    /// <summary>Nearest-rank percentile (0-100) of <paramref name="values"/>.</summary>
    public static double Percentile(IReadOnlyList<double> values, double percentile)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }
        var sorted = values.Order().ToArray();
        var rank = (int)Math.Ceiling(percentile / 100.0 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    private static void Check(IReadOnlyList<int> labels, IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(values);
        if (labels.Count != values.Count)
        {
            throw new ArgumentException($"{labels.Count} labels but {values.Count} values.");
        }
    }
}
