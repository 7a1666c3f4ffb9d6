"""Pillow's BICUBIC resize of a uint8 image, redone with tensors so that it can live in a graph.

``poseshift.letterbox.fit_to_frame`` letterboxes photos with ``PIL.Image.resize(..., BICUBIC)``. Its
result is reproduced exactly here: per axis, Pillow's weights (bicubic kernel a = -0.5, support 2
widened by the reduction factor, normalised, then fixed point with 22 fractional bits) form a
float64 matrix, and each pass is rounded to uint8 (half up, clipped) as Pillow rounds it. float64
holds every product of a pixel and a weight exactly. Which pass Pillow runs first has changed
between its versions; :func:`pillow_order` asks the installed one.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import nn

__all__ = ["bicubic_matrix", "resize_numpy", "pillow_order", "BicubicResize"]


def _bicubic(x: float) -> float:
    x = abs(x)  # Pillow's bicubic kernel, a = -0.5
    if x < 1.0:
        return (1.5 * x - 2.5) * x * x + 1
    if x < 2.0:
        return (((x - 5) * x + 8) * x - 4) * -0.5
    return 0.0


def bicubic_matrix(n_in: int, n_out: int) -> np.ndarray:
    """[n_out, n_in] float64: Pillow's BICUBIC weights along one axis (support 2, widened by the
    reduction factor when shrinking, normalised per output pixel, fixed point with 22 bits)."""
    scale = n_in / n_out
    widen = max(scale, 1.0)
    support, inv = 2.0 * widen, 1.0 / widen
    m = np.zeros((n_out, n_in))
    for o in range(n_out):
        centre = (o + 0.5) * scale
        lo, hi = max(int(centre - support + 0.5), 0), min(int(centre + support + 0.5), n_in)
        k = [_bicubic((i - centre + 0.5) * inv) for i in range(lo, hi)]
        total = sum(k)
        k = [v / total for v in k] if total != 0.0 else k
        m[o, lo:hi] = [int(v * (1 << 22) + (0.5 if v >= 0 else -0.5)) / (1 << 22) for v in k]
    return m


def _round8(x):
    """Pillow's rounding of a pass to uint8 (half up, clipped), on numpy or torch values."""
    if isinstance(x, torch.Tensor):
        return torch.floor(x + 0.5).clamp(0, 255)
    return np.clip(np.floor(x + 0.5), 0, 255)


def resize_numpy(image: np.ndarray, nh: int, nw: int, vertical_first: bool = False) -> np.ndarray:
    """uint8 [h,w,C] -> uint8 [nh,nw,C], as Pillow's BICUBIC resize (passes in the order given)."""
    x, (h, w) = image.astype(np.float64), image.shape[:2]

    def across(v):
        return _round8(np.einsum("ow,hwc->hoc", bicubic_matrix(w, nw), v)) if nw != w else v

    def down(v):
        return _round8(np.einsum("oh,hwc->owc", bicubic_matrix(h, nh), v)) if nh != h else v

    return (across(down(x)) if vertical_first else down(across(x))).astype(np.uint8)


def pillow_order(h: int, w: int, nh: int, nw: int) -> tuple[bool, int]:
    """-> (vertical pass first, largest difference from the installed Pillow) for a BICUBIC resize
    of h x w to nh x nw, tried on noise (0: the resize is reproduced exactly)."""
    if (h, w) == (nh, nw):
        return False, 0
    img = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    want = np.asarray(Image.fromarray(img).resize((nw, nh), Image.BICUBIC)).astype(np.int16)
    diffs = [int(np.abs(resize_numpy(img, nh, nw, v) - want).max()) for v in (False, True)]
    return diffs[1] < diffs[0], min(diffs)


class BicubicResize(nn.Module):
    """[C,h,w] float64 holding uint8 values -> [C,nh,nw]: Pillow's BICUBIC resize of a uint8 image."""

    def __init__(self, h: int, w: int, nh: int, nw: int):
        super().__init__()
        self.across, self.down = nw != w, nh != h
        self.vertical_first, self.pillow_difference = pillow_order(h, w, nh, nw)
        cols = np.ascontiguousarray(bicubic_matrix(w, nw).T)
        self.register_buffer("rows", torch.from_numpy(bicubic_matrix(h, nh)), persistent=False)  # [nh, h]
        self.register_buffer("cols", torch.from_numpy(cols), persistent=False)                   # [w, nw]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.vertical_first and self.down:
            x = _round8(self.rows @ x)
        if self.across:
            x = _round8(x @ self.cols)
        if self.down and not self.vertical_first:
            x = _round8(self.rows @ x)
        return x
