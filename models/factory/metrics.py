"""Evaluation metrics in plain numpy: AUC, operating points, bootstrap CIs, ECE.

Decision rule everywhere: positive iff probability >= threshold.
"""
from __future__ import annotations

import numpy as np


def auc(y_true, score) -> float:
    """ROC AUC via the Mann-Whitney U statistic with average ranks for ties."""
    y = np.asarray(y_true).astype(bool).ravel()
    s = np.asarray(score, dtype=np.float64).ravel()
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    s_sorted = s[order]
    # Average (1-based) ranks over tie groups.
    boundaries = np.flatnonzero(np.diff(s_sorted)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(s)]])
    ranks = np.empty(len(s), dtype=np.float64)
    for a, b in zip(starts, ends):
        ranks[order[a:b]] = (a + b - 1) / 2.0 + 1.0
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def sens_spec(y_true, prob, threshold):
    y = np.asarray(y_true).astype(bool).ravel()
    pred = np.asarray(prob).ravel() >= threshold
    return float(pred[y].mean()), float((~pred[~y]).mean())


def candidate_thresholds(prob) -> np.ndarray:
    """Midpoints between neighbouring distinct scores, plus both outer ends.

    Midpoints keep every validation decision away from the threshold, so float
    rounding on the appliance cannot flip one.
    """
    u = np.unique(np.asarray(prob, dtype=np.float64))
    mids = (u[:-1] + u[1:]) / 2.0
    return np.concatenate([[max(u[0] - 1e-6, 0.0)], mids, [min(u[-1] + 1e-6, 1.0)]])


def youden_threshold(y_true, prob) -> float:
    """Balanced operating point: maximises sensitivity + specificity - 1 (first maximum)."""
    best_t, best_j = 0.5, -np.inf
    for t in candidate_thresholds(prob):
        se, sp = sens_spec(y_true, prob, t)
        if se + sp - 1.0 > best_j:
            best_j, best_t = se + sp - 1.0, float(t)
    return best_t


def high_sensitivity_threshold(y_true, prob, target: float, cap: float) -> float:
    """Largest threshold whose sensitivity is still >= target, never above `cap`.

    Capped at the balanced threshold: when the Youden point is already at least
    that sensitive, raising the threshold would make the "high sensitivity" point
    LESS sensitive than the balanced one.
    """
    best = None
    for t in candidate_thresholds(prob):
        se, _ = sens_spec(y_true, prob, t)
        if se >= target:
            best = float(t)
    return min(best if best is not None else 0.0, cap)


def ece(y_true, prob, bins: int = 10) -> float:
    """Expected calibration error of the positive-class probability, equal-width bins.

    ECE = sum_b |B_b|/n * |mean(y in B_b) - mean(p in B_b)|; bin b holds
    p in [b/bins, (b+1)/bins) and the last bin includes 1.0.
    """
    y = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(prob, dtype=np.float64).ravel()
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() / len(p) * abs(y[m].mean() - p[m].mean())
    return float(total)


def reliability(y_true, prob, bins: int = 10):
    """Per bin: (lower edge, upper edge, count, mean predicted, observed positive rate)."""
    y = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(prob, dtype=np.float64).ravel()
    idx = np.minimum((p * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        m = idx == b
        rows.append((b / bins, (b + 1) / bins, int(m.sum()),
                     float(p[m].mean()) if m.any() else float("nan"),
                     float(y[m].mean()) if m.any() else float("nan")))
    return rows


def bootstrap_ci(y_true, prob, thresholds: dict, n: int = 2000, seed: int = 42) -> dict:
    """Percentile 95 % CIs (seeded) for AUC and sensitivity/specificity at each named threshold.

    Resamples cases with replacement; a resample that lacks a class is drawn again.
    """
    rng = np.random.default_rng(seed)
    y = np.asarray(y_true).astype(int).ravel()
    p = np.asarray(prob, dtype=np.float64).ravel()
    stats = {"auc": []}
    for name in thresholds:
        stats[f"sensitivity@{name}"] = []
        stats[f"specificity@{name}"] = []
    done = 0
    while done < n:
        idx = rng.integers(0, len(y), len(y))
        if y[idx].min() == y[idx].max():
            continue
        done += 1
        stats["auc"].append(auc(y[idx], p[idx]))
        for name, t in thresholds.items():
            se, sp = sens_spec(y[idx], p[idx], t)
            stats[f"sensitivity@{name}"].append(se)
            stats[f"specificity@{name}"].append(sp)
    return {k: tuple(float(v) for v in np.percentile(vals, [2.5, 97.5])) for k, vals in stats.items()}
