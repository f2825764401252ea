"""Data sources: MedMNIST npz files and the Kermany chest X-ray arrays, read in place.

Every loader returns raw uint8 images (no preprocessing) and labels already
mapped to the model's positive class (1 = the finding, 0 = not).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .paths import SHARED_DATA


@dataclass
class Split:
    images: np.ndarray          # uint8 [N, H, W]
    y: np.ndarray               # int64 [N], 1 = positive class
    index: np.ndarray           # int64 [N], row in the source file's split array


@dataclass
class Dataset:
    path: Path
    source: str                 # path relative to ../shared/data when it lies there
    sha256: str
    native_size: int
    train: Split
    val: Split
    test: Split
    val_note: str
    notes: list = field(default_factory=list)


def source_name(path: Path) -> str:
    try:
        return path.resolve().relative_to(SHARED_DATA.resolve()).as_posix()
    except ValueError:
        return path.name


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _patient(file_name: str) -> str:
    """Patient key of a Kermany file name: person123_bacteria_4.jpeg -> person123, IM-0001-0001 -> IM-0001."""
    m = re.match(r"^(person\d+)_", file_name) or re.match(r"^(.*IM-\d+)-", file_name)
    return m.group(1) if m else file_name


def _grouped_split(labels: np.ndarray, groups: list, fraction: float, seed: int):
    """Stratified, patient-grouped hold-out: whole patients go to validation until each class has
    `fraction` of its images there, so no patient (and none of the dataset's duplicate images,
    which share a patient) sits on both sides."""
    rng = np.random.default_rng(seed)
    val = np.zeros(len(labels), dtype=bool)
    for cls in (0, 1):
        members = {}
        for i in np.flatnonzero(labels == cls):
            members.setdefault(groups[i], []).append(i)
        keys = sorted(members)
        rng.shuffle(keys)
        target = fraction * sum(len(v) for v in members.values())
        taken = 0
        for k in keys:
            if taken >= target:
                break
            val[members[k]] = True
            taken += len(members[k])
    return ~val, val


def load(path: Path, positive_label: int, seed: int, val_fraction: float = 0.1) -> Dataset:
    """Loads `path`; `positive_label` is the raw label value that means "finding present"."""
    d = np.load(path)
    keys = set(d.files)
    need = {f"{s}_{k}" for s in ("train", "val", "test") for k in ("images", "labels")}
    if not need <= keys:
        raise SystemExit(f"{path}: expected arrays {sorted(need)}, found {sorted(keys)}")

    def split(name, rows=None):
        x = d[f"{name}_images"]
        raw = d[f"{name}_labels"].reshape(-1).astype(np.int64)
        if x.ndim != 3 or x.dtype != np.uint8 or x.shape[1] != x.shape[2]:
            raise SystemExit(f"{path}: {name}_images must be uint8 [N, S, S], is {x.dtype} {x.shape}")
        idx = np.arange(len(raw)) if rows is None else rows
        return x, (raw == positive_label).astype(np.int64), idx

    notes = []
    if "train_files" in keys:
        # Kermany: the official val split has 16 images, far too few to select a model, fit a
        # temperature or place thresholds, so validation is a patient-grouped 10 % of train+val.
        xt, yt, _ = split("train")
        xv, yv, _ = split("val")
        files = list(d["train_files"]) + list(d["val_files"])
        x = np.concatenate([xt, xv])
        y = np.concatenate([yt, yv])
        tr, va = _grouped_split(y, [_patient(str(f)) for f in files], val_fraction, seed)
        rows = np.arange(len(y))
        train = Split(x[tr], y[tr], rows[tr])
        val = Split(x[va], y[va], rows[va])
        val_note = (f"patient-grouped stratified {val_fraction:.0%} of official train+val "
                    f"(seed {seed}); indices count over train then val")
        notes.append("official val (16 images) pooled with train before the grouped split")
    else:
        xt, yt, it = split("train")
        xv, yv, iv = split("val")
        train, val = Split(xt, yt, it), Split(xv, yv, iv)
        val_note = "official val split"
    xs, ys, is_ = split("test")
    return Dataset(path=path, source=source_name(path), sha256=file_sha256(path), native_size=int(xs.shape[1]),
                   train=train, val=val, test=Split(xs, ys, is_), val_note=val_note, notes=notes)


def subset(split: Split, n: int, seed: int) -> Split:
    """Class-balanced random subset of at most n images (smoke runs)."""
    rng = np.random.default_rng(seed)
    picks = []
    for cls in (0, 1):
        idx = np.flatnonzero(split.y == cls)
        picks.append(rng.permutation(idx)[: n // 2])
    sel = np.sort(np.concatenate(picks))
    return Split(split.images[sel], split.y[sel], split.index[sel])
