"""``model.g_arch: flow``: a generator that learns where each pixel comes from (not in the paper).

:class:`~poseshift.nets.warp_generator.WarpGenerator` paints its correction of the warp in its own
pixels, at the model's resolution, so wherever it departs from the warp the render has 64-px
detail. This one answers, at the model's resolution, three things that are smooth or rare:

- ``d``: a correction of the warp's sampling field (poseshift.warp's ``field``), in the frame's
  [-1, 1] units, at most FLOW_RANGE;
- ``a``: a correction of where the person is (the logit of the warp's coverage);
- ``r``: fill pixels, a correction of the source's background, for what the source never shows:

    field' = field + d,   m = sigmoid(logit(union) + a),   fill = tanh(atanh(background) + r)
    I_out  = m * sample(I_po, field') + (1 - m) * fill

Its last layer starts at zero, so an untrained G gives the warp itself (poseshift.warp.compose).
At a photo's own resolution (``render_photo``), ``d``, ``a`` and ``r`` are upsampled and the
field, coverage and background are those of the warp redone on the full-resolution photo: every
pixel the person brings is the photo's own, sampled once; only the fill has model-resolution
detail. Eq. (8) trains it unchanged; the cycle's second pass is ``G(I_pf | p_o)`` with p_f as
its source pose, the person mask drawn from the pose.
"""
from __future__ import annotations

import torch
from torch import nn

from poseshift.nets.resnet import ResnetTrunk
from poseshift.nets.warp_generator import CLIP, Photo
from poseshift.warp import NUM_PARTS, WarpResult, compose, part_warp

# Not given anywhere: the largest shift G may add to the sampling field, in the frame's [-1, 1]
# units (0.25 = an eighth of the frame, about a forearm's length at 64 px).
FLOW_RANGE = 0.25


def flow_answer(image: torch.Tensor, warp: WarpResult, d: torch.Tensor, a: torch.Tensor, r: torch.Tensor
                ) -> torch.Tensor:
    """I_out from the source ``image`` [B,3,H,W], its warp, and G's three answers at that size:
    ``d`` [B,2,H,W] (field shift), ``a`` [B,1,H,W] (coverage logit), ``r`` [B,3,H,W] (fill)."""
    field = warp.field + d.permute(0, 2, 3, 1)
    cover = warp.union.clamp(1e-4, 1 - 1e-4)
    m = torch.sigmoid(torch.log(cover) - torch.log1p(-cover) + a)
    fill = torch.tanh(torch.atanh(warp.background.clamp(-CLIP, CLIP)) + r)
    return compose(image, field, m, fill)


class FlowGenerator(nn.Module):
    """G(I | p_f, p_o): image [B,3,H,W] in [-1,1], target maps [B,18,H,W], source and target
    keypoints [B,18,2] (pixels, NaN missing) -> [B,3,H,W] in [-1,1]."""

    needs_source_pose = True

    def __init__(self, num_joints: int = 18, channels: int = 64, n_blocks: int = 9, norm: str = "instance",
                 upsample: str = "deconv"):
        super().__init__()
        in_ch = 3 + num_joints + 3 + 1 + NUM_PARTS
        self.trunk = ResnetTrunk(in_ch, 6, channels, n_blocks, norm, tanh=False, upsample=upsample)
        last = self.trunk.net[-1]
        assert isinstance(last, nn.Conv2d)
        with torch.no_grad():  # d, a and r start at zero: an untrained G answers the warp
            last.weight.zero_()
            last.bias.zero_()

    def answers(self, image, maps, kp_src, kp_tgt, silhouette=None, background=None):
        """-> the warp of ``image`` and G's d [B,2,H,W], a [B,1,H,W], r [B,3,H,W]."""
        if kp_src is None or kp_tgt is None:
            raise ValueError("model.g_arch=flow needs the source photo's pose and the target pose "
                             "(keypoints), not only the target's belief maps")
        warp = part_warp(image, kp_src, kp_tgt, silhouette, background)
        x = torch.cat([image, maps.to(image.dtype), warp.warped, warp.union, warp.masks], dim=1)
        out = self.trunk(x)
        return warp, FLOW_RANGE * torch.tanh(out[:, :2]), out[:, 2:3], out[:, 3:6]

    def forward(self, image: torch.Tensor, maps: torch.Tensor, kp_src: torch.Tensor | None = None,
                kp_tgt: torch.Tensor | None = None, silhouette: torch.Tensor | None = None) -> torch.Tensor:
        warp, d, a, r = self.answers(image, maps, kp_src, kp_tgt, silhouette)
        return flow_answer(image, warp, d, a, r)

    def render_photos(self, x, maps, kp_src, kp_tgt, silhouette, background, photos: list[Photo]
                      ) -> list[torch.Tensor]:
        """Each of a batch's renders [1,3,H,W] at its photo's own resolution (see the module's
        docstring): G runs once on the batch, the warp once on each photo."""
        _, d, a, r = self.answers(x, maps, kp_src, kp_tgt, silhouette, background)
        renders = []
        for i, photo in enumerate(photos):
            up = photo.upsample(torch.cat([a[i:i + 1], r[i:i + 1]], 1))
            renders.append(flow_answer(photo.image, photo.warp(), photo.displacement(d[i:i + 1]), up[:, :1], up[:, 1:]))
        return renders

    def render_photo(self, x, maps, kp_src, kp_tgt, silhouette, background, photo: Photo) -> torch.Tensor:
        """The render at the photo's own resolution, for a batch of one."""
        return self.render_photos(x, maps, kp_src, kp_tgt, silhouette, background, [photo])[0]
