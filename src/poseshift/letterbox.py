"""Fitting an image of any size into the configured H x W training frame, keypoints alike.

``fit_to_frame`` returns the fitted image and a :class:`FrameFit` whose
``apply(kp)`` moves keypoints of the source image into the frame and ``invert(kp)`` moves them
back. Pixel-centre convention: the centre of source pixel ``i`` lands at ``(i + 0.5) * s - 0.5``
(plus the padding offset), so a keypoint stays on the same image content.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

__all__ = ["FrameFit", "FIT_MODES", "fit_to_frame", "frame_size", "plan_fit"]

FIT_MODES = ("pad", "resize")


@dataclass(frozen=True)
class FrameFit:
    """How an image of ``src`` (H, W) was put into a ``size`` x ``size`` frame:
    new = old * scale + offset, per axis (x, y)."""

    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float
    # Where the source image sits in the frame (x, y, w, h) and the source size (h, w).
    box: tuple[int, int, int, int] = (0, 0, 0, 0)
    source: tuple[int, int] = (0, 0)

    def apply(self, kp: np.ndarray) -> np.ndarray:
        out = np.asarray(kp, dtype=np.float32).copy()
        out[..., 0] = out[..., 0] * self.scale_x + self.offset_x
        out[..., 1] = out[..., 1] * self.scale_y + self.offset_y
        return out

    def invert(self, kp: np.ndarray) -> np.ndarray:
        out = np.asarray(kp, dtype=np.float32).copy()
        out[..., 0] = (out[..., 0] - self.offset_x) / self.scale_x
        out[..., 1] = (out[..., 1] - self.offset_y) / self.scale_y
        return out

    def unfit(self, framed: np.ndarray) -> np.ndarray:
        """A frame-sized image (e.g. a render) back to the source image's size and frame."""
        x, y, w, h = self.box
        crop = np.ascontiguousarray(framed[y : y + h, x : x + w])
        sh, sw = self.source
        if (h, w) == (sh, sw):
            return crop
        return np.asarray(Image.fromarray(crop).resize((sw, sh), Image.BICUBIC))


def frame_size(size: int | Sequence[int]) -> tuple[int, int]:
    """``int`` -> (size, size); ``(H, W)`` -> (H, W); validated positive."""
    if isinstance(size, (int, np.integer)):
        h = w = int(size)
    else:
        vals = [int(v) for v in size]
        if len(vals) != 2:
            raise ValueError(f"frame size must be an int or (height, width), got {size!r}")
        h, w = vals
    if h <= 0 or w <= 0:
        raise ValueError(f"frame size must be positive, got {h}x{w}")
    return h, w


def _fill(pad_value: int | Sequence[int]) -> np.ndarray:
    v = np.asarray(pad_value, dtype=np.int64).reshape(-1)
    if v.size == 1:
        v = np.repeat(v, 3)
    if v.size != 3 or (v < 0).any() or (v > 255).any():
        raise ValueError(f"pad value must be one int or an RGB triple in 0..255, got {pad_value!r}")
    return v.astype(np.uint8)


def plan_fit(h: int, w: int, height: int, width: int | None = None, mode: str = "pad") -> FrameFit:
    """Where an ``h`` x ``w`` image goes in the ``height`` x ``width`` frame, from its size
    alone (so poses can be fitted from the image headers, without decoding).

    ``pad``: scale to fit inside keeping the aspect ratio, centred. ``resize``: stretch."""
    width = height if width is None else width
    height, width = frame_size((height, width))
    if mode == "resize":
        new_w, new_h, ox, oy = width, height, 0, 0
    elif mode == "pad":
        s = min(width / w, height / h)
        new_w = min(width, max(1, round(w * s)))
        new_h = min(height, max(1, round(h * s)))
        ox, oy = (width - new_w) // 2, (height - new_h) // 2
    else:
        raise ValueError(f"unknown fit mode {mode!r}: expected one of {FIT_MODES}")
    fx, fy = new_w / w, new_h / h
    return FrameFit(fx, fy, ox + 0.5 * fx - 0.5, oy + 0.5 * fy - 0.5, (ox, oy, new_w, new_h), (h, w))


def fit_to_frame(image: np.ndarray, height: int, width: int | None = None, mode: str = "pad",
                 pad_value: int | Sequence[int] = 255) -> tuple[np.ndarray, FrameFit]:
    """Fit uint8 RGB ``[h, w, 3]`` into ``[height, width, 3]`` as :func:`plan_fit` places it,
    on ``pad_value`` (white by default: DeepFashion backgrounds are white)."""
    width = height if width is None else width
    height, width = frame_size((height, width))
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 RGB image [H, W, 3], got {image.dtype} {image.shape}")
    h, w = image.shape[:2]
    fit = plan_fit(h, w, height, width, mode)
    ox, oy, new_w, new_h = fit.box
    if (new_w, new_h) != (w, h):
        resized = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.BICUBIC))
    else:
        resized = image
    out = np.empty((height, width, 3), dtype=np.uint8)
    out[...] = _fill(pad_value)
    out[oy:oy + new_h, ox:ox + new_w] = resized
    return out, fit
