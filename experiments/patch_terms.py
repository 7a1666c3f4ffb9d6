"""The patch terms of L_Id per joint, before their average over joints (benchmarks/patch_bias.py):
where does each joint's patch-style (eq. 5-6) or pixel colour term point on pairs with ground
truth, and at which width of the patches' maps (``narrow_maps``; the removed
``loss.patch_sigma_scale`` trained with it, docs/configuration.md)."""
from __future__ import annotations

import numpy as np
import torch

from poseshift.losses import downsample_maps, patch_colours, patch_grams


def narrow_maps(maps: torch.Tensor, scale: float) -> torch.Tensor:
    """Gaussian belief maps of peak 1 (eq. 1) narrowed to sigma x scale: exp(-d^2 / 2 sigma^2)
    raised to 1 / scale^2 is exp(-d^2 / 2 (scale sigma)^2). scale 1 returns ``maps``."""
    if scale <= 0:
        raise ValueError(f"the maps' scale must be > 0, got {scale}")
    return maps if scale == 1.0 else maps.clamp(min=0) ** (1.0 / scale ** 2)


def patch_style_per_joint(feat_o: torch.Tensor, feat_f: torch.Tensor, maps_o: torch.Tensor,
                          maps_f: torch.Tensor) -> torch.Tensor:
    """Eq. (6) before its average over joints: [B,N], each joint's mean squared Gram difference
    (losses.patch_style_loss averages these over the joints visible in both poses)."""
    size = tuple(feat_o.shape[-2:])
    g_o = patch_grams(feat_o, downsample_maps(maps_o, size))
    g_f = patch_grams(feat_f, downsample_maps(maps_f, size))
    return ((g_o - g_f) ** 2).mean(dim=(-1, -2))


def patch_colour_per_joint(real: torch.Tensor, fake: torch.Tensor, maps_o: torch.Tensor,
                           maps_f: torch.Tensor) -> torch.Tensor:
    """The pixel colour term (losses.patch_colour_loss) before its average over joints: [B,N]."""
    return ((patch_colours(real, maps_o) - patch_colours(fake, maps_f)) ** 2).mean(dim=(-1, -2))


def joint_terms(psi, src: torch.Tensor, tgt: torch.Tensor, maps_o: torch.Tensor, maps_f: torch.Tensor,
                feat_src: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per joint [18]: the colour term and the patch-style term between ``src`` (around maps_o)
    and ``tgt`` (around maps_f), as the losses compute them before averaging over joints.
    ``feat_src``: Psi(src) where the caller already has it."""
    feat_src = psi(src) if feat_src is None else feat_src
    colour = patch_colour_per_joint(src, tgt, maps_o, maps_f)
    style = patch_style_per_joint(feat_src, psi(tgt), maps_o, maps_f)
    return colour[0].numpy(), style[0].numpy()
