"""The warp of a photo of any size, in memory that does not grow with its pixels.

A 12-megapixel phone photo warped at its own resolution holds every part's share, sampling grid
and mask for every pixel: about 800 bytes a pixel, 10 GB. Here the geometry (part shares, the
sampling field, coverage, the head's region) is computed at a working resolution of about
WORK_PIXELS around the person, and only the field, the coverage and the head's region are
upsampled: the photo itself is sampled once, at its own resolution, so the person's pixels are
the photo's own (rendering small and upscaling would blur them). A photo of at most WORK_PIXELS
is warped at its own resolution, exactly as :func:`poseshift.warp.part_warp`.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from poseshift.warp import SourceParts, WarpResult, compose, part_warp, source_parts

__all__ = ["WORK_PIXELS", "BAND_PIXELS", "working_size", "row_bands", "photo_source_parts", "warp_photo",
           "warp_small", "sample_rows", "warp_rows"]

# Not given anywhere: the warp's geometry is computed on at most this many pixels (about 1 MP,
# 1155 x 866 for a 4:3 photo); a DeepFashion photo (256 x 176) is far below it.
WORK_PIXELS = 1_000_000
# Above the working size, the photo's render is composed this many pixels of rows at a time.
BAND_PIXELS = 1_000_000


def working_size(h: int, w: int, work_pixels: int | None = None) -> tuple[int, int]:
    """(h, w) of the working resolution: the photo's own when it has at most ``work_pixels``
    (None: WORK_PIXELS)."""
    work_pixels = WORK_PIXELS if work_pixels is None else work_pixels
    if h * w <= work_pixels:
        return h, w
    s = math.sqrt(work_pixels / (h * w))
    return max(1, round(h * s)), max(1, round(w * s))


def row_bands(h: int, w: int) -> list[tuple[int, int]]:
    """An H x W photo's rows in bands of about BAND_PIXELS pixels."""
    step = max(1, BAND_PIXELS // max(w, 1))
    return [(y, min(h, y + step)) for y in range(0, h, step)]


def _down(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x.float(), size=size, mode="area") if tuple(x.shape[-2:]) != size else x.float()


def _to_work(kp: torch.Tensor, full: tuple[int, int], work: tuple[int, int]) -> torch.Tensor:
    """Keypoints in the photo's pixels -> the working resolution's (pixel centres kept)."""
    scale = torch.tensor([work[1] / full[1], work[0] / full[0]], device=kp.device, dtype=torch.float32)
    return (kp.float() + 0.5) * scale - 0.5


def photo_source_parts(kp_src: torch.Tensor, h: int, w: int, silhouette: torch.Tensor | None,
                       work_pixels: int | None = None) -> SourceParts:
    """poseshift.warp.source_parts of an H x W photo, at its working resolution."""
    size = working_size(h, w, work_pixels)
    sil = None if silhouette is None else _down(silhouette, size)
    return source_parts(_to_work(kp_src, (h, w), size), *size, sil)


def sample_rows(small: torch.Tensor, rows: tuple[int, int], full: tuple[int, int]) -> torch.Tensor:
    """[1,C,h,w] -> [1,C,y1-y0,W]: rows y0..y1 of ``small`` upsampled (bilinear, pixel centres kept,
    edges held) to a ``full`` (H, W) frame: the same values as ``F.interpolate`` to (H, W), one band
    at a time."""
    (y0, y1), (h, w) = rows, full
    dev = small.device
    ys = (2 * (torch.arange(y0, y1, device=dev, dtype=torch.float32) + 0.5) / h - 1)
    xs = (2 * (torch.arange(w, device=dev, dtype=torch.float32) + 0.5) / w - 1)
    grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], -1)[None]
    return F.grid_sample(small.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)


def warp_rows(small: WarpResult, image: torch.Tensor, background: torch.Tensor, rows: tuple[int, int]
              ) -> WarpResult:
    """Rows y0..y1 of the warp of the full photo ``image`` [1,3,H,W] (scene ``background``) from its
    working-resolution warp ``small``: the field, coverage, reach and head region upsampled there,
    the photo sampled at its own resolution."""
    full = tuple(image.shape[-2:])
    y0, y1 = rows
    packed = torch.cat([small.field.permute(0, 3, 1, 2), small.union, small.reach, small.head_mask(), small.body], 1)
    band = sample_rows(packed, rows, full)
    field, union = band[:, :2].permute(0, 2, 3, 1), band[:, 2:3]
    scene = background[:, :, y0:y1].float()
    warped = compose(image.float(), field, union, scene)
    return WarpResult(warped, None, union, field, scene, band[:, 3:4], band[:, 4:5], band[:, 5:6])


def warp_photo(image: torch.Tensor, kp_src: torch.Tensor, kp_tgt: torch.Tensor, silhouette: torch.Tensor | None,
               background: torch.Tensor, source: SourceParts | None = None,
               work_pixels: int | None = None) -> WarpResult:
    """part_warp of a photo ``image`` [1,3,H,W] (poses [1,18,2] in its pixels, its person mask
    [1,1,H,W] and scene [1,3,H,W]) at the working resolution, the photo sampled at its own. The
    answer's ``masks`` are None above the working size; ``head`` holds the head part's."""
    full = tuple(image.shape[-2:])
    size = working_size(*full, work_pixels)
    if size == full:
        return part_warp(image, kp_src, kp_tgt, silhouette, background, source)
    return warp_rows(warp_small(image, kp_src, kp_tgt, silhouette, background, source, work_pixels),
                     image, background, (0, full[0]))


def warp_small(image, kp_src, kp_tgt, silhouette, background, source=None, work_pixels: int | None = None
               ) -> WarpResult:
    """The warp of a photo at its working resolution (keypoints in the photo's pixels)."""
    full = tuple(image.shape[-2:])
    size = working_size(*full, work_pixels)
    return part_warp(_down(image, size), _to_work(kp_src, full, size), _to_work(kp_tgt, full, size),
                     None if silhouette is None else _down(silhouette, size), _down(background, size), source)
