"""Pose belief maps (Pumarola et al. 2018, section 4.1, eq. (1)), horizontal flips, visibility.

The pose ``p`` fed to G and regressed by Phi is 18 belief maps, one per COCO-18 joint, each a
Gaussian centred on the joint. Keypoints are ``(x, y)`` pixels with ``NaN`` for missing joints;
a missing joint is an all-zero map.
"""
from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

from poseshift.pose.schema import FLIP_PERM, NUM_JOINTS

__all__ = ["belief_maps", "sigma_pixels", "flip_keypoints", "flip_pose", "flip_maps", "visible"]

KP = TypeVar("KP", np.ndarray, torch.Tensor)


def sigma_pixels(height: int, frac: float = 0.03) -> float:
    """The Gaussian's standard deviation in pixels: ``frac * height``.

    The paper gives the belief maps a "variance 0.03" without units. We read it as a standard
    deviation of 0.03 of the image height (7.68 px at 256, 3.84 px at 128), the only reading
    that gives maps of a sensible width at both 256 and 128. It is a config value
    (pose.sigma_frac; docs/configuration.md).
    """
    if height <= 0 or frac <= 0:
        raise ValueError(f"sigma_pixels needs height > 0 and frac > 0, got height={height}, frac={frac}")
    return float(frac) * float(height)


def belief_maps(kp: torch.Tensor, height: int, width: int, sigma: float) -> torch.Tensor:
    """Render the pose belief maps of eq. (1): ``[..., 18, 2]`` keypoints -> ``[..., 18, H, W]``.

    ``B_i[v, u] = exp(-((u - x_i)^2 + (v - y_i)^2) / (2 sigma^2))`` with ``(u, v)`` the integer pixel
    (column, row), so the map is 1 at a joint that sits on a pixel; a missing joint (NaN) gives an
    all-zero map. One broadcast over batch, joints, rows and columns (the 2-D Gaussian is the
    outer product of two 1-D ones), float32 on ``kp``'s device (CPU, CUDA or MPS).
    """
    if not isinstance(kp, torch.Tensor):
        kp = torch.as_tensor(np.asarray(kp))
    if kp.ndim < 2 or kp.shape[-2:] != (NUM_JOINTS, 2):
        raise ValueError(f"belief_maps expects keypoints [..., {NUM_JOINTS}, 2], got {list(kp.shape)}")
    if height <= 0 or width <= 0:
        raise ValueError(f"belief_maps needs a positive size, got {height}x{width}")
    if not sigma > 0:
        raise ValueError(f"belief_maps needs sigma > 0, got {sigma}")
    kp = kp.to(torch.float32)  # MPS has no float64
    present = ~torch.isnan(kp).any(dim=-1)                      # [..., 18]
    kp = torch.nan_to_num(kp, nan=0.0)
    x = kp[..., 0, None]                                        # [..., 18, 1]
    y = kp[..., 1, None]
    u = torch.arange(width, device=kp.device, dtype=torch.float32)
    v = torch.arange(height, device=kp.device, dtype=torch.float32)
    inv = -0.5 / (float(sigma) ** 2)
    gx = torch.exp((u - x) ** 2 * inv) * present[..., None]     # [..., 18, W], zero if missing
    gy = torch.exp((v - y) ** 2 * inv)                          # [..., 18, H]
    return gy[..., :, None] * gx[..., None, :]                  # [..., 18, H, W]


def _perm_index(device: torch.device | None = None) -> torch.Tensor:
    return torch.tensor(FLIP_PERM, dtype=torch.long, device=device)


def flip_keypoints(kp: KP, width: int) -> KP:
    """Mirror keypoints horizontally in a frame ``width`` pixels wide, swapping left and right.

    ``x -> (width - 1) - x`` (pixel ``u`` lands on ``width - 1 - u``, as ``torch.flip`` moves it),
    then the joints are permuted by ``FLIP_PERM`` so the person's left wrist becomes the right
    wrist of the mirrored person. NaN stays NaN. Accepts numpy or torch ``[..., 18, 2]``.
    """
    if kp.shape[-2:] != (NUM_JOINTS, 2):
        raise ValueError(f"flip_keypoints expects keypoints [..., {NUM_JOINTS}, 2], got {list(kp.shape)}")
    if isinstance(kp, torch.Tensor):
        out = kp.clone()
        out[..., 0] = (width - 1) - out[..., 0]
        return out[..., _perm_index(kp.device), :]
    out = np.array(kp, copy=True)
    out[..., 0] = (width - 1) - out[..., 0]
    return out[..., list(FLIP_PERM), :]


def flip_pose(kp: np.ndarray, mode: int, height: int, width: int) -> np.ndarray:
    """Keypoints [18, 2] of an image flipped by ``mode``: bit 1 left-right, bit 2 upside down
    (``y -> height - 1 - y``), both = a half turn. Each flip is a mirror image, so each swaps the
    left and right joints (our reading of the paper's "three possible flips", section 6: the
    half turn swaps twice and keeps them)."""
    out = np.array(kp, dtype=np.float32, copy=True)
    if mode & 2:
        out[..., 1] = (height - 1) - out[..., 1]
        out = flip_keypoints(out, width)                    # the swap, and x mirrored ...
        out[..., 0] = (width - 1) - out[..., 0]             # ... back: only y is flipped
    if mode & 1:
        out = flip_keypoints(out, width)
    return out


def flip_maps(maps: torch.Tensor) -> torch.Tensor:
    """Mirror belief maps ``[..., 18, H, W]`` along W and swap left/right channels by ``FLIP_PERM``.

    ``flip_maps(belief_maps(kp, H, W, s)) == belief_maps(flip_keypoints(kp, W), H, W, s)``.
    """
    if maps.ndim < 3 or maps.shape[-3] != NUM_JOINTS:
        raise ValueError(f"flip_maps expects maps [..., {NUM_JOINTS}, H, W], got {list(maps.shape)}")
    return maps.flip(-1).index_select(-3, _perm_index(maps.device))


def visible(kp: KP) -> KP:
    """Boolean mask ``[..., 18]``: True where the joint is present (neither coordinate NaN)."""
    if isinstance(kp, torch.Tensor):
        return ~torch.isnan(kp).any(dim=-1)
    return ~np.isnan(np.asarray(kp)).any(axis=-1)
