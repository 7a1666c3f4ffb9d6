"""``model.g_arch: warp``: a generator that carries the person's own pixels (not in the paper).

The paper's G (section 4.2) must move every pixel of I_po through its convolutions. This one
is given the source already moved part by part into the target pose (:func:`poseshift.warp.part_warp`,
after Siarohin et al.'s deformable skip connections) and learns what that warp cannot do: the
seams between parts, sides the source does not show, the background, cloth that does not follow
the bones. Its input is concat(I_po, p_f's belief maps, the warped source, the ten part masks),
and it answers a correction of the warp and a blending weight:

    rgb = tanh(atanh(warped) + r),   I_out = alpha * warped + (1 - alpha) * rgb,   alpha = sigmoid(a)

The trunk's r output starts at zero, so an untrained G gives back the warp itself (the "warp
only" floor, over the source's own background) and training moves it only where the
objective (eq. 8, unchanged) asks: seams, faces a back view lacks, limbs the warp left out.
alpha chooses, per pixel, between the raw warp and its correction. Because r and alpha are
logits on top of the warp, inference can upsample them to a full-resolution photo and redo
the warp there (``transfer.Reposer``): a 64-px G then corrects a 256-px warp.

It needs the source's pose as well as the target's: ``G(image, maps_f, kp_o, kp_f)``. Through the
cycle the second pass is ``G(I_pf, maps_o, kp_f, kp_o)`` (I_pf is in pose p_f).
"""
from __future__ import annotations

import torch
from torch import nn

from poseshift.nets.resnet import ResnetTrunk
from poseshift.warp import NUM_PARTS, part_warp

# atanh is taken of the warp clipped to +-CLIP (white, 1.0, would be infinite).
CLIP = 0.999


def correct(warped: torch.Tensor, alpha: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """alpha * warped + (1 - alpha) * tanh(atanh(warped) + r): G's answer from the warp and its
    two outputs at any resolution ([B,3,H,W], [B,1,H,W], [B,3,H,W])."""
    rgb = torch.tanh(torch.atanh(warped.clamp(-CLIP, CLIP)) + r)
    return alpha * warped + (1 - alpha) * rgb


class WarpGenerator(nn.Module):
    """G(I | p_f, p_o): image [B,3,H,W] in [-1,1], target maps [B,18,H,W], source and target
    keypoints [B,18,2] (pixels, NaN missing) -> [B,3,H,W] in [-1,1]."""

    needs_source_pose = True

    def __init__(self, num_joints: int = 18, channels: int = 64, n_blocks: int = 9, norm: str = "instance",
                 upsample: str = "deconv"):
        super().__init__()
        in_ch = 3 + num_joints + 3 + NUM_PARTS
        self.trunk = ResnetTrunk(in_ch, 4, channels, n_blocks, norm, tanh=False, upsample=upsample)
        last = self.trunk.net[-1]
        assert isinstance(last, nn.Conv2d)
        with torch.no_grad():  # r and alpha's logit start at zero: an untrained G answers the warp
            last.weight.zero_()
            last.bias.zero_()

    def forward(self, image: torch.Tensor, maps: torch.Tensor, kp_src: torch.Tensor | None = None,
                kp_tgt: torch.Tensor | None = None, silhouette: torch.Tensor | None = None) -> torch.Tensor:
        if kp_src is None or kp_tgt is None:
            raise ValueError("model.g_arch=warp needs the source photo's pose and the target pose "
                             "(keypoints), not only the target's belief maps")
        assert image.shape[0] == maps.shape[0] and image.shape[2:] == maps.shape[2:], \
            f"image {list(image.shape)} and maps {list(maps.shape)} disagree"
        alpha, r, warped = self.blend(image, maps, kp_src, kp_tgt, silhouette)
        return correct(warped, alpha, r)

    def blend(self, image: torch.Tensor, maps: torch.Tensor, kp_src: torch.Tensor, kp_tgt: torch.Tensor,
              silhouette: torch.Tensor | None = None, background: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> alpha [B,1,H,W], the correction's logit r [B,3,H,W] and the warped source [B,3,H,W],
        so that inference can redo the warp on the full-resolution photo and correct it there.
        ``silhouette`` and ``background``: the source's person mask and scene (poseshift.warp),
        drawn from the pose and filled in when not given."""
        warp = part_warp(image, kp_src, kp_tgt, silhouette, background)
        x = torch.cat([image, maps.to(image.dtype), warp.warped, warp.masks], dim=1)
        out = self.trunk(x)
        return torch.sigmoid(out[:, 3:4]), out[:, :3], warp.warped

    def render_photos(self, x, maps, kp_src, kp_tgt, silhouette, background, photos: list[Photo]
                      ) -> list[torch.Tensor]:
        """Each of a batch's renders [1,3,H,W] at its photo's own resolution: alpha and r from the
        model's frame (G once on the batch), cropped to each photo's box and upsampled; the warp
        redone on each full-resolution photo."""
        alpha, r, _ = self.blend(x, maps, kp_src, kp_tgt, silhouette, background)
        renders = []
        for i, photo in enumerate(photos):
            up = photo.upsample(torch.cat([alpha[i:i + 1], r[i:i + 1]], 1))
            renders.append(correct(photo.warp().warped, up[:, :1], up[:, 1:]))
        return renders

    def render_photo(self, x, maps, kp_src, kp_tgt, silhouette, background, photo: Photo) -> torch.Tensor:
        """The render at the photo's own resolution, for a batch of one."""
        return self.render_photos(x, maps, kp_src, kp_tgt, silhouette, background, [photo])[0]


class Photo:
    """A source photo at its own resolution for a warping generator's ``render_photo``: image
    [1,3,H,W] in [-1,1], both poses [1,18,2] in its pixels, its person mask [1,1,H,W] and scene
    [1,3,H,W], and ``box`` (x, y, w, h), where it sits in the model's S x S frame; ``source``: the
    warp's source parts at its resolution when computed before (poseshift.warp.source_parts)."""

    def __init__(self, image, kp_src, kp_tgt, silhouette, background, box, size: int, source=None):
        self.image, self.kp_src, self.kp_tgt = image, kp_src, kp_tgt
        self.silhouette, self.background, self.box, self.size = silhouette, background, box, size
        self.source = source

    def warp(self):
        """The warp redone on the full-resolution photo (poseshift.warp.part_warp)."""
        return part_warp(self.image, self.kp_src, self.kp_tgt, self.silhouette, self.background, self.source)

    def upsample(self, maps: torch.Tensor) -> torch.Tensor:
        """[1,C,S,S] in the model's frame -> [1,C,H,W] over the photo (its box, bilinear)."""
        bx, by, bw, bh = self.box
        return torch.nn.functional.interpolate(maps[:, :, by:by + bh, bx:bx + bw], size=self.image.shape[2:],
                                               mode="bilinear", align_corners=False)

    def displacement(self, d: torch.Tensor) -> torch.Tensor:
        """A sampling-field shift [1,2,S,S] in the model frame's [-1, 1] units -> [1,2,H,W] in the
        photo's: the same shift in pixels of the person."""
        h, w = self.image.shape[2:]
        _, _, bw, bh = self.box
        sx = (self.size - 1) / max(w - 1, 1) * w / max(bw, 1)
        sy = (self.size - 1) / max(h - 1, 1) * h / max(bh, 1)
        return self.upsample(d) * torch.tensor([sx, sy], device=d.device, dtype=d.dtype)[None, :, None, None]
