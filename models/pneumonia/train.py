#!/usr/bin/env python3
"""Train the pneumonia-cxr model package (PneumoniaMNIST, 28 px).

Needs Debian's python3 with python3-torch, python3-onnx and python3-numpy
(apt). Run from anywhere:

    /usr/bin/python3 models/pneumonia/train.py

Pipeline: seeded + deterministic training of a small CNN with light affine
augmentation and pos_weight for class imbalance -> checkpoint selection on
validation AUC only -> temperature scaling fitted on validation logits (LBFGS
on NLL) -> thresholds chosen on validation (Youden's J, and a >= 0.95
sensitivity operating point) -> ONE final evaluation on the test split ->
ONNX export (temperature baked in) -> manifest.json with golden values.

Decision rule for the thresholds written to the manifest: positive iff
probability >= threshold. Thresholds are midpoints between neighbouring
distinct validation probabilities, so float rounding on the appliance cannot
flip a validation decision.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from preprocess import preprocess  # noqa: E402  (the preprocessing contract)
import onnx_numpy  # noqa: E402

DEFAULT_DATA = REPO_ROOT / ".." / "shared" / "data" / "medmnist" / "pneumoniamnist.npz"
DEFAULT_OUT = REPO_ROOT / "models" / "packages" / "pneumonia-cxr"
PACKAGE_ID = "pneumonia-cxr"


# --------------------------------------------------------------------------- model
class SmallCNN(nn.Module):
    """~72k parameter VGG-style CNN for 1x28x28 inputs; returns one logit."""

    def __init__(self, dropout: float = 0.3):
        super().__init__()

        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.features = nn.Sequential(
            *block(1, 16), *block(16, 16), nn.MaxPool2d(2),   # 14x14
            *block(16, 32), *block(32, 32), nn.MaxPool2d(2),  # 7x7
            *block(32, 64), *block(64, 64),
            nn.AdaptiveAvgPool2d(1),
        )
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(64, 1)

    def forward(self, x):
        x = torch.flatten(self.features(x), 1)
        return self.fc(self.dropout(x))


class CalibratedModel(nn.Module):
    """What gets exported: probability = sigmoid(logit / T), shape [N, 1]."""

    def __init__(self, net: nn.Module, temperature: float):
        super().__init__()
        self.net = net
        self.register_buffer("temperature", torch.tensor(temperature, dtype=torch.float32))

    def forward(self, image):
        return torch.sigmoid(self.net(image) / self.temperature)


# --------------------------------------------------------------------------- metrics
def auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC via the Mann-Whitney U statistic with average ranks for ties."""
    y = np.asarray(y_true).astype(bool).ravel()
    s = np.asarray(score, dtype=np.float64).ravel()
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    s_sorted = s[order]
    ranks = np.empty(len(s), dtype=np.float64)
    i = 0
    while i < len(s):  # average ranks over tie groups (1-based ranks)
        j = i
        while j + 1 < len(s) and s_sorted[j + 1] == s_sorted[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def sens_spec(y_true, prob, threshold):
    y = np.asarray(y_true).astype(bool).ravel()
    pred = np.asarray(prob).ravel() >= threshold
    return float(pred[y].mean()), float((~pred[~y]).mean())


def candidate_thresholds(prob: np.ndarray) -> np.ndarray:
    """Midpoints between neighbouring distinct scores, plus both outer ends."""
    u = np.unique(np.asarray(prob, dtype=np.float64))
    mids = (u[:-1] + u[1:]) / 2.0
    return np.concatenate([[u[0] - 1e-6], mids, [u[-1] + 1e-6]])


def youden_threshold(y_true, prob) -> float:
    best_t, best_j = 0.5, -np.inf
    for t in candidate_thresholds(prob):
        se, sp = sens_spec(y_true, prob, t)
        if se + sp - 1.0 > best_j:
            best_j, best_t = se + sp - 1.0, float(t)
    return best_t


def high_sensitivity_threshold(y_true, prob, target=0.95) -> float:
    """Largest threshold whose validation sensitivity is still >= target."""
    best = None
    for t in candidate_thresholds(prob):
        se, _ = sens_spec(y_true, prob, t)
        if se >= target:
            best = float(t)
    return best


def bootstrap_auc_ci(y_true, score, n=1000, seed=42):
    rng = np.random.default_rng(seed)
    y = np.asarray(y_true).ravel()
    s = np.asarray(score).ravel()
    vals = []
    for _ in range(n):
        idx = rng.integers(0, len(y), len(y))
        if y[idx].min() == y[idx].max():
            continue
        vals.append(auc(y[idx], s[idx]))
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return float(lo), float(hi)


# --------------------------------------------------------------------------- data
def augment(raw: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Light random affine on raw images [N,1,28,28] before preprocessing.

    Rotation +-10 deg, shift +-2 px, scale 0.95..1.05, border padding. No
    horizontal flip: chest X-rays have anatomical laterality (heart on the
    patient's left, side markers), so a mirrored film is not a plausible input
    and flipping would teach the model to ignore real left/right cues.
    """
    n = raw.shape[0]
    ang = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(10)
    scale = 0.95 + torch.rand(n, generator=gen) * 0.10
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * (2.0 * 2.0 / 28.0)  # 2 px in [-1,1] coords
    cos, sin = torch.cos(ang) / scale, torch.sin(ang) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(raw.shape), align_corners=False)
    return F.grid_sample(raw, grid, mode="bilinear", padding_mode="border", align_corners=False)


@torch.no_grad()
def logits_of(net: nn.Module, x: torch.Tensor, bs: int = 512) -> np.ndarray:
    net.eval()
    return torch.cat([net(x[i:i + bs]) for i in range(0, len(x), bs)]).squeeze(1).numpy()


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    lg = torch.tensor(logits, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.float64)
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(lg / log_t.exp(), yt)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.exp())


def nll(logits, y, t=1.0):
    return float(F.binary_cross_entropy_with_logits(torch.tensor(logits / t, dtype=torch.float64),
                                                    torch.tensor(y, dtype=torch.float64)))


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    h.update(path.read_bytes())
    return h.hexdigest()


def to_json(obj, indent=0) -> str:
    """json.dumps(indent=2), but scalar lists and the golden records stay on one line."""
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(obj, dict):
        if indent >= 2 or not obj:
            return json.dumps(obj)
        items = [f"{inner}{json.dumps(k)}: {to_json(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        if all(not isinstance(v, (dict, list)) for v in obj):
            return json.dumps(obj)
        return "[\n" + ",\n".join(inner + to_json(v, indent + 1) for v in obj) + "\n" + pad + "]"
    return json.dumps(obj)


def r(x, n=6):
    return float(round(float(x), n))


# --------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT,
                    help="package folder (relative paths resolve against the repo root)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    data_path = args.data if args.data.is_absolute() else (Path.cwd() / args.data)
    out_dir = args.out if args.out.is_absolute() else (REPO_ROOT / args.out)

    t0 = time.time()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(args.seed)

    d = np.load(data_path)
    raw_train = torch.tensor(d["train_images"], dtype=torch.float32)[:, None]  # raw 0..255, augmented per batch
    y_train = torch.tensor(d["train_labels"][:, 0], dtype=torch.float32)
    x_val, y_val = preprocess(d["val_images"]), d["val_labels"][:, 0].astype(np.int64)
    x_test, y_test = preprocess(d["test_images"]), d["test_labels"][:, 0].astype(np.int64)
    n_pos = float(y_train.sum())
    n_neg = float(len(y_train) - n_pos)
    print(f"train {len(y_train)} (pos {int(n_pos)}, neg {int(n_neg)}), val {len(y_val)}, test {len(y_test)}")

    net = SmallCNN()
    n_params = sum(p.numel() for p in net.parameters())
    print(f"SmallCNN: {n_params} parameters")
    # Class imbalance: pneumonia is the majority (~74 %), so pos_weight < 1
    # balances the two classes' total contribution to the loss.
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(n_neg / n_pos))
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    steps_per_epoch = math.ceil(len(y_train) / args.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch,
                                                pct_start=0.2)

    best_auc, best_epoch, best_state = -1.0, -1, None
    for epoch in range(1, args.epochs + 1):
        net.train()
        perm = torch.randperm(len(y_train), generator=gen)
        total = 0.0
        for i in range(0, len(perm), args.batch_size):
            idx = perm[i:i + args.batch_size]
            xb = preprocess(augment(raw_train[idx], gen))
            loss = loss_fn(net(xb).squeeze(1), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
        val_auc = auc(y_val, logits_of(net, x_val))
        mark = ""
        if val_auc > best_auc:  # model selection on validation AUC only
            best_auc, best_epoch = val_auc, epoch
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            mark = " *"
        print(f"epoch {epoch:3d}  loss {total / len(y_train):.4f}  val_auc {val_auc:.4f}  "
              f"({time.time() - t0:.0f}s){mark}", flush=True)

    net.load_state_dict(best_state)
    net.eval()
    print(f"best epoch {best_epoch}, val AUC {best_auc:.4f}")

    # Temperature scaling on validation logits.
    val_logits = logits_of(net, x_val)
    temperature = float(np.float32(fit_temperature(val_logits, y_val)))
    print(f"temperature {temperature:.4f}  val NLL {nll(val_logits, y_val):.4f} -> "
          f"{nll(val_logits, y_val, temperature):.4f}")

    model = CalibratedModel(net, temperature).eval()

    @torch.no_grad()
    def probs(x):
        return torch.cat([model(x[i:i + 512]) for i in range(0, len(x), 512)]).squeeze(1).numpy()

    p_val = probs(x_val)
    thr = youden_threshold(y_val, p_val)
    # High-sensitivity operating point: the largest threshold that still keeps
    # validation sensitivity >= 0.95, but never above the balanced threshold
    # (if the Youden point already reaches 0.95 sensitivity, raising the
    # threshold would make the "high sensitivity" point LESS sensitive).
    thr_hs = min(high_sensitivity_threshold(y_val, p_val, 0.95), thr)
    val_auc = auc(y_val, p_val)
    vse, vsp = sens_spec(y_val, p_val, thr)
    hse, hsp = sens_spec(y_val, p_val, thr_hs)
    print(f"val: AUC {val_auc:.4f}; Youden threshold {thr:.6f} sens {vse:.4f} spec {vsp:.4f}; "
          f"high-sens threshold {thr_hs:.6f} sens {hse:.4f} spec {hsp:.4f}")

    # Single final evaluation on the test split.
    p_test = probs(x_test)
    test_auc = auc(y_test, p_test)
    ci = bootstrap_auc_ci(y_test, p_test, n=1000, seed=args.seed)
    tse, tsp = sens_spec(y_test, p_test, thr)
    t_hse, t_hsp = sens_spec(y_test, p_test, thr_hs)
    print(f"test: AUC {test_auc:.4f} (95% CI {ci[0]:.4f}-{ci[1]:.4f}); at threshold {thr:.6f}: "
          f"sens {tse:.4f} spec {tsp:.4f}; at high-sens threshold {thr_hs:.6f}: sens {t_hse:.4f} spec {t_hsp:.4f}")

    # ONNX export with the temperature baked in.
    import onnx
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / "model.onnx"
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), str(onnx_path), opset_version=17,
                      input_names=["image"], output_names=["probability"],
                      dynamic_axes={"image": {0: "N"}, "probability": {0: "N"}},
                      do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL)
    m = onnx.load(str(onnx_path))
    onnx.checker.check_model(m, full_check=True)
    assert [i.name for i in m.graph.input] == ["image"], m.graph.input
    assert [o.name for o in m.graph.output] == ["probability"], m.graph.output
    print(f"ONNX: {onnx_path.stat().st_size} bytes, ops {sorted({n.op_type for n in m.graph.node})}")

    # Golden values: first 16 test images, torch float32 incl. temperature.
    golden_x = x_test[:16]
    with torch.no_grad():
        golden_p = model(golden_x).squeeze(1).numpy().astype(np.float32)
    # Verify the ONNX bytes compute the same thing (numpy interpreter of the
    # graph; onnx.reference is not available in onnx 1.12) on the whole test set.
    onnx_p = onnx_numpy.run(str(onnx_path), {"image": x_test.numpy()})["probability"]
    assert onnx_p.shape == (len(y_test), 1), onnx_p.shape
    max_diff = float(np.abs(onnx_p[:, 0] - p_test).max())
    print(f"ONNX (numpy interpreter) vs torch on {len(y_test)} test images: max |diff| {max_diff:.2e}")
    assert max_diff < 1e-5, max_diff

    manifest = {
        "schema": 1,
        "id": PACKAGE_ID,
        "version": "1.0.0",
        "description": "Paediatric chest X-ray pneumonia classifier (PneumoniaMNIST, 28 px). Not for clinical use.",
        "file": "model.onnx",
        "sha256": sha256(onnx_path),
        "applies_to": {"modalities": ["CR", "DX"]},
        "input": {"name": "image", "shape": [-1, 1, 28, 28], "dtype": "float32", "layout": "NCHW"},
        "preprocessing": {
            "photometric": "MONOCHROME2",
            "resize": {"width": 28, "height": 28, "method": "area"},
            "intensity": "minmax",
            "normalize": {"mean": [0.5], "std": [0.5]},
        },
        "outputs": [{"name": "probability", "kind": "probability", "labels": ["pneumonia"]}],
        "labels": [{"name": "pneumonia", "display": "Pneumonia", "threshold": r(thr),
                    "high_sensitivity_threshold": r(thr_hs)}],
        "calibration": {"method": "temperature", "temperature": r(temperature)},
        "training": {"data": "PneumoniaMNIST v2 (MedMNIST, CC BY 4.0)", "seed": args.seed,
                     "epochs": args.epochs, "script": "models/pneumonia/train.py"},
        "metrics": {"val_auc": r(val_auc, 4), "test_auc": r(test_auc, 4),
                    "test_auc_ci95": [r(ci[0], 4), r(ci[1], 4)],
                    "test_sensitivity": r(tse, 4), "test_specificity": r(tsp, 4), "threshold": r(thr)},
        "golden": [{"split": "test", "index": i, "label": int(y_test[i]), "probability": r(golden_p[i], 7)}
                   for i in range(16)],
    }
    # Rounding thresholds to 6 decimals must not change any validation decision.
    assert sens_spec(y_val, p_val, r(thr)) == (vse, vsp)
    assert sens_spec(y_val, p_val, r(thr_hs)) == (hse, hsp)
    (out_dir / "manifest.json").write_text(to_json(manifest) + "\n")
    print(f"wrote {out_dir / 'manifest.json'}")
    print(f"total time {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
