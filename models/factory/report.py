"""Pictures for the model card, drawn with Pillow: reliability diagram and CAM overlays."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .metrics import reliability

def _font(size: int):
    """DejaVu Sans when the system has it (fonts-dejavu-core), else Pillow's small built-in bitmap font."""
    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",):
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


_FONT = _font(13)


def _jet(v: np.ndarray) -> np.ndarray:
    """Jet colour map for values in [0,1] -> uint8 RGB."""
    v = np.clip(v, 0.0, 1.0)
    r = np.clip(1.5 - np.abs(4 * v - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * v - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * v - 1), 0, 1)
    return (np.stack([r, g, b], -1) * 255).astype(np.uint8)


def reliability_png(path: Path, panels, bins: int = 10):
    """panels: list of (title, y, p_uncalibrated, p_calibrated, ece_before, ece_after)."""
    pw, ph, m = 360, 360, 50
    img = Image.new("RGB", (len(panels) * (pw + 2 * m), ph + 2 * m + 40), "white")
    d = ImageDraw.Draw(img)
    for k, (title, y, p_raw, p_cal, e0, e1) in enumerate(panels):
        ox, oy = k * (pw + 2 * m) + m, m

        def xy(px, py):
            return ox + px * pw, oy + (1 - py) * ph

        d.rectangle([ox, oy, ox + pw, oy + ph], outline="black")
        for t in range(0, 11, 2):
            x0, y0 = xy(t / 10, 0)
            d.line([x0, y0, x0, y0 + 4], fill="black")
            d.text((x0 - 8, y0 + 6), f"{t / 10:.1f}", fill="black", font=_FONT)
            x1, y1 = xy(0, t / 10)
            d.line([x1 - 4, y1, x1, y1], fill="black")
            d.text((x1 - 28, y1 - 5), f"{t / 10:.1f}", fill="black", font=_FONT)
        d.line([*xy(0, 0), *xy(1, 1)], fill=(160, 160, 160))
        for probs, colour in ((p_raw, (200, 90, 40)), (p_cal, (30, 90, 200))):
            pts = [(r[3], r[4], r[2]) for r in reliability(y, probs, bins) if r[2] > 0]
            coords = [xy(px, py) for px, py, _ in pts]
            if len(coords) > 1:
                d.line(coords, fill=colour, width=2)
            for (cx, cy), (_, _, n) in zip(coords, pts):
                rad = 2 + 2 * math.log10(1 + n)
                d.ellipse([cx - rad, cy - rad, cx + rad, cy + rad], outline=colour, width=2)
        d.text((ox, oy - 30), title, fill="black", font=_FONT)
        d.text((ox, oy - 16), f"ECE before {e0:.3f} (orange)  after {e1:.3f} (blue)", fill="black", font=_FONT)
        d.text((ox + pw / 2 - 60, oy + ph + 22), "mean predicted probability", fill="black", font=_FONT)
        d.text((ox - 45, oy + ph + 36), "y: observed positive rate; marker size ~ log(bin count)", fill="black",
               font=_FONT)
    img.save(path, optimize=True)


def cam_overlay_png(path: Path, tiles, size: int = 192):
    """tiles: list of (caption, image01 [H,W] in [0,1], cam [h,w] in [0,1]); each tile shows the model
    input and the CAM over it (bilinear upsampling, jet, alpha 0.45)."""
    cols = 2
    cell_w, cell_h = 2 * size + 12, size + 34
    rows = math.ceil(len(tiles) / cols)
    img = Image.new("RGB", (cols * cell_w + 10, rows * cell_h + 10), "white")
    d = ImageDraw.Draw(img)
    for k, (caption, im01, cam) in enumerate(tiles):
        x0, y0 = 10 + (k % cols) * cell_w, 10 + (k // cols) * cell_h
        gray = Image.fromarray((np.clip(im01, 0, 1) * 255).astype(np.uint8)).resize((size, size), Image.BILINEAR)
        heat = Image.fromarray((np.clip(cam, 0, 1) * 255).astype(np.uint8)).resize((size, size), Image.BILINEAR)
        heat_rgb = Image.fromarray(_jet(np.asarray(heat, dtype=np.float64) / 255.0))
        base = gray.convert("RGB")
        img.paste(base, (x0, y0 + 28))
        img.paste(Image.blend(base, heat_rgb, 0.45), (x0 + size + 4, y0 + 28))
        d.text((x0, y0 + 2), caption, fill="black", font=_FONT)
    img.save(path, optimize=True)


def mean_cam_png(path: Path, title: str, cam_mean: np.ndarray, image_mean: np.ndarray, size: int = 256):
    gray = Image.fromarray((np.clip(image_mean, 0, 1) * 255).astype(np.uint8)).resize((size, size), Image.BILINEAR)
    heat = Image.fromarray((np.clip(cam_mean / max(cam_mean.max(), 1e-6), 0, 1) * 255).astype(np.uint8))
    heat = heat.resize((size, size), Image.BILINEAR)
    heat_rgb = Image.fromarray(_jet(np.asarray(heat, dtype=np.float64) / 255.0))
    img = Image.new("RGB", (2 * size + 14, size + 30), "white")
    img.paste(gray.convert("RGB"), (5, 25))
    img.paste(Image.blend(gray.convert("RGB"), heat_rgb, 0.5), (size + 9, 25))
    ImageDraw.Draw(img).text((5, 5), title, fill="black", font=_FONT)
    img.save(path, optimize=True)
