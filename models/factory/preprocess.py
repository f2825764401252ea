"""Preprocessing contract shared by every model package.

This module is the single source of truth for how a pixel array becomes a model
input. Training, validation, test evaluation, the golden values and the CAM
pictures all go through `preprocess()`. The C# appliance
(edge/MedVision.Edge/Inference/Preprocessor.cs) reimplements exactly these
steps, in this order, in float32, driven by the manifest's `preprocessing`:

  1. Input: one image as float32 H x W, MONOCHROME2 orientation (high value =
     bright). Raw stored pixel values are fine: step 3 removes any positive
     linear scaling. MONOCHROME1 images must be inverted before this step.
  2. Resize to S x S (S = the model's input size) by area averaging, i.e.
     PyTorch `F.interpolate(mode="area")` = adaptive average pooling:
       output row i averages input rows [floor(i * H / S), ceil((i + 1) * H / S))
     and likewise for columns with W. Identity when the input is already S x S;
     it also works upwards (a 28 px image fed to a 128 px model).
  3. Per-image min-max: x = (x - min) / (max - min) over the resized image;
     all zeros if max == min.
  4. Normalise: x = (x - mean) / std (every package here: mean 0.5, std 0.5).
  5. Float32 tensor [N, 1, S, S] (NCHW).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

MEAN = 0.5
STD = 0.5


def as_batch(images) -> torch.Tensor:
    """[H,W], [N,H,W] or [N,1,H,W] (numpy or torch, any dtype) -> float32 [N,1,H,W]."""
    x = images if torch.is_tensor(images) else torch.as_tensor(np.asarray(images))
    x = x.to(torch.float32)
    if x.dim() == 2:
        x = x[None, None]
    elif x.dim() == 3:
        x = x[:, None]
    elif x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"expected [H,W], [N,H,W] or [N,1,H,W], got {tuple(x.shape)}")
    return x


def preprocess(images, size: int, mean: float = MEAN, std: float = STD) -> torch.Tensor:
    """Apply the contract; returns a contiguous float32 tensor [N, 1, size, size]."""
    x = as_batch(images)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="area")
    mn = x.amin(dim=(2, 3), keepdim=True)
    mx = x.amax(dim=(2, 3), keepdim=True)
    rng = mx - mn
    flat = rng == 0
    x = torch.where(flat, torch.zeros_like(x), (x - mn) / torch.where(flat, torch.ones_like(rng), rng))
    return ((x - mean) / std).contiguous()


def spec(size: int) -> dict:
    """The manifest's `preprocessing` object for this contract."""
    return {
        "photometric": "MONOCHROME2",
        "resize": {"width": size, "height": size, "method": "area"},
        "intensity": "minmax",
        "normalize": {"mean": [MEAN], "std": [STD]},
    }
