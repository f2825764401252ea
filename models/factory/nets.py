"""Small CNNs with global average pooling (so a class activation map falls out of the classifier
weights), the exported two-output graph, and modality-specific augmentation."""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class CamNet(nn.Module):
    """Conv-BN-ReLU stack, global average pool, dropout, one logit.

    `plan` items: an int c = 3x3 conv to c channels (stride 1), ("s", c) = 3x3 conv with stride 2,
    "M" = 2x2 max pool. The last conv's feature map is the CAM's resolution.
    """

    def __init__(self, plan, dropout: float):
        super().__init__()
        layers, cin = [], 1
        for item in plan:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
                continue
            stride, cout = (2, item[1]) if isinstance(item, tuple) else (1, item)
            layers += [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout),
                       nn.ReLU(inplace=True)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, 1)

    def forward(self, x):
        return self.fc(self.dropout(torch.flatten(self.pool(self.features(x)), 1)))

    def logit_and_cam(self, x):
        """Logit [N,1] and the un-normalised CAM [N,1,h,w] = sum_c w_c * F_c (its spatial mean + bias = logit)."""
        f = self.features(x)
        logit = self.fc(torch.flatten(self.pool(f), 1))
        cam = F.conv2d(f, self.fc.weight[:, :, None, None])
        return logit, cam


class Exported(nn.Module):
    """What goes into model.onnx.

    probability [N,1] = sigmoid((mean member logit + b) / T)  (calibrated on validation)
    cam         [N,1,h,w] = ReLU(mean member CAM), divided by its per-image maximum (+1e-6) -> [0,1]
    Averaging CAMs of the members is the CAM of the averaged logit, because both are linear in the
    member features.

    With `tta_flip`, every member also sees the left-right mirror of the image and logit and CAM are the means
    over both views (the mirrored view's CAM is mirrored back first), so test-time augmentation lives in the
    graph and the appliance code stays the same.
    """

    def __init__(self, members, temperature: float, bias: float, tta_flip: bool = False):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.tta_flip = tta_flip
        self.register_buffer("temperature", torch.tensor(temperature, dtype=torch.float32))
        self.register_buffer("bias", torch.tensor(bias, dtype=torch.float32))

    def forward(self, image):
        outs = [m.logit_and_cam(image) for m in self.members]
        if self.tta_flip:
            mirrored = torch.flip(image, dims=[3])
            for m in self.members:
                logit, cam = m.logit_and_cam(mirrored)
                outs.append((logit, torch.flip(cam, dims=[3])))
        if len(outs) == 1:
            logit, cam = outs[0]
        else:
            logit = torch.stack([o[0] for o in outs]).mean(0)
            cam = torch.stack([o[1] for o in outs]).mean(0)
        probability = torch.sigmoid((logit + self.bias) / self.temperature)
        cam = F.relu(cam)
        cam = cam / (torch.amax(cam, dim=(2, 3), keepdim=True) + 1e-6)
        return probability, cam


def _affine(x, gen, degrees, scale, shift_frac, flip_h: bool):
    n = x.shape[0]
    ang = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(degrees)
    s = scale[0] + torch.rand(n, generator=gen) * (scale[1] - scale[0])
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * (2.0 * shift_frac)  # fraction of size in [-1,1] coords
    flip = torch.ones(n)
    if flip_h:
        flip = torch.where(torch.rand(n, generator=gen) < 0.5, -torch.ones(n), torch.ones(n))
    cos, sin = torch.cos(ang) / s, torch.sin(ang) / s
    theta = torch.stack([torch.stack([cos * flip, -sin, shift[:, 0]], 1),
                         torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _gamma(x, gen, lo, hi):
    """Random gamma on raw 0..255 values: changes contrast/brightness the way exposure or gain does,
    which per-image min-max normalisation does not undo."""
    n = x.shape[0]
    g = torch.exp(math.log(lo) + torch.rand(n, 1, 1, 1, generator=gen) * (math.log(hi) - math.log(lo)))
    return (x.clamp(0, 255) / 255.0) ** g * 255.0


def augment_cxr(x, gen):
    """Chest radiographs: rotation +-10 deg, scale 0.9-1.1, shift +-6 %, gamma 0.8-1.25.

    No horizontal flip: films have anatomical laterality (heart on the patient's left, side markers),
    so a mirrored film is not a plausible input.
    """
    return _gamma(_affine(x, gen, 10, (0.9, 1.1), 0.06, flip_h=False), gen, 0.8, 1.25)


def augment_us(x, gen):
    """Breast ultrasound: left-right flip (probe orientation is arbitrary across the lesion),
    rotation +-10 deg, scale 0.9-1.1, shift +-7 %, gamma 0.7-1.4 (gain/TGC settings vary).

    No vertical flip: depth runs top to bottom, and posterior acoustic shadowing (below a lesion) is
    itself a malignancy cue that an upside-down image would contradict.
    """
    return _gamma(_affine(x, gen, 10, (0.9, 1.1), 0.07, flip_h=True), gen, 0.7, 1.4)


AUGMENTATIONS = {"cxr": augment_cxr, "us": augment_us}


def _blur(x, gen, max_sigma):
    """Per-image Gaussian blur, sigma ~ U(0, max_sigma) px (detector resolution, motion, resampling)."""
    if max_sigma <= 0:
        return x
    sig = torch.rand(x.shape[0], generator=gen) * max_sigma
    r = max(1, int(math.ceil(3 * max_sigma)))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    out = torch.empty_like(x)
    for i in range(x.shape[0]):
        if sig[i] < 0.1:
            out[i] = x[i]
            continue
        k = torch.exp(-0.5 * (t / sig[i]) ** 2)
        k = k / k.sum()
        xi = F.pad(x[i:i + 1], (r, r, r, r), mode="replicate")
        xi = F.conv2d(xi, k.view(1, 1, 1, -1))
        out[i] = F.conv2d(xi, k.view(1, 1, -1, 1))[0]
    return out


def perturb_shift(x, gen, severity: int, levels: int = 5):
    """Acquisition-shift perturbation of raw 0..255 images for shift-aware calibration (not for training).

    Severity 1..levels scales, linearly, the ranges of what differs between sites, devices and exposure
    settings: gamma log-uniform in [e^-0.7, e^0.7] (0.50-2.01) at the top level, Gaussian blur sigma up to
    1.5 px, additive Gaussian noise sd up to 6 % of full scale, rotation up to +-15 deg, scale 0.85-1.15,
    shift up to +-10 %. No flip. Fixed a priori (ImageNet-C-style levels), never tuned on test data.
    """
    f = severity / levels
    n = x.shape[0]
    x = _affine(x, gen, 15 * f, (1 - 0.15 * f, 1 + 0.15 * f), 0.10 * f, flip_h=False)
    x = _blur(x, gen, 1.5 * f)
    g = torch.exp((torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1) * 0.7 * f)
    x = (x.clamp(0, 255) / 255.0) ** g * 255.0
    sd = torch.rand(n, 1, 1, 1, generator=gen) * 0.06 * f * 255.0
    x = x + sd * torch.randn(x.shape, generator=gen)
    return x.clamp(0, 255)
