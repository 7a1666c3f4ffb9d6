"""What every warping generator (``model.g_arch: warp`` and ``flow``; not in the paper) shares:
its trunk and zero start, the keypoint check, the render at a photo's own resolution, and the
rule that the learned part does no harm: it may only add what the warp cannot supply.

A warping G gives the source warped part by part into the target pose (:func:`poseshift.warp.part_warp`)
to a ResNet trunk, which answers corrections of that warp. How much of each answer reaches the
render is decided here, from the warp alone, at any resolution (the model's 64 px in training,
the photo's own at inference):

- ``keep`` = 1 where the warp's coverage (its ``union``, how much of the person lands on a pixel)
  is at least KEEP_AT, 0 below KEEP_FROM, linear between: where the warp covers a pixel, the
  render keeps the warp's full-resolution pixels; G's coverage and colour answers count only
  where ``keep`` < 1.
- ``body``: the target's body drawn from its pose (the warp's ``body``). G's coverage answer acts
  only there: it may thin or thicken the person's outline, not reveal the photo elsewhere.
- ``fill`` = 1 where the coverage is 0, 0 from FILL_BELOW up, and only inside ``body``: G's fill
  (what the source never shows: a leg below the crop, a limb whose pixels the source hides) goes
  only where the warp has no coverage, and never over the photo's own background.
- ``free`` = 0 in the head region (where the warp's head part lands, or within
  poseshift.warp.HEAD_MARGIN of the target's head, at least HEAD_FROM; ramps to 1 at 0): there G
  changes nothing, so the face and the hair around it are the source's, moved as one piece
  (poseshift.warp.geometry.head_similarity).
- The sampling-field correction is at most FIELD_BOUND of the frame's height (at any resolution)
  and zero in the head region.

Each threshold is chosen, not given by the paper (eq. 8 trains G unchanged); docs/faces.md
measures them.
"""
from __future__ import annotations

import torch
from torch import nn

from poseshift.nets.resnet import ResnetTrunk
from poseshift.warp import WarpResult, part_warp
from poseshift.warp.photo import row_bands, sample_rows, warp_photo, warp_rows, warp_small, working_size

__all__ = ["WarpingGenerator", "Photo", "Guard", "KEEP_AT", "KEEP_FROM", "FILL_BELOW",
           "FIELD_BOUND", "HEAD_FROM"]

KEEP_AT = 0.5        # coverage at or above which the warp's pixels are kept as they are
KEEP_FROM = 0.25     # coverage below which G's coverage and colour answers act in full
FILL_BELOW = 0.1     # G's fill acts where the coverage is below this (in full at 0)
FIELD_BOUND = 0.02   # the largest sampling-field correction, as a share of the frame's height
HEAD_FROM = 0.05     # the head part's share from which a pixel is in the head region


class Guard:
    """The gates of one warp (see the module): ``keep``, ``fill``, ``free`` and ``body`` [B,1,H,W] in [0,1]."""

    def __init__(self, warp: WarpResult):
        u = warp.union.float()
        self.keep = ((u - KEEP_FROM) / (KEEP_AT - KEEP_FROM)).clamp(0, 1)
        self.body = torch.ones_like(u) if warp.body is None else warp.body.float()
        self.fill = (1 - u / FILL_BELOW).clamp(0, 1) * self.body
        self.free = 1 - (warp.head_mask().float() / HEAD_FROM).clamp(0, 1)


def field_bound(h: int, w: int, device, dtype=torch.float32) -> torch.Tensor:
    """[1,2,1,1]: FIELD_BOUND x H pixels in grid_sample's [-1, 1] units along x and y of an H x W frame."""
    px = FIELD_BOUND * h
    bound = torch.tensor([2 * px / max(w - 1, 1), 2 * px / max(h - 1, 1)], device=device, dtype=dtype)
    return bound[None, :, None, None]


class WarpingGenerator(nn.Module):
    """G(I | p_f, p_o) over a part warp: image [B,3,H,W] in [-1,1], target maps [B,18,H,W], source and
    target keypoints [B,18,2] (pixels, NaN missing) -> [B,3,H,W] in [-1,1].

    A subclass names its trunk's extra inputs (``inputs``), splits the trunk's output into named
    answers (``split``; FIELD_ANSWERS are field shifts in [-1, 1] units, the rest logits) and
    composes them with the warp under the guard (``compose``). The trunk's last layer starts at
    zero, so an untrained G renders the warp itself."""

    needs_source_pose = True
    FIELD_ANSWERS: tuple[str, ...] = ()
    arch = "warping"

    def __init__(self, in_ch: int, out_ch: int, channels: int, n_blocks: int, norm: str, upsample: str):
        super().__init__()
        self.trunk = ResnetTrunk(in_ch, out_ch, channels, n_blocks, norm, tanh=False, upsample=upsample)
        last = self.trunk.net[-1]
        assert isinstance(last, nn.Conv2d)
        with torch.no_grad():  # every answer starts at zero: an untrained G answers the warp
            last.weight.zero_()
            last.bias.zero_()

    # -- what a subclass says
    def inputs(self, image: torch.Tensor, maps: torch.Tensor, warp: WarpResult) -> torch.Tensor:
        raise NotImplementedError

    def split(self, out: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def compose(self, image: torch.Tensor, warp: WarpResult, answers: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    # -- shared
    def check(self, image, maps, kp_src, kp_tgt) -> None:
        if kp_src is None or kp_tgt is None:
            raise ValueError(f"model.g_arch={self.arch} needs the source photo's pose and the target pose "
                             "(keypoints), not only the target's belief maps")
        if image.shape[0] != maps.shape[0] or image.shape[2:] != maps.shape[2:]:
            raise ValueError(f"image {list(image.shape)} and maps {list(maps.shape)} disagree")

    def answers(self, image, maps, kp_src, kp_tgt, silhouette=None, background=None):
        """-> the warp of ``image`` (poseshift.warp.part_warp) and G's named answers at its size."""
        self.check(image, maps, kp_src, kp_tgt)
        warp = part_warp(image, kp_src, kp_tgt, silhouette, background)
        return warp, self.split(self.trunk(self.inputs(image, maps.to(image.dtype), warp)))

    def forward(self, image: torch.Tensor, maps: torch.Tensor, kp_src: torch.Tensor | None = None,
                kp_tgt: torch.Tensor | None = None, silhouette: torch.Tensor | None = None) -> torch.Tensor:
        warp, ans = self.answers(image, maps, kp_src, kp_tgt, silhouette)
        return self.compose(image, warp, ans)

    def render_photos(self, x, maps, kp_src, kp_tgt, silhouette, background, photos: list[Photo]
                      ) -> list[torch.Tensor]:
        """Each of a batch's renders [1,3,H,W] at its photo's own resolution: G once on the batch in
        the model's frame, its answers cropped to each photo's box and upsampled (a field shift
        rescaled to the photo's pixels), the warp and the guard redone on the full-resolution photo."""
        _, ans = self.answers(x, maps, kp_src, kp_tgt, silhouette, background)
        renders = []
        for i, photo in enumerate(photos):
            mine = {k: v[i:i + 1] for k, v in ans.items()}
            if not photo.large:
                up = {k: (photo.displacement(v) if k in self.FIELD_ANSWERS else photo.upsample(v))
                      for k, v in mine.items()}
                renders.append(self.compose(photo.image, photo.warp(), up))
                continue
            # A photo above the working size: the warp's geometry once at the working resolution,
            # then the render composed a band of rows at a time (every step is per pixel).
            small, out = photo.warp_small(), torch.empty_like(photo.image, dtype=torch.float32)
            for rows in photo.bands():
                up = {k: photo.rows(v, rows, k in self.FIELD_ANSWERS) for k, v in mine.items()}
                out[:, :, rows[0]:rows[1]] = self.compose(photo.image, photo.warp_rows(small, rows), up)
            renders.append(out)
        return renders

    def render_photo(self, x, maps, kp_src, kp_tgt, silhouette, background, photo: Photo) -> torch.Tensor:
        """The render at the photo's own resolution, for a batch of one."""
        return self.render_photos(x, maps, kp_src, kp_tgt, silhouette, background, [photo])[0]


class Photo:
    """A source photo at its own resolution for a warping generator's ``render_photo``: image
    [1,3,H,W] in [-1,1], both poses [1,18,2] in its pixels, its person mask [1,1,H,W] and scene
    [1,3,H,W], and ``box`` (x, y, w, h), where it sits in the model's S x S frame; ``source``: the
    warp's source parts at its working resolution when computed before
    (poseshift.warp.photo.photo_source_parts)."""

    def __init__(self, image, kp_src, kp_tgt, silhouette, background, box, size: int, source=None):
        self.image, self.kp_src, self.kp_tgt = image, kp_src, kp_tgt
        self.silhouette, self.background, self.box, self.size = silhouette, background, box, size
        self.source = source

    def warp(self) -> WarpResult:
        """The warp redone for the full-resolution photo: its geometry at a working resolution, the
        photo sampled at its own (poseshift.warp.photo.warp_photo)."""
        return warp_photo(self.image, self.kp_src, self.kp_tgt, self.silhouette, self.background, self.source)

    @property
    def large(self) -> bool:
        """More pixels than the warp's working resolution (poseshift.warp.photo.WORK_PIXELS)."""
        h, w = self.image.shape[2:]
        return working_size(h, w) != (h, w)

    def warp_small(self) -> WarpResult:
        """The warp at the working resolution (poseshift.warp.photo.warp_small)."""
        return warp_small(self.image, self.kp_src, self.kp_tgt, self.silhouette, self.background, self.source)

    def warp_rows(self, small: WarpResult, rows: tuple[int, int]) -> WarpResult:
        return warp_rows(small, self.image, self.background, rows)

    def bands(self) -> list[tuple[int, int]]:
        """The photo's rows in bands of about poseshift.warp.photo.BAND_PIXELS pixels."""
        return row_bands(*self.image.shape[2:])

    def rows(self, maps: torch.Tensor, rows: tuple[int, int], field: bool = False) -> torch.Tensor:
        """Rows y0..y1 of ``upsample(maps)`` (of ``displacement(maps)`` where ``field``)."""
        bx, by, bw, bh = self.box
        band = sample_rows(maps[:, :, by:by + bh, bx:bx + bw], rows, tuple(self.image.shape[2:]))
        return band * self._field_scale(maps) if field else band

    def upsample(self, maps: torch.Tensor) -> torch.Tensor:
        """[1,C,S,S] in the model's frame -> [1,C,H,W] over the photo (its box, bilinear)."""
        bx, by, bw, bh = self.box
        return torch.nn.functional.interpolate(maps[:, :, by:by + bh, bx:bx + bw], size=self.image.shape[2:],
                                               mode="bilinear", align_corners=False)

    def displacement(self, d: torch.Tensor) -> torch.Tensor:
        """A sampling-field shift [1,2,S,S] in the model frame's [-1, 1] units -> [1,2,H,W] in the
        photo's: the same shift in pixels of the person."""
        return self.upsample(d) * self._field_scale(d)

    def _field_scale(self, d: torch.Tensor) -> torch.Tensor:
        """[1,2,1,1]: a shift in the model frame's [-1, 1] units -> the same in the photo's."""
        h, w = self.image.shape[2:]
        _, _, bw, bh = self.box
        sx = (self.size - 1) / max(w - 1, 1) * w / max(bw, 1)
        sy = (self.size - 1) / max(h - 1, 1) * h / max(bh, 1)
        return torch.tensor([sx, sy], device=d.device, dtype=d.dtype)[None, :, None, None]
