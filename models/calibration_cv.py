#!/usr/bin/env python3
"""Choice of the calibration method by repeated cross-validation on the validation split only.

    /usr/bin/python3 models/calibration_cv.py cxr-pneumonia        # reads models/packages/cxr-pneumonia

Runs the package's ONNX graph (numpy interpreter) on the recipe's validation images, takes the uncalibrated mean
logit (the input of the graph's Sigmoid, with the manifest's temperature and bias undone), and compares calibration
maps by repeated stratified k-fold CV inside validation: each map is fitted on k-1 folds and scored (ECE, 10 bins;
NLL) on the held-out fold. The test split is never read. Candidates:
  raw               sigmoid(logit): the class-weighted loss makes this a probability under a 50 % prior
  prior shift       sigmoid(logit + log(n_pos / n_neg of train)): undoes the class weighting, nothing fitted
  temperature       sigmoid(logit / T), T fitted
  prior shift + T   sigmoid((logit + log(n_pos / n_neg)) / T), T fitted
  T + b             sigmoid((logit + b) / T), both fitted (what train.py does)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from factory import data as data_mod  # noqa: E402
from factory import metrics as M  # noqa: E402
from factory import onnx_numpy  # noqa: E402
from factory.paths import SHARED_DATA  # noqa: E402
from factory.pipeline import fit_calibration, nll, sigmoid  # noqa: E402
from factory.preprocess import preprocess  # noqa: E402
from factory.recipes import RECIPES  # noqa: E402

PACKAGES = Path(__file__).resolve().parent / "packages"


def fit_temperature(logits: np.ndarray, y: np.ndarray, bias: float) -> float:
    lg = torch.tensor(logits + bias, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.float64)
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(lg / log_t.exp(), yt)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.exp().item())


def uncalibrated_logits(package: Path, x: np.ndarray, batch: int = 64) -> np.ndarray:
    """Mean member logit from the shipped graph: the Sigmoid's input z = (logit + b) / T, so logit = z * T - b."""
    manifest = json.loads((package / "manifest.json").read_text())
    cal = manifest["calibration"]
    model = onnx.load(str(package / manifest["file"]))
    sig = [n for n in model.graph.node if n.op_type == "Sigmoid"]
    if len(sig) != 1:
        raise SystemExit(f"{package}: expected one Sigmoid node, found {len(sig)}")
    model.graph.output.append(onnx.helper.make_tensor_value_info(sig[0].input[0], onnx.TensorProto.FLOAT, None))
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "logit.onnx")
        onnx.save(model, path)
        z = np.concatenate([onnx_numpy.run(path, {"image": x[i:i + batch]})[sig[0].input[0]].reshape(-1)
                            for i in range(0, len(x), batch)])
    return z * cal["temperature"] - cal["bias"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", choices=sorted(RECIPES))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    recipe = RECIPES[args.model]
    torch.set_num_threads(1)
    package = PACKAGES / recipe.id
    manifest = json.loads((package / "manifest.json").read_text())
    size = manifest["input"]["shape"][2]
    ds = data_mod.load(SHARED_DATA / manifest["training"]["source"], recipe.positive_label, args.seed)
    y = ds.val.y
    z = uncalibrated_logits(package, preprocess(ds.val.images, size).numpy())
    prior = float(np.log(ds.train.y.sum() / (len(ds.train.y) - ds.train.y.sum())))
    check = M.ece(y, sigmoid((z + manifest["calibration"]["bias"]) / manifest["calibration"]["temperature"]))
    print(f"{recipe.id} {manifest['version']}: validation n = {len(y)} (pos {int(y.sum())}); train prior shift "
          f"{prior:+.4f}; ECE with the shipped calibration {check:.4f} (manifest {manifest['metrics']['val_ece_after']})")
    methods = {
        "raw (50 % prior)": lambda zt, yt: (1.0, 0.0),
        "prior shift": lambda zt, yt: (1.0, prior),
        "temperature": lambda zt, yt: (fit_temperature(zt, yt, 0.0), 0.0),
        "prior shift + T": lambda zt, yt: (fit_temperature(zt, yt, prior), prior),
        "T + b": lambda zt, yt: fit_calibration(zt, yt),
    }
    rng = np.random.default_rng(args.seed)
    scores = {k: [] for k in methods}
    for _ in range(args.repeats):
        fold = np.empty(len(y), dtype=int)
        for cls in (0, 1):
            idx = rng.permutation(np.flatnonzero(y == cls))
            fold[idx] = np.arange(len(idx)) % args.folds
        for k in range(args.folds):
            fit, held = fold != k, fold == k
            for name, method in methods.items():
                t, b = method(z[fit], y[fit])
                scores[name].append((M.ece(y[held], sigmoid((z[held] + b) / t)), nll(z[held], y[held], t, b), t, b))
    print(f"{args.repeats} x {args.folds}-fold CV inside validation (held-out fold means):")
    for name, rows in scores.items():
        a = np.array(rows)
        print(f"  {name:18s} ECE {a[:, 0].mean():.4f} (sd {a[:, 0].std():.4f})  NLL {a[:, 1].mean():.4f}  "
              f"T {a[:, 2].mean():.3f}  b {a[:, 3].mean():+.3f}")
    best = min(scores, key=lambda k: np.mean([r[0] for r in scores[k]]))
    print(f"lowest held-out ECE: {best}")


if __name__ == "__main__":
    main()
