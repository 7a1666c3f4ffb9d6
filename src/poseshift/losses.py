"""The loss terms of section 4.3, each a small function that knows nothing of the networks.

Shapes: images [B,3,H,W]; belief maps [B,18,H,W]; Psi features [B,C,H',W'];
visibility masks [B,18] (bool).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def lsgan_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Eq. (2) with the least-squares loss of Mao et al. [17] (section 5), for D_I:
    real patches towards 1, rendered ones towards 0; halved as in CycleGAN."""
    real = F.mse_loss(real_scores, torch.ones_like(real_scores))
    fake = F.mse_loss(fake_scores, torch.zeros_like(fake_scores))
    return 0.5 * (real + fake)


def lsgan_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Eq. (2), generator side with LSGAN (section 5): rendered patches towards 1."""
    return F.mse_loss(fake_scores, torch.ones_like(fake_scores))


def pose_loss(pred_maps: torch.Tensor, target_maps: torch.Tensor) -> torch.Tensor:
    """Eq. (3) L_P = ||Phi(G(I|p)) - p||_2^2, and L_Phi of eq. (8) on real images, averaged over
    batch, joints and pixels (our reading: the mean makes lambda_P = 700 a sensible weight)."""
    assert pred_maps.shape == target_maps.shape, f"{list(pred_maps.shape)} vs {list(target_maps.shape)}"
    return ((pred_maps.float() - target_maps.float()) ** 2).mean()


def content_loss(feat_a: torch.Tensor, feat_b: torch.Tensor) -> torch.Tensor:
    """Eq. (4) L_Content = ||Psi_z(I_po) - Psi_z(I^_po)||_2^2, as a mean over elements."""
    assert feat_a.shape == feat_b.shape, f"{list(feat_a.shape)} vs {list(feat_b.shape)}"
    return F.mse_loss(feat_a.float(), feat_b.float())


def downsample_maps(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Belief maps [B,N,H,W] average-pooled to the feature grid [B,N,H',W'] (section 4.3)."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.adaptive_avg_pool2d(maps, size)


def patch_grams(features: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
    """Eq. (5) X_i = B_i . Psi_z(I) and its Gram matrix divided by H'W' (eq. (6)).

    features [B,C,H',W'], maps [B,N,H',W'] -> [B,N,C,C]. One joint at a time, so memory
    stays at one [B,C,H'W'] product rather than [B,N,C,H'W'] (1.8 GB at 256, batch 12).
    """
    b, c, h, w = features.shape
    assert maps.shape[0] == b and maps.shape[-2:] == (h, w), f"{list(maps.shape)} vs {list(features.shape)}"
    flat = features.float().reshape(b, c, h * w)
    weights = maps.float().reshape(b, maps.shape[1], h * w)
    grams = []
    for i in range(maps.shape[1]):
        x = flat * weights[:, i : i + 1]  # [B,C,P]
        grams.append(torch.bmm(x, x.transpose(1, 2)) / (h * w))
    return torch.stack(grams, dim=1)


def patch_style_loss(feat_o: torch.Tensor, feat_f: torch.Tensor, maps_o: torch.Tensor,
                     maps_f: torch.Tensor, vis_o: torch.Tensor, vis_f: torch.Tensor) -> torch.Tensor:
    """Eq. (6): mean squared difference of the joint-masked Gram matrices of I_po (around
    p_o) and I_pf (around p_f), over the joints visible in both poses.

    The paper's 1/N averages over joints; we average over the (sample, joint) pairs that
    are visible in both, and over the C x C entries. No such pair gives exactly 0.
    """
    size = tuple(feat_o.shape[-2:])
    g_o = patch_grams(feat_o, downsample_maps(maps_o, size))
    g_f = patch_grams(feat_f, downsample_maps(maps_f, size))
    return mean_over_joints(((g_o - g_f) ** 2).mean(dim=(-1, -2)), vis_o & vis_f)


def mean_over_joints(per_joint: torch.Tensor, both: torch.Tensor) -> torch.Tensor:
    """[B,N] per (sample, joint) -> the mean over the pairs where ``both`` [B,N] holds (0 if none)."""
    both = both.float()
    return (per_joint * both).sum() / both.sum().clamp(min=1.0)


def patch_colours(image: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
    """Eq. (5) with Psi_z = the pixels: the Gram matrices of [r, g, b, 1] (RGB on [0, 1])
    under each joint's belief map, normalised by the map's weight rather than by H'W' (so
    each is a weighted second moment): [B,3,H,W], [B,N,H,W] -> [B,N,4,4]. The constant
    channel puts each patch's mean colour in the last row; on [0, 1] black and white
    differ (on [-1, 1] their squares would not)."""
    b, _, h, w = image.shape
    maps = downsample_maps(maps, (h, w)).float()
    x = torch.cat([(image.float() + 1) / 2, image.new_ones(b, 1, h, w).float()], dim=1)
    mass = (maps ** 2).flatten(2).sum(-1) / (h * w)  # [B,N]: what patch_grams' 1/H'W' leaves
    return patch_grams(x, maps) / mass.clamp(min=1e-6)[..., None, None]


def patch_colour_loss(real: torch.Tensor, fake: torch.Tensor, maps_o: torch.Tensor,
                      maps_f: torch.Tensor, vis_o: torch.Tensor, vis_f: torch.Tensor) -> torch.Tensor:
    """The patch-style term of eq. (6) on the pixels rather than on Psi's features (not in
    the paper; weighted by loss.lambda_colour): each joint's colours in I_pf, around p_f,
    against the same joint's in I_po, around p_o, over the joints visible in both. Psi's
    features at H/2 or H/4 barely see hue; this term does, on the first pass itself."""
    per_joint = ((patch_colours(real, maps_o) - patch_colours(fake, maps_f)) ** 2).mean(dim=(-1, -2))
    return mean_over_joints(per_joint, vis_o & vis_f)


def identity_loss(content: torch.Tensor, style: torch.Tensor, lambda_style: float) -> torch.Tensor:
    """Eq. (7) L_Id = L_Content + lambda L_Patch-Style."""
    return content + lambda_style * style


def l1_identity_loss(image: torch.Tensor, recovered: torch.Tensor) -> torch.Tensor:
    """The figure-5 ablation: L_Id replaced by the L1 loss between I_po and I^_po."""
    return F.l1_loss(recovered.float(), image.float())
