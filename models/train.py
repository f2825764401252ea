#!/usr/bin/env python3
"""Train, calibrate, evaluate, export, package and sign one MedVision model.

    /usr/bin/python3 models/train.py cxr-pneumonia              # ships models/packages/cxr-pneumonia
    /usr/bin/python3 models/train.py us-breast-lesion           # ships models/packages/us-breast-lesion
    /usr/bin/python3 models/train.py cxr-pneumonia --data medmnist/pneumoniamnist.npz --size 28 --out /tmp/p28
    /usr/bin/python3 models/train.py us-breast-lesion --smoke --out /tmp/smoke/us-breast-lesion

Needs Debian's python3 with python3-torch, python3-onnx, python3-numpy, python3-cryptography and
python3-pil (the pyenv `python3` on PATH has no torch). Seeded and deterministic: the same command on
the same machine gives the same model.onnx and manifest.json. Signing key: $MEDVISION_MODEL_SIGNING_KEY
(PEM, ECDSA P-256), else the committed development key (with a warning).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# OpenMP threads that spin while waiting burn the shared cores they wait for: on a busy 2-core build box the
# default (active) policy made training 7x slower. Passive waiting changes no result, only the waiting.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from factory import pipeline  # noqa: E402
from factory.paths import PACKAGES_DIR, REPO_ROOT, SHARED_DATA  # noqa: E402
from factory.recipes import RECIPES  # noqa: E402


def resolve_data(value: str | None, default: str) -> Path:
    """--data: an existing path (absolute or from the working folder), else relative to ../shared/data."""
    if value is None:
        return SHARED_DATA / default
    p = Path(value)
    if p.is_absolute() or p.exists():
        return p.resolve()
    return SHARED_DATA / value


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", choices=sorted(RECIPES), help="model id (recipe in models/factory/recipes.py)")
    ap.add_argument("--data", help="npz data source; relative names resolve against ../shared/data "
                                   "(default: the recipe's)")
    ap.add_argument("--size", type=int, help="model input size in px (default: the recipe's)")
    ap.add_argument("--out", type=Path, help="package folder (default models/packages/<id>; relative paths "
                                             "resolve against the repository root); replaced if it exists")
    ap.add_argument("--epochs", type=int, help="epochs per member (default: the recipe's; 1 with --smoke)")
    ap.add_argument("--members", type=int, help="ensemble members (default: the recipe's; 1 with --smoke)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bootstrap", type=int, help="bootstrap resamples for CIs (default 2000; 200 with --smoke)")
    ap.add_argument("--smoke", action="store_true",
                    help="CI smoke run: tiny class-balanced subsets, 1 epoch, 1 member; full export/package/sign")
    ap.add_argument("--validation-only", action="store_true",
                    help="development: train and report validation metrics, never touch the test split, write nothing")
    args = ap.parse_args(argv)

    recipe = RECIPES[args.model]
    data_path = resolve_data(args.data, recipe.default_data)
    if not data_path.is_file():
        ap.error(f"data file {data_path} not found (the provided data folder ../shared must sit beside the repo)")
    if args.out is None and args.smoke:
        ap.error("--smoke needs --out (a smoke package must never replace a shipped one)")
    out = args.out if args.out is not None else PACKAGES_DIR / recipe.id
    out = out if out.is_absolute() else (REPO_ROOT / out)
    size = args.size or recipe.default_size
    if size < 16 or size > 512:
        ap.error("--size must be 16-512")
    epochs = args.epochs or (1 if args.smoke else recipe.epochs)
    members = args.members or (1 if args.smoke else recipe.members)
    bootstrap = args.bootstrap or (200 if args.smoke else 2000)
    pipeline.run(recipe, data_path, size, out, epochs, args.seed, args.threads, args.smoke, members, bootstrap,
                 args.validation_only)


if __name__ == "__main__":
    main()
