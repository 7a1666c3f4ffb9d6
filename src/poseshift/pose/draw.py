"""Skeleton drawings in OpenPose's colours, for sample sheets and the demo."""
from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from poseshift.pose.schema import LIMB_COLORS, LIMBS, NUM_JOINTS

__all__ = ["JOINT_COLORS", "draw_skeleton", "default_thickness", "default_radius"]

# OpenPose colours its 18 joint discs with the limb palette plus one more colour.
JOINT_COLORS: tuple[tuple[int, int, int], ...] = LIMB_COLORS + ((255, 0, 85),)


def default_thickness(height: int, width: int) -> int:
    """Limb width in pixels: 2 at 64 px, 3 at 128 px, 5 at 256 px (the shorter side)."""
    return max(2, round(min(height, width) / 48))


def default_radius(height: int, width: int) -> int:
    """Joint disc radius in pixels, a little wider than half a limb: 2 at 64 px, 4 at 256 px."""
    return max(2, round(min(height, width) / 64))


def draw_skeleton(
    kp: Any,
    height: int,
    width: int,
    background: np.ndarray | None = None,
    thickness: int | None = None,
    radius: int | None = None,
) -> np.ndarray:
    """Draw a COCO-18 pose ``[18, 2]`` (x, y; NaN missing) as a ``uint8 [H, W, 3]`` image.

    Each limb of ``LIMBS`` whose two joints are present is a line in its ``LIMB_COLORS`` colour;
    each present joint is a filled disc on top. ``background`` (uint8 ``[H, W, 3]``, default
    black) is copied, never modified. Joints outside the frame are clipped by the drawing.
    """
    arr = np.asarray(kp, dtype=np.float64)
    if arr.shape != (NUM_JOINTS, 2):
        raise ValueError(f"draw_skeleton expects keypoints [{NUM_JOINTS}, 2], got {list(arr.shape)}")
    if background is None:
        canvas = Image.new("RGB", (width, height), (0, 0, 0))
    else:
        bg = np.asarray(background)
        if bg.shape != (height, width, 3) or bg.dtype != np.uint8:
            raise ValueError(f"background must be uint8 [{height}, {width}, 3], got {bg.dtype} {list(bg.shape)}")
        canvas = Image.fromarray(np.ascontiguousarray(bg), mode="RGB")
    t = default_thickness(height, width) if thickness is None else int(thickness)
    r = default_radius(height, width) if radius is None else int(radius)
    present = np.isfinite(arr).all(axis=1)
    draw = ImageDraw.Draw(canvas)
    for (a, b), color in zip(LIMBS, LIMB_COLORS):
        if present[a] and present[b]:
            draw.line([tuple(arr[a]), tuple(arr[b])], fill=color, width=t)
    if r > 0:
        for i in np.flatnonzero(present):
            x, y = arr[i]
            draw.ellipse([x - r, y - r, x + r, y + r], fill=JOINT_COLORS[i])
    return np.asarray(canvas, dtype=np.uint8).copy()
