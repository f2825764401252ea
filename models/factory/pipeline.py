"""The shared training -> calibration -> evaluation -> export -> package -> sign pipeline.

Order of use of the data (nothing later feeds back into anything earlier):
  train split: weights (augmented, class-weighted loss)
  validation:  checkpoint selection (AUC only), temperature, both thresholds
  test:        one evaluation at the end; its numbers go into the manifest and card, nothing else
"""
from __future__ import annotations

import json
import math
import platform
import shutil
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import data as data_mod
from . import metrics as M
from . import onnx_numpy, report, signing
from .nets import AUGMENTATIONS, CamNet, Exported, perturb_shift
from .paths import SHARED_DATA, repo_relative
from .preprocess import preprocess, spec as preprocessing_spec
from .recipes import Recipe

SMOKE_SIZES = {"train": 256, "val": 128, "test": 128}
MAX_ONNX_BYTES = 20 * 1024 * 1024


def log(msg: str):
    print(msg, flush=True)


@torch.no_grad()
def logits_of(net: nn.Module, x: torch.Tensor, bs: int = 256) -> np.ndarray:
    net.eval()
    return torch.cat([net(x[i:i + bs]) for i in range(0, len(x), bs)]).squeeze(1).numpy().astype(np.float64)


def ensemble_logits(nets, x: torch.Tensor, tta_flip: bool) -> np.ndarray:
    """Mean member logit, as the exported graph computes it (with the mirrored view when tta_flip)."""
    views = [x, torch.flip(x, dims=[3])] if tta_flip else [x]
    return np.mean([logits_of(n, v) for n in nets for v in views], axis=0)


@torch.no_grad()
def run_exported(model: Exported, x: torch.Tensor, bs: int = 256):
    model.eval()
    probs, cams = [], []
    for i in range(0, len(x), bs):
        p, c = model(x[i:i + bs])
        probs.append(p)
        cams.append(c)
    return torch.cat(probs).squeeze(1).numpy(), torch.cat(cams).numpy()


def fit_calibration(logits: np.ndarray, y: np.ndarray):
    """Temperature scaling with a bias: (T, b) minimising the validation NLL of sigmoid((logit + b) / T).

    The bias is there because the class-weighted loss shifts every logit by an amount that plain temperature
    scaling cannot undo (dividing by T keeps 0 at 0); with b = 0 this is plain temperature scaling. Two
    parameters, fitted with LBFGS on log T and b, from T = 1, b = 0. Returned as float32 values, as in the graph.
    """
    lg = torch.tensor(logits, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.float64)
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    bias = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t, bias], lr=0.1, max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits((lg + bias) / log_t.exp(), yt)
        loss.backward()
        return loss

    opt.step(closure)
    return float(np.float32(log_t.exp().item())), float(np.float32(bias.item()))


def nll(logits, y, t=1.0, b=0.0) -> float:
    return float(F.binary_cross_entropy_with_logits(torch.tensor((np.asarray(logits) + b) / t, dtype=torch.float64),
                                                    torch.tensor(y, dtype=torch.float64)))


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def train_member(recipe: Recipe, plan, raw_train, y_train, x_val, y_val, size, seed, epochs, t0):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    mix_rng = np.random.default_rng(seed + 1_000_003)  # mixup only; separate stream (see Recipe.mixup_alpha)
    net = CamNet(plan, recipe.dropout)
    augment = AUGMENTATIONS[recipe.family]
    n_pos = float(y_train.sum())
    n_neg = float(len(y_train) - n_pos)
    # Class imbalance: weight positives by n_neg / n_pos so both classes carry equal total loss.
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(n_neg / n_pos))
    opt = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    steps = math.ceil(len(y_train) / recipe.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=epochs * steps, pct_start=0.2)
    best = (-1.0, 0, None)
    history = []
    for epoch in range(1, epochs + 1):
        net.train()
        perm = torch.randperm(len(y_train), generator=gen)
        total = 0.0
        for i in range(0, len(perm), recipe.batch_size):
            idx = perm[i:i + recipe.batch_size]
            xb = preprocess(augment(raw_train[idx], gen), size)
            yb = y_train[idx]
            if recipe.label_smoothing > 0:
                yb = yb * (1 - recipe.label_smoothing) + recipe.label_smoothing / 2
            if recipe.mixup_alpha > 0:
                lam = float(mix_rng.beta(recipe.mixup_alpha, recipe.mixup_alpha))
                j = torch.from_numpy(mix_rng.permutation(len(idx)))
                xb = lam * xb + (1 - lam) * xb[j]
                yb = lam * yb + (1 - lam) * yb[j]
            loss = loss_fn(net(xb).squeeze(1), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
        val_auc = M.auc(y_val, logits_of(net, x_val))
        history.append(val_auc)
        mark = ""
        if val_auc > best[0]:  # model selection on validation AUC only (earliest best wins ties)
            best = (val_auc, epoch, {k: v.detach().clone() for k, v in net.state_dict().items()})
            mark = " *"
        log(f"  epoch {epoch:3d}  loss {total / len(y_train):.4f}  val_auc {val_auc:.4f}  ({time.time() - t0:.0f}s){mark}")
    net.load_state_dict(best[2])
    net.eval()
    return net, best[0], best[1], history


def pick_golden(prob: np.ndarray, threshold: float, n_spread: int = 12):
    """Test indices whose probabilities are not saturated, so the golden check is sensitive to preprocessing
    mistakes: n_spread evenly spaced targets over 0.05-0.95, plus two just below and two just above the balanced
    threshold (decisions there are the ones a small error would flip). Nearest image to each target, no repeats."""
    order = np.argsort(prob, kind="mergesort")
    near = [threshold - 0.04, threshold - 0.015, threshold + 0.015, threshold + 0.04]
    targets = list(np.linspace(0.05, 0.95, n_spread)) + [min(max(t, 0.02), 0.98) for t in near]
    chosen = []
    for target in targets:
        for i in order[np.argsort(np.abs(prob[order] - target), kind="mergesort")]:
            if int(i) not in chosen:
                chosen.append(int(i))
                break
    return sorted(chosen)


def measure_torch_latency(model: Exported, size: int, runs: int = 60) -> float:
    """Median ms per single image, one CPU thread, torch eager (ONNX Runtime is faster)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    x = torch.zeros(1, 1, size, size)
    times = []
    with torch.no_grad():
        for k in range(runs + 5):
            t = time.perf_counter()
            model(x)
            if k >= 5:
                times.append((time.perf_counter() - t) * 1000)
    torch.set_num_threads(threads)
    return statistics.median(times)


def to_json(obj, indent=0) -> str:
    """json.dumps(indent=2), but scalar lists and records below the second level stay on one line."""
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


def run(recipe: Recipe, data_path: Path, size: int, out_dir: Path, epochs: int, seed: int, threads: int,
        smoke: bool, members: int, bootstrap: int, validation_only: bool = False):
    t0 = time.time()
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.use_deterministic_algorithms(True)

    ds = data_mod.load(data_path, recipe.positive_label, seed)
    if smoke:
        ds.train = data_mod.subset(ds.train, SMOKE_SIZES["train"], seed)
        ds.val = data_mod.subset(ds.val, SMOKE_SIZES["val"], seed)
        ds.test = data_mod.subset(ds.test, SMOKE_SIZES["test"], seed)
    log(f"{recipe.id}: data {ds.source} (native {ds.native_size} px) -> model input {size} px; "
        f"train {len(ds.train.y)} (pos {int(ds.train.y.sum())}), val {len(ds.val.y)} (pos {int(ds.val.y.sum())}; "
        f"{ds.val_note}), test {len(ds.test.y)} (pos {int(ds.test.y.sum())}); load {time.time() - t0:.0f}s")

    raw_train = torch.tensor(ds.train.images, dtype=torch.float32)[:, None]
    y_train = torch.tensor(ds.train.y, dtype=torch.float32)
    x_val, y_val = preprocess(ds.val.images, size), ds.val.y
    x_test, y_test = preprocess(ds.test.images, size), ds.test.y
    plan = recipe.plan(size)

    nets, member_info = [], []
    t_train = time.time()
    for k in range(members):
        log(f"member {k + 1}/{members} (seed {seed + k}), plan {plan}")
        net, best_auc, best_epoch, _ = train_member(recipe, plan, raw_train, y_train, x_val, y_val, size, seed + k,
                                                 epochs, t0)
        log(f"  best epoch {best_epoch}, val AUC {best_auc:.4f}")
        nets.append(net)
        member_info.append({"seed": seed + k, "best_epoch": best_epoch, "val_auc": r(best_auc, 4)})
    train_seconds = time.time() - t_train
    n_params = sum(p.numel() for p in nets[0].parameters()) * len(nets)

    # ---- validation only: calibration and operating points
    val_logits = ensemble_logits(nets, x_val, recipe.tta_flip)
    cal_logits, cal_y, shift_levels = val_logits, y_val, []
    if recipe.calibration_shift_levels > 0:
        # Shift-aware calibration: pool clean validation with perturbed copies (severity 1..n), see Recipe.
        gen_cal = torch.Generator().manual_seed(seed)
        raw_val = torch.tensor(ds.val.images, dtype=torch.float32)[:, None]
        levels = recipe.calibration_shift_levels
        zs, ys = [val_logits], [y_val]
        for sev in range(1, levels + 1):
            z = ensemble_logits(nets, preprocess(perturb_shift(raw_val, gen_cal, sev, levels), size), recipe.tta_flip)
            shift_levels.append({"severity": sev, "val_auc": r(M.auc(y_val, z), 4), "mean_logit": r(z.mean(), 3)})
            zs.append(z)
            ys.append(y_val)
        cal_logits, cal_y = np.concatenate(zs), np.concatenate(ys)
        log("shift-aware calibration set: clean validation + " + ", ".join(
            f"severity {d['severity']} (AUC {d['val_auc']:.4f})" for d in shift_levels))
    temperature, cal_bias = fit_calibration(cal_logits, cal_y)
    p_val_raw, p_val = sigmoid(val_logits), sigmoid((val_logits + cal_bias) / temperature)
    val_auc = M.auc(y_val, p_val)
    thr = M.youden_threshold(y_val, p_val)
    thr_hs = M.high_sensitivity_threshold(y_val, p_val, recipe.high_sensitivity_target, cap=thr)
    # Thresholds are written with 6 decimals; that must not change any validation decision.
    thr, thr_hs = r(thr), r(thr_hs)
    vse, vsp = M.sens_spec(y_val, p_val, thr)
    hse, hsp = M.sens_spec(y_val, p_val, thr_hs)
    log(f"validation: AUC {val_auc:.4f}; T {temperature:.4f}, bias {cal_bias:+.4f} (NLL "
        f"{nll(val_logits, y_val):.4f} -> {nll(val_logits, y_val, temperature, cal_bias):.4f}; calibration set NLL "
        f"{nll(cal_logits, cal_y):.4f} -> {nll(cal_logits, cal_y, temperature, cal_bias):.4f}); ECE {M.ece(y_val, p_val_raw):.4f} -> {M.ece(y_val, p_val):.4f}; "
        f"balanced threshold {thr} (sens {vse:.3f} spec {vsp:.3f}); high-sensitivity {thr_hs} "
        f"(sens {hse:.3f} spec {hsp:.3f})")

    model = Exported(nets, temperature, cal_bias, recipe.tta_flip).eval()
    if validation_only:
        log(f"--validation-only: stopping before the test split ({time.time() - t0:.0f}s)")
        return None

    # ---- the single test evaluation
    test_logits = ensemble_logits(nets, x_test, recipe.tta_flip)
    p_test_raw, p_test = sigmoid(test_logits), sigmoid((test_logits + cal_bias) / temperature)
    test_auc = M.auc(y_test, p_test)
    ci = M.bootstrap_ci(y_test, p_test, {"balanced": thr, "high_sensitivity": thr_hs}, n=bootstrap, seed=seed)
    tse, tsp = M.sens_spec(y_test, p_test, thr)
    hts, htp = M.sens_spec(y_test, p_test, thr_hs)
    ece_test = (M.ece(y_test, p_test_raw), M.ece(y_test, p_test))
    log(f"test: AUC {test_auc:.4f} (95% CI {ci['auc'][0]:.4f}-{ci['auc'][1]:.4f}); ECE {ece_test[0]:.4f} -> "
        f"{ece_test[1]:.4f}; at {thr}: sens {tse:.4f} spec {tsp:.4f}; at {thr_hs}: sens {hts:.4f} spec {htp:.4f}")

    # ---- export
    import onnx
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    onnx_path = out_dir / "model.onnx"
    torch.onnx.export(model, torch.zeros(1, 1, size, size), str(onnx_path), opset_version=17,
                      input_names=["image"], output_names=["probability", "cam"],
                      dynamic_axes={"image": {0: "N"}, "probability": {0: "N"}, "cam": {0: "N"}},
                      do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL)
    m = onnx.load(str(onnx_path))
    onnx.checker.check_model(m, full_check=True)
    assert [i.name for i in m.graph.input] == ["image"], m.graph.input
    assert [o.name for o in m.graph.output] == ["probability", "cam"], m.graph.output
    onnx_bytes = onnx_path.stat().st_size
    assert onnx_bytes <= MAX_ONNX_BYTES, onnx_bytes
    ops = sorted({n.op_type for n in m.graph.node})
    log(f"ONNX: {onnx_bytes} bytes, opset 17, ops {ops}; onnx.checker (full_check) passed")

    # The ONNX bytes must compute what torch computes: numpy interpreter of the graph vs torch.
    p_torch, cam_torch = run_exported(model, x_test)
    n_check = min(len(x_test), 32 if smoke else 624 if size <= 48 else 96)
    onnx_out = onnx_numpy.run(str(onnx_path), {"image": x_test[:n_check].numpy()})
    cam_grid = tuple(onnx_out["cam"].shape[2:])
    dp = float(np.abs(onnx_out["probability"][:, 0] - p_torch[:n_check]).max())
    dc = float(np.abs(onnx_out["cam"] - cam_torch[:n_check]).max())
    log(f"ONNX (numpy interpreter) vs torch on {n_check} test images: max |dp| {dp:.2e}, max |dcam| {dc:.2e}; "
        f"cam grid {cam_grid}")
    assert dp < 1e-5 and dc < 1e-4, (dp, dc)
    assert np.abs(p_torch - p_test).max() < 1e-5

    # ---- golden inputs (test split of recipe.golden_data, or of the training data if it is absent)
    # The golden data must be a DEFLATE npz (MedMNIST): the C# tests read it with System.IO.Compression,
    # which cannot open the BZIP2 members of the Kermany files.
    golden_path = SHARED_DATA / recipe.golden_data
    if not golden_path.is_file():
        golden_path = data_path
    gd = np.load(golden_path)
    g_images = gd["test_images"]
    g_labels = (gd["test_labels"].reshape(-1) == recipe.positive_label).astype(int)
    if smoke:
        g_images, g_labels = g_images[:64], g_labels[:64]
    g_prob, _ = run_exported(model, preprocess(g_images, size))
    g_idx = pick_golden(g_prob, thr)
    golden = [{"split": "test", "index": i, "label": int(g_labels[i]), "probability": r(g_prob[i], 7),
               "data": data_mod.source_name(golden_path)} for i in g_idx]
    log(f"golden: {len(golden)} test images of {data_mod.source_name(golden_path)}, probabilities "
        f"{min(g_prob[g_idx]):.3f}-{max(g_prob[g_idx]):.3f}")

    latency = measure_torch_latency(model, size)
    log(f"torch eager CPU latency, 1 thread, batch 1: {latency:.2f} ms (median of 60)")

    # ---- pictures: calibration, CAM overlays, mean CAM over true positives
    report.reliability_png(out_dir / "calibration.png", [
        ("validation (T fitted here)", y_val, p_val_raw, p_val, M.ece(y_val, p_val_raw), M.ece(y_val, p_val)),
        ("test (held out)", y_test, p_test_raw, p_test, ece_test[0], ece_test[1]),
    ])
    img01 = (x_test.numpy()[:, 0] * 0.5 + 0.5)  # back from the normalisation to [0,1] for display
    pred = p_test >= thr
    tp = np.flatnonzero(pred & (y_test == 1))
    picks = []
    for group, name, key in ((tp, "TP", -p_test), (np.flatnonzero(pred & (y_test == 0)), "FP", -p_test),
                             (np.flatnonzero(~pred & (y_test == 1)), "FN", p_test),
                             (np.flatnonzero(~pred & (y_test == 0)), "TN", p_test)):
        ranked = group[np.argsort(key[group], kind="mergesort")]
        take = 3 if name == "TP" else 1
        if name == "TP" and len(ranked) > 3:  # most confident, median and least confident true positive
            ranked = ranked[[0, len(ranked) // 2, len(ranked) - 1]]
        picks += [(name, int(i)) for i in ranked[:take]]
    names = {"TP": "true positive", "FP": "false positive", "FN": "false negative", "TN": "true negative"}
    tiles = [(f"{names[name]}: test[{int(ds.test.index[i])}], label {int(y_test[i])}, p = {p_test[i]:.3f}",
              img01[i], cam_torch[i, 0]) for name, i in picks]
    report.cam_overlay_png(out_dir / "cam_examples.png", tiles)
    border = max(1, cam_grid[0] // 8)
    if len(tp):
        cam_tp = cam_torch[tp, 0]
        inner = cam_tp[:, border:-border, border:-border].sum()
        border_share = float(1 - inner / max(cam_tp.sum(), 1e-12))
        report.mean_cam_png(out_dir / "cam_mean_true_positives.png",
                            f"mean input and mean CAM over {len(tp)} true-positive test images", cam_tp.mean(0),
                            img01[tp].mean(0))
    else:
        border_share = float("nan")
    area_share = 1 - ((cam_grid[0] - 2 * border) * (cam_grid[1] - 2 * border)) / (cam_grid[0] * cam_grid[1])
    log(f"CAM: share of true-positive CAM mass in the outer {border} cell(s) of the {cam_grid} grid: "
        f"{border_share:.3f} (that band is {area_share:.3f} of the area)")

    # ---- manifest
    label = dict(recipe.label)
    label.update({"threshold": thr, "high_sensitivity_threshold": thr_hs})
    label = {k: label[k] for k in ("name", "display", "threshold", "high_sensitivity_threshold", "coding")}
    cli = f"/usr/bin/python3 models/train.py {recipe.id}"
    if smoke:
        cli += " --smoke"
    if threads != 2:  # the thread count changes the trained weights (float reduction order); 2 is the default
        cli += f" --threads {threads}"
    manifest = {
        "schema": 1,
        "id": recipe.id,
        "version": recipe.version,
        "description": recipe.description,
        "file": "model.onnx",
        "sha256": data_mod.file_sha256(onnx_path),
        "applies_to": recipe.applies_to,
        "input": {"name": "image", "shape": [-1, 1, size, size], "dtype": "float32", "layout": "NCHW"},
        "preprocessing": preprocessing_spec(size),
        "outputs": [
            {"name": "probability", "kind": "probability", "labels": [recipe.label["name"]]},
            {"name": "cam", "kind": "cam", "labels": [recipe.label["name"]], "shape": [-1, 1, *cam_grid],
             "normalization": "relu_max"},
        ],
        "labels": [label],
        "calibration": {"method": "temperature_with_bias", "temperature": r(temperature), "bias": r(cal_bias),
                        "formula": "probability = sigmoid((logit + bias) / temperature)",
                        "fitted_on": (f"validation + {recipe.calibration_shift_levels} acquisition-shift perturbed "
                                      "copies (severity 1..n, factory/nets.py perturb_shift)"
                                      if recipe.calibration_shift_levels else "validation"),
                        "in_graph": True},
        "training": {
            "data": recipe.data_title, "licence": recipe.licence, "source": ds.source, "source_sha256": ds.sha256,
            "validation": ds.val_note, "seed": seed, "epochs": epochs, "ensemble_members": members,
            "parameters": n_params, "script": "models/train.py", "command": cli + f" --size {size}",
            "smoke": smoke,
        },
        "metrics": {
            "val_auc": r(val_auc, 4), "test_auc": r(test_auc, 4),
            "test_auc_ci95": [r(ci["auc"][0], 4), r(ci["auc"][1], 4)],
            "test_sensitivity": r(tse, 4), "test_specificity": r(tsp, 4), "threshold": thr,
            "test_sensitivity_ci95": [r(v, 4) for v in ci["sensitivity@balanced"]],
            "test_specificity_ci95": [r(v, 4) for v in ci["specificity@balanced"]],
            "val_sensitivity": r(vse, 4), "val_specificity": r(vsp, 4),
            "high_sensitivity_threshold": thr_hs,
            "val_sensitivity_high_sensitivity": r(hse, 4), "val_specificity_high_sensitivity": r(hsp, 4),
            "test_sensitivity_high_sensitivity": r(hts, 4), "test_specificity_high_sensitivity": r(htp, 4),
            "val_ece_before": r(M.ece(y_val, p_val_raw), 4), "val_ece_after": r(M.ece(y_val, p_val), 4),
            "test_ece_before": r(ece_test[0], 4), "test_ece_after": r(ece_test[1], 4),
            "ece_bins": 10, "bootstrap_resamples": bootstrap,
            "n_val": int(len(y_val)), "n_test": int(len(y_test)),
        },
        "golden": golden,
    }
    assert M.sens_spec(y_val, p_val, label["threshold"]) == (vse, vsp)
    manifest_text = to_json(manifest) + "\n"
    (out_dir / "manifest.json").write_text(manifest_text)

    card = model_card(recipe, manifest, ds, size, member_info, temperature, cal_bias, val_logits, y_val, onnx_bytes, ops,
                      latency, train_seconds, time.time() - t0, threads, border_share, area_share, picks, cam_grid,
                      (dp, dc, n_check), shift_levels)
    (out_dir / "MODEL_CARD.md").write_text(card)

    key, key_desc, _ = signing.signing_key()
    fp = signing.sign_package(out_dir, key)
    log(f"signed manifest.json -> manifest.sig with {key_desc} (fingerprint {fp})")
    log(f"wrote {repo_relative(out_dir)}: {sorted(p.name for p in out_dir.iterdir())}; total {time.time() - t0:.0f}s")
    return manifest


def model_card(recipe, manifest, ds, size, member_info, temperature, cal_bias, val_logits, y_val, onnx_bytes, ops, latency,
               train_seconds, total_seconds, threads, border_share, area_share, picks, cam_grid, parity,
               shift_levels=()) -> str:
    mt = manifest["metrics"]
    lab = manifest["labels"][0]
    code = lab["coding"]
    smoke_banner = ("\n> **SMOKE BUILD** - trained for one epoch on a tiny subset to test the pipeline. "
                    "Its numbers mean nothing.\n" if manifest["training"]["smoke"] else "")
    members = ", ".join(f"seed {m['seed']}: epoch {m['best_epoch']} (val AUC {m['val_auc']})" for m in member_info)
    lines = [
        f"# Model card: {recipe.id} {recipe.version}",
        smoke_banner,
        "> **Not for clinical use.** Research/engineering demonstration trained on a public data set; "
        "not a medical device, not validated for diagnosis.",
        "",
        "## Intended use",
        "",
        recipe.intended_use,
        "",
        f"- Routing hints: modalities {', '.join(recipe.applies_to['modalities'])}; body parts "
        f"{', '.join(recipe.applies_to['body_parts'])}; SOP classes {', '.join(recipe.applies_to['sop_classes'])}.",
        f"- Output `probability`: calibrated probability of **{lab['display']}** (SNOMED CT {code['code']} "
        f"\"{code['display']}\"); positive iff probability >= threshold.",
        f"- Output `cam`: class activation map {list(cam_grid)} per image in [0, 1] (ReLU of the classifier-weighted "
        "last conv features, divided by the image's maximum). It shows where the evidence *for* the finding is; "
        "on images with a low probability it is normalised noise and should not be shown.",
        "",
        "## Data",
        "",
        f"- {recipe.data_title}. Licence {recipe.licence}. Cite: {recipe.citation}.",
        f"- File `../shared/data/{ds.source}` (sha256 `{ds.sha256[:16]}...`), read in place, native {ds.native_size} px, "
        f"model input {size} px via the preprocessing contract (area resize, per-image min-max, (x-0.5)/0.5).",
        f"- Train {len(ds.train.y)} images ({int(ds.train.y.sum())} positive); validation {len(ds.val.y)} "
        f"({int(ds.val.y.sum())} positive; {ds.val_note}); test {len(ds.test.y)} ({int(ds.test.y.sum())} positive, "
        "official test split, used once).",
        "",
        "## Training",
        "",
        f"- `{manifest['training']['command']}` (seed {manifest['training']['seed']}, {manifest['training']['epochs']} "
        f"epochs, {threads} threads, deterministic algorithms).",
        f"- CNN plan {recipe.plan(size)} + global average pooling + dropout {recipe.dropout} + linear; "
        f"{len(member_info)} member(s), {manifest['training']['parameters']} parameters in all. AdamW lr {recipe.lr}, "
        f"weight decay {recipe.weight_decay}, one-cycle schedule, batch {recipe.batch_size}.",
        f"- Augmentation ({recipe.family}): see `models/factory/nets.py` (`augment_{recipe.family}`).",
        "- Class imbalance: `BCEWithLogitsLoss(pos_weight = n_negative / n_positive)`.",
        f"- Checkpoint per member chosen on validation AUC only: {members}.",
        f"- Calibration, inside the ONNX graph: probability = sigmoid((logit + b) / T), T = {temperature:.4f}, "
        f"b = {cal_bias:+.4f}, both fitted on validation NLL ({nll(val_logits, y_val):.4f} -> "
        f"{nll(val_logits, y_val, temperature, cal_bias):.4f}"
        f"{' on clean validation' if recipe.calibration_shift_levels else ''}). Temperature scaling plus a bias, "
        "because the class-weighted loss shifts the logits, which dividing by T alone cannot undo."
        + (f" Shift-aware: fitted on clean validation pooled with {recipe.calibration_shift_levels} perturbed copies "
           "of it (acquisition-shift severity levels: gamma, blur, noise, rotation/scale/shift; "
           "`perturb_shift` in models/factory/nets.py; Tomani et al. 2021), so that the probabilities stay honest "
           "on films that look less like the training site's; validation AUC per level: "
           + ", ".join(f"{d['severity']}: {d['val_auc']:.4f}" for d in shift_levels) + "."
           if recipe.calibration_shift_levels else ""),
        f"- Thresholds from validation: balanced (Youden J) {lab['threshold']}; high-sensitivity "
        f"{lab['high_sensitivity_threshold']} (largest threshold with validation sensitivity >= "
        f"{recipe.high_sensitivity_target}, capped at the balanced one).",
        f"- Wall clock on this machine: training {train_seconds:.0f} s, whole pipeline {total_seconds:.0f} s "
        f"({platform.machine()}, {threads} threads).",
        "",
        "## Metrics",
        "",
        "| | validation | test |",
        "|---|---|---|",
        f"| AUC | {mt['val_auc']:.4f} | **{mt['test_auc']:.4f}** (95 % CI {mt['test_auc_ci95'][0]:.4f}-{mt['test_auc_ci95'][1]:.4f}) |",
        f"| sensitivity @ balanced {lab['threshold']} | {mt['val_sensitivity']:.4f} | {mt['test_sensitivity']:.4f} "
        f"({mt['test_sensitivity_ci95'][0]:.4f}-{mt['test_sensitivity_ci95'][1]:.4f}) |",
        f"| specificity @ balanced | {mt['val_specificity']:.4f} | {mt['test_specificity']:.4f} "
        f"({mt['test_specificity_ci95'][0]:.4f}-{mt['test_specificity_ci95'][1]:.4f}) |",
        f"| sensitivity @ high-sensitivity {lab['high_sensitivity_threshold']} | "
        f"{mt['val_sensitivity_high_sensitivity']:.4f} | {mt['test_sensitivity_high_sensitivity']:.4f} |",
        f"| specificity @ high-sensitivity | {mt['val_specificity_high_sensitivity']:.4f} | "
        f"{mt['test_specificity_high_sensitivity']:.4f} |",
        f"| ECE (10 bins) before -> after calibration | {mt['val_ece_before']:.4f} -> {mt['val_ece_after']:.4f} | "
        f"{mt['test_ece_before']:.4f} -> {mt['test_ece_after']:.4f} |",
        "",
        f"CIs: percentile bootstrap, {mt['bootstrap_resamples']} resamples of the test cases (seeded).",
        "",
        "![calibration](calibration.png)",
        "",
        "## Heat maps (CAM)",
        "",
        "Test images (left: model input; right: CAM overlay). TP/FP/FN/TN at the balanced threshold.",
        "",
        "![CAM examples](cam_examples.png)",
        "",
        f"Mean CAM over true positives: share of CAM mass in the outer band of the {list(cam_grid)} grid "
        f"(one eighth of each side) = {border_share:.3f}, while that band is {area_share:.3f} of the image area.",
        "",
        "![mean CAM](cam_mean_true_positives.png)",
        "",
        "## Package",
        "",
        f"- `model.onnx`: {onnx_bytes} bytes, opset 17, input `image` [N,1,{size},{size}], outputs `probability` "
        f"[N,1] and `cam` [N,1,{cam_grid[0]},{cam_grid[1]}]; ops {', '.join(ops)}; passes "
        "`onnx.checker.check_model(full_check=True)`.",
        f"- ONNX vs torch (numpy interpreter of the graph, {parity[2]} test images): max |dp| {parity[0]:.1e}, "
        f"max |dcam| {parity[1]:.1e}.",
        f"- Latency: {latency:.2f} ms per image, torch eager, 1 CPU thread (ONNX Runtime in the appliance is "
        "faster; see models/README.md).",
        f"- `manifest.json` signed (`manifest.sig`, ECDSA P-256 / SHA-256); golden set: {len(manifest['golden'])} "
        f"test images of `{manifest['golden'][0]['data']}`: 12 with probabilities spread over 0.05-0.95 and 4 within "
        "0.04 of the balanced threshold (nearest available images).",
        "",
        "## Failure modes and limits",
        "",
        *[f"- {f}" for f in recipe.failure_modes],
        "",
        *review_section(recipe, manifest["training"]["smoke"]),
    ]
    return "\n".join(lines)


def review_section(recipe: Recipe, smoke: bool) -> list:
    if smoke or not recipe.review_notes:
        return []
    return ["## Reviewed by eye (shipped build, seed 42)", "", *[f"- {n}" for n in recipe.review_notes], ""]
