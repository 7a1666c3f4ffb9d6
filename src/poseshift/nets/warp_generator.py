"""``model.g_arch: warp``: a generator that paints a correction of the part warp (not in the paper).

The paper's G (section 4.2) must move every pixel of I_po through its convolutions. This one
is given the source already moved part by part into the target pose (:func:`poseshift.warp.part_warp`,
after Siarohin et al.'s deformable skip connections) and learns what that warp cannot do. Its
input is concat(I_po, p_f's belief maps, the warped source, the ten part masks), and it answers a
correction of the warp and a blending weight, which reach the render only where the warp does
not cover the pixel and outside the head (:class:`poseshift.nets.warping.Guard`):

    rgb = tanh(atanh(warped) + r),   corrected = alpha * warped + (1 - alpha) * rgb
    I_out = warped + free * body * (1 - keep) * (corrected - warped)

The trunk starts at zero, so an untrained G gives back the warp itself (the "warp only" floor).
It needs the source's pose as well as the target's: ``G(image, maps_f, kp_o, kp_f)``.
"""
from __future__ import annotations

import torch

from poseshift.nets.warping import Guard, Photo, WarpingGenerator
from poseshift.warp import NUM_PARTS

__all__ = ["WarpGenerator", "correct", "Photo", "CLIP"]

# atanh is taken of the warp clipped to +-CLIP (white, 1.0, would be infinite).
CLIP = 0.999


def correct(warped: torch.Tensor, alpha: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """alpha * warped + (1 - alpha) * tanh(atanh(warped) + r): the unguarded correction at any
    resolution ([B,3,H,W], [B,1,H,W], [B,3,H,W])."""
    rgb = torch.tanh(torch.atanh(warped.clamp(-CLIP, CLIP)) + r)
    return alpha * warped + (1 - alpha) * rgb


class WarpGenerator(WarpingGenerator):
    """G(I | p_f, p_o): image [B,3,H,W] in [-1,1], target maps [B,18,H,W], source and target
    keypoints [B,18,2] (pixels, NaN missing) -> [B,3,H,W] in [-1,1]."""

    arch = "warp"

    def __init__(self, num_joints: int = 18, channels: int = 64, n_blocks: int = 9, norm: str = "instance",
                 upsample: str = "deconv"):
        super().__init__(3 + num_joints + 3 + NUM_PARTS, 4, channels, n_blocks, norm, upsample)

    def inputs(self, image, maps, warp):
        return torch.cat([image, maps, warp.warped, warp.masks], dim=1)

    def split(self, out):
        return {"alpha": out[:, 3:4], "r": out[:, :3]}

    def compose(self, image, warp, answers):
        g = Guard(warp)
        warped = warp.warped
        corrected = correct(warped, torch.sigmoid(answers["alpha"]), answers["r"])
        return warped + g.free * g.body * (1 - g.keep) * (corrected - warped)
