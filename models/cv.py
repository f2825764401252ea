#!/usr/bin/env python3
"""Recipe selection by k-fold cross-validation on train+val only (the test split is never loaded).

    /usr/bin/python3 models/cv.py us-breast-lesion --set plan=32,32,M,64,64,M,128,128 --set dropout=0.5

Pools the recipe's train and validation splits, makes stratified folds (seeded), trains one member per fold
with the recipe (plus --set overrides), and reports the held-out AUC at the last epoch (free of checkpoint
selection) and at the best epoch, per fold and pooled. Use it to compare recipe variants; the chosen variant
then goes into factory/recipes.py and is trained and tested once by train.py.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from factory import data as data_mod  # noqa: E402
from factory import metrics as M  # noqa: E402
from factory.paths import SHARED_DATA  # noqa: E402
from factory.pipeline import logits_of, train_member  # noqa: E402
from factory.preprocess import preprocess  # noqa: E402
from factory.recipes import RECIPES  # noqa: E402


def parse_value(v: str):
    if "," in v:
        return [x if x == "M" else int(x) for x in v.split(",")]
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", choices=sorted(RECIPES))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], help="recipe override key=value (plan=a,b,M,c)")
    ap.add_argument("--members", type=int, default=1,
                    help="seed-ensemble members per fold (seeds seed..seed+m-1, as train.py); the fold's ensemble "
                         "AUC (mean logit of the best-epoch members, with and without flip TTA) is reported too")
    args = ap.parse_args()
    recipe = RECIPES[args.model]
    plan_override = None
    changes = {}
    for kv in args.set:
        k, v = kv.split("=", 1)
        if k == "plan":
            plan_override = parse_value(v)
        else:
            changes[k] = parse_value(v)
    recipe = dataclasses.replace(recipe, **changes)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    ds = data_mod.load(SHARED_DATA / recipe.default_data, recipe.positive_label, args.seed)
    x = np.concatenate([ds.train.images, ds.val.images])
    y = np.concatenate([ds.train.y, ds.val.y])
    size = recipe.default_size
    plan = plan_override or recipe.plan(size)
    rng = np.random.default_rng(args.seed)
    fold = np.empty(len(y), dtype=int)
    for cls in (0, 1):
        idx = rng.permutation(np.flatnonzero(y == cls))
        fold[idx] = np.arange(len(idx)) % args.folds
    t0 = time.time()
    last, best, tta, ens, ens_tta, prefix_tta = [], [], [], [], [], []
    for k in range(args.folds):
        tr, va = fold != k, fold == k
        raw = torch.tensor(x[tr], dtype=torch.float32)[:, None]
        xv = preprocess(x[va], size)
        plain, mirrored = [], []
        for m in range(args.members):
            net, best_auc, _, hist = train_member(recipe, plan, raw, torch.tensor(y[tr], dtype=torch.float32),
                                                  xv, y[va], size, args.seed + m, recipe.epochs, t0)
            plain.append(logits_of(net, xv))
            mirrored.append(logits_of(net, torch.flip(xv, dims=[3])))
            if m == 0:
                last.append(hist[-1])
                best.append(best_auc)
                # Test-time augmentation candidate: mean logit of the image and its left-right mirror, on the
                # same (best-epoch) network, so the difference to `best` is the TTA alone.
                tta.append(M.auc(y[va], (plain[0] + mirrored[0]) / 2))
        ens.append(M.auc(y[va], np.mean(plain, axis=0)))
        ens_tta.append(M.auc(y[va], (np.mean(plain, axis=0) + np.mean(mirrored, axis=0)) / 2))
        # Every smaller ensemble is a prefix (seeds seed..seed+j-1), so one run also gives them.
        prefix_tta.append([M.auc(y[va], (np.mean(plain[:j], axis=0) + np.mean(mirrored[:j], axis=0)) / 2)
                           for j in range(1, args.members + 1)])
        extra = (f"; {args.members}-member ensemble {ens[-1]:.4f}, + flip TTA {ens_tta[-1]:.4f}; flip-TTA AUC by "
                 f"ensemble size 1..{args.members}: {' '.join(f'{a:.4f}' for a in prefix_tta[-1])}"
                 if args.members > 1 else "")
        print(f"fold {k}: last-epoch AUC {last[-1]:.4f}, best {best[-1]:.4f}, best + flip TTA {tta[-1]:.4f}{extra} "
              f"({time.time() - t0:.0f}s)", flush=True)
    extra = (f"; {args.members}-member ensemble {np.mean(ens):.4f}, + flip TTA {np.mean(ens_tta):.4f} "
             f"(sd {np.std(ens_tta):.4f}); flip-TTA AUC mean by ensemble size 1..{args.members}: "
             f"{' '.join(f'{a:.4f}' for a in np.mean(prefix_tta, axis=0))}" if args.members > 1 else "")
    print(f"RESULT {args.model} {' '.join(args.set) or '(recipe)'}: last-epoch AUC mean {np.mean(last):.4f} "
          f"(sd {np.std(last):.4f}); best-epoch mean {np.mean(best):.4f}; with flip TTA {np.mean(tta):.4f}{extra}; "
          f"{time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
