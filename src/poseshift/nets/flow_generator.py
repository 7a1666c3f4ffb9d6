"""``model.g_arch: flow``: a generator that learns where each pixel comes from (not in the paper).

It answers, at the model's resolution, three things that are smooth or rare:

- ``d``: a correction of the warp's sampling field (poseshift.warp's ``field``), at most
  FIELD_BOUND of the frame's height and none in the head region;
- ``a``: a correction of where the person is (the logit of the warp's coverage), only where
  the warp covers a pixel less than KEEP_AT, inside the target's body;
- ``r``: fill, a correction of the source's background, only where the warp has no coverage:

    field' = field + free * d,   m = keep * union + (1 - keep) * sigmoid(logit(union) + free * body * a)
    fill   = tanh(atanh(background) + free * fill_gate * r)
    I_out  = m * sample(I_po, field') + (1 - m) * fill

with the gates of :class:`poseshift.nets.warping.Guard`. Its last layer starts at zero, so an
untrained G gives the warp itself (poseshift.warp.compose). At a photo's own resolution the
answers are upsampled and the warp, its gates and background are those of the full-resolution
photo: every pixel the person brings is the photo's own, sampled once; only the fill has
model-resolution detail. Eq. (8) trains it unchanged; the cycle's second pass is ``G(I_pf | p_o)``
with p_f as its source pose, the person mask drawn from the pose.
"""
from __future__ import annotations

import torch

from poseshift.nets.warping import Guard, Photo, WarpingGenerator, field_bound
from poseshift.warp import NUM_PARTS, WarpResult, compose

__all__ = ["FlowGenerator", "flow_answer", "Photo"]

# atanh is taken of the background clipped to +-CLIP (white, 1.0, would be infinite).
CLIP = 0.999


def flow_answer(image: torch.Tensor, warp: WarpResult, d: torch.Tensor, a: torch.Tensor, r: torch.Tensor
                ) -> torch.Tensor:
    """I_out from the source ``image`` [B,3,H,W], its warp, and G's three answers at that size:
    ``d`` [B,2,H,W] (field shift in [-1, 1] units, already within the bound), ``a`` [B,1,H,W]
    (coverage logit), ``r`` [B,3,H,W] (fill), under the warp's guard."""
    g = Guard(warp)
    h, w = image.shape[2:]
    bound = field_bound(h, w, d.device, d.dtype)
    field = warp.field + (g.free * d.clamp(-bound, bound)).permute(0, 2, 3, 1)
    u = warp.union
    cover = u.clamp(1e-4, 1 - 1e-4)
    m = g.keep * u + (1 - g.keep) * torch.sigmoid(torch.log(cover) - torch.log1p(-cover) + g.free * g.body * a)
    fill = torch.tanh(torch.atanh(warp.background.clamp(-CLIP, CLIP)) + g.free * g.fill * r)
    return compose(image, field, m, fill)


class FlowGenerator(WarpingGenerator):
    """G(I | p_f, p_o): image [B,3,H,W] in [-1,1], target maps [B,18,H,W], source and target
    keypoints [B,18,2] (pixels, NaN missing) -> [B,3,H,W] in [-1,1]."""

    FIELD_ANSWERS = ("d",)
    arch = "flow"

    def __init__(self, num_joints: int = 18, channels: int = 64, n_blocks: int = 9, norm: str = "instance",
                 upsample: str = "deconv"):
        super().__init__(3 + num_joints + 3 + 1 + NUM_PARTS, 6, channels, n_blocks, norm, upsample)

    def inputs(self, image, maps, warp):
        return torch.cat([image, maps, warp.warped, warp.union, warp.masks], dim=1)

    def split(self, out):
        h, w = out.shape[2:]
        return {"d": field_bound(h, w, out.device, out.dtype) * torch.tanh(out[:, :2]), "a": out[:, 2:3],
                "r": out[:, 3:6]}

    def compose(self, image, warp, answers):
        return flow_answer(image, warp, answers["d"], answers["a"], answers["r"])
