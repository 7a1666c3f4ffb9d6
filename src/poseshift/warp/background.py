"""The scene behind the person: the source photo with the person removed and the hole filled.

Two fills: :func:`fill_background` (push-pull, batched torch on any device; what training and a
silhouette drawn from the pose use) and :func:`inpaint_background` (OpenCV's Telea inpainting of
one photo at its own resolution; what a real photo gets once, before it is re-posed).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

# Not given anywhere: the person's mask is grown by this share of the image side before the hole
# is filled, so the fill takes nothing from the person's soft edge or their shadow line.
GROW = 0.02


def border_colour(image: torch.Tensor) -> torch.Tensor:
    """[B,3,H,W] -> [B,3] the per-channel median of the image's one-pixel border."""
    border = torch.cat([image[..., 0, :], image[..., -1, :], image[..., :, 0], image[..., :, -1]], -1)
    return border.median(dim=-1).values


def grow(mask: torch.Tensor, share: float = GROW) -> torch.Tensor:
    """[B,1,H,W] soft mask dilated by ``share`` x max(H, W) pixels (max pooling)."""
    k = int(round(share * max(mask.shape[-2:])))
    return F.max_pool2d(mask, 2 * k + 1, stride=1, padding=k) if k > 0 else mask


def fill_background(image: torch.Tensor, person: torch.Tensor) -> torch.Tensor:
    """[B,3,H,W] image and [B,1,H,W] person mask in [0,1] -> the image with the (grown) person
    replaced by the colours around them: a push-pull fill (weighted averages down a pyramid,
    then filled back up), no loop over samples. Where no background is visible at all, the
    border colour."""
    hole = (3 * grow(person.float())).clamp(0, 1)  # a third-opaque edge is already the person's
    keep = 1 - hole
    levels = [(image.float() * keep, keep)]
    while min(levels[-1][1].shape[-2:]) > 1:
        colour, weight = levels[-1]
        levels.append((F.avg_pool2d(colour, 2, ceil_mode=True), F.avg_pool2d(weight, 2, ceil_mode=True)))
    colour, weight = levels[-1]
    fallback = border_colour(image.float())[:, :, None, None]
    filled = torch.where(weight > 1e-6, colour / weight.clamp_min(1e-6), fallback)
    for colour, weight in reversed(levels[:-1]):
        up = F.interpolate(filled, size=colour.shape[-2:], mode="bilinear", align_corners=False)
        w = weight.clamp(0, 1)
        filled = colour / weight.clamp_min(1e-6) * w + up * (1 - w)
    return (image.float() * keep + filled * hole).to(image.dtype)


def inpaint_background(image: np.ndarray, person: np.ndarray, work_side: int = 512) -> np.ndarray:
    """uint8 [H,W,3] photo and its person mask ([H,W], bool or [0,1]) -> uint8 [H,W,3] with the
    grown person inpainted by OpenCV (Telea) from the scene around them. A photo larger than
    ``work_side`` is inpainted on a copy of that size (Telea's time grows with the hole) and only
    the hole is pasted back at full resolution."""
    import cv2

    image = np.ascontiguousarray(image)
    h, w = person.shape[:2]
    k = max(1, int(round(GROW * max(h, w))))
    hole = cv2.dilate((np.asarray(person, dtype=np.float32) > 0.5).astype(np.uint8),
                      np.ones((2 * k + 1, 2 * k + 1), np.uint8))
    if not hole.any():
        return image
    f = min(1.0, work_side / max(h, w))
    if f == 1.0:
        return cv2.inpaint(image, hole, max(3, k), cv2.INPAINT_TELEA)
    size = (max(1, round(w * f)), max(1, round(h * f)))
    small_hole = cv2.dilate(cv2.resize(hole, size, interpolation=cv2.INTER_NEAREST), np.ones((3, 3), np.uint8))
    small = cv2.inpaint(cv2.resize(image, size, interpolation=cv2.INTER_AREA), small_hole,
                        max(3, round(k * f)), cv2.INPAINT_TELEA)
    filled = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.where(hole[..., None].astype(bool), filled, image)
