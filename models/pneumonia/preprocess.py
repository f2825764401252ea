"""Preprocessing contract for the pneumonia-cxr model package.

This module is the single source of truth for how a pixel array becomes a model
input. Training, validation, test evaluation and the golden values in the
package manifest all go through `preprocess()`. The C# appliance reimplements
exactly these steps, in this order, in float32:

  1. Input: one image as float32 H x W, MONOCHROME2 orientation (high value =
     bright). Raw stored pixel values are fine: step 3 removes any positive
     linear scaling (e.g. uint8 0..255, 12-bit, or Modality LUT slope/intercept
     with slope > 0). MONOCHROME1 images must be inverted before this step.
  2. Resize to 28 x 28 by area averaging, i.e. PyTorch
     `F.interpolate(mode="area")`, which is adaptive average pooling:
       output row i (0..27) averages input rows
         [floor(i * H / 28), ceil((i + 1) * H / 28))
       and likewise for columns with W; each output pixel is the plain mean of
       the input pixels in that row-range x column-range box.
     For a 28 x 28 input this is the identity (no change to any value).
  3. Per-image min-max scaling: x = (x - min) / (max - min), with min and max
     taken over the 28 x 28 resized image; if max == min the image becomes all
     zeros.
  4. Normalise: x = (x - 0.5) / 0.5   (mean 0.5, std 0.5), range [-1, 1].
  5. Lay out as a float32 tensor of shape [N, 1, 28, 28] (NCHW).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

SIZE = 28
MEAN = 0.5
STD = 0.5


def preprocess(images) -> torch.Tensor:
    """Apply the preprocessing contract.

    `images` may be a numpy array or torch tensor of shape [H, W], [N, H, W] or
    [N, 1, H, W] (any numeric dtype; it is converted to float32 first).
    Returns a float32 torch tensor of shape [N, 1, 28, 28].
    """
    x = torch.as_tensor(np.asarray(images) if not torch.is_tensor(images) else images)
    x = x.to(torch.float32)
    if x.dim() == 2:
        x = x[None, None]
    elif x.dim() == 3:
        x = x[:, None]
    elif x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"expected [H,W], [N,H,W] or [N,1,H,W], got {tuple(x.shape)}")

    # 2. area resize (adaptive average pooling); identity for 28x28 inputs.
    if x.shape[-2:] != (SIZE, SIZE):
        x = F.interpolate(x, size=(SIZE, SIZE), mode="area")

    # 3. per-image min-max to [0, 1]; constant images -> all zeros.
    mn = x.amin(dim=(2, 3), keepdim=True)
    mx = x.amax(dim=(2, 3), keepdim=True)
    rng = mx - mn
    flat = rng == 0
    x = torch.where(flat, torch.zeros_like(x), (x - mn) / torch.where(flat, torch.ones_like(rng), rng))

    # 4. normalise with mean 0.5, std 0.5.
    x = (x - MEAN) / STD
    return x.contiguous()
