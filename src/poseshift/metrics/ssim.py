"""SSIM in each convention of the literature, and Mask-SSIM.

* ``ssim`` -- the PATN-era call (Zhu et al. 2019, inherited from PG2 / Deformable GAN), which
  reproduces the peers' own figures: scikit-image ``structural_similarity(gt, generated,
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False, channel_axis=-1,
  data_range=generated.max() - generated.min())`` on uint8 RGB, averaged over pairs; images
  176 wide (DeepFashion as published) first get 40 white columns on each side, to 256, as
  PATN's ``tool/getMetrics_fashion.py`` (``addBounding``) does.
* ``ssim_gfla`` -- the later call (GFLA / DPTN / CFLD / PIDM ``ssim``): ``data_range=1,
  win_size=51`` on float32 images in [0, 1] (uint8 / 255), unpadded, other arguments at
  scikit-image's defaults. Not comparable with ``ssim``.
* ``ssim_256`` -- GFLA's ``SSIM_256`` (also DPTN's and CFLD's): the PATN arguments (sigma 1.5)
  on float32 images in [0, 255] (uint8 / 255 * 255), unpadded.
* ``ssim_256_pidm`` -- PIDM's ``ssim_256``: the same with ``sigma=1.2``.
* ``mask_ssim`` -- the PATN call with both images multiplied by :func:`body_mask` of the
  *target* keypoints (PG2's Mask-SSIM).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from poseshift.metrics.registry import Metric, MetricOptions, MetricSkipped, PairSample, register_metric
from poseshift.pose.schema import LIMBS

__all__ = ["ssim_patn", "ssim_gfla", "ssim_256", "pad_like_patn", "body_mask", "mask_ssim", "MASK_PARAMS"]

PATN_SSIM_ARGS = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, channel_axis=-1)
GFLA_SSIM_ARGS = dict(data_range=1, win_size=51, channel_axis=-1)


def _structural_similarity():
    try:
        from skimage.metrics import structural_similarity
    except ImportError:  # pragma: no cover - depends on the environment
        raise MetricSkipped("SSIM needs scikit-image: pip install scikit-image") from None
    return structural_similarity


PATN_BOUND = 40  # white columns PATN adds on each side of a 176-wide image (176 + 80 = 256)


def pad_like_patn(image: np.ndarray) -> np.ndarray:
    """A 176-wide uint8 image with 40 white columns on each side, as PATN scores it; others as is."""
    image = np.asarray(image)
    if image.shape[1] != 176:
        return image
    out = np.full((image.shape[0], image.shape[1] + 2 * PATN_BOUND, image.shape[2]), 255, dtype=np.uint8)
    out[:, PATN_BOUND:PATN_BOUND + image.shape[1]] = image
    return out


def ssim_patn(gt: np.ndarray, generated: np.ndarray) -> float:
    """The PATN-era SSIM of one pair of uint8 RGB images (176-wide ones padded to 256 first)."""
    return _patn_call(pad_like_patn(gt), pad_like_patn(generated))


def _patn_call(gt: np.ndarray, gen: np.ndarray) -> float:
    sk = _structural_similarity()
    gen = np.asarray(gen)
    return float(sk(np.asarray(gt), gen, data_range=float(gen.max()) - float(gen.min()), **PATN_SSIM_ARGS))


def ssim_256(gt: np.ndarray, generated: np.ndarray, sigma: float = 1.5) -> float:
    """GFLA's SSIM_256 (``sigma=1.2``: PIDM's): the PATN arguments on float32 [0, 255] images."""
    sk = _structural_similarity()
    a = np.asarray(gt).astype(np.float32) / 255.0 * 255.0
    b = np.asarray(generated).astype(np.float32) / 255.0 * 255.0
    args = dict(PATN_SSIM_ARGS, sigma=sigma)
    return float(sk(a, b, data_range=float(b.max()) - float(b.min()), **args))


def ssim_gfla(gt: np.ndarray, generated: np.ndarray) -> float:
    """The GFLA/PIDM-era SSIM of one pair: uint8 images as float32 in [0, 1], data_range=1, win_size=51."""
    sk = _structural_similarity()
    a = np.asarray(gt).astype(np.float32) / 255.0
    b = np.asarray(generated).astype(np.float32) / 255.0
    win = min(GFLA_SSIM_ARGS["win_size"], *(s if s % 2 else s - 1 for s in a.shape[:2]))
    args = dict(GFLA_SSIM_ARGS, win_size=win)
    return float(sk(a, b, **args))


# ----------------------------------------------------------------------------- body mask

# All sizes are fractions of the image height H (e.g. at H = 256: limbs 15 px wide, joint discs
# of radius 8 px, head disc at least 15 px in radius, dilation by 7 px).
MASK_PARAMS: dict[str, Any] = {
    "limb_width": 0.06,      # stroke width of every limb (LIMBS plus the torso/head links below)
    "joint_radius": 0.03,    # disc at every present joint
    "head_radius": 0.06,     # minimum radius of the head disc (centred on the face joints' box)
    "dilate_radius": 0.03,   # final dilation: square kernel of side 2 r + 1 (PG2 used a square)
    "torso": (2, 5, 11, 8),  # shoulders and hips: filled polygon when >= 3 are present
    "extra_links": ((2, 8), (5, 11), (8, 11), (2, 5), (1, 16), (1, 17), (16, 17)),
    "face": (0, 14, 15, 16, 17),
}


def _px(frac: float, height: int, minimum: int = 1) -> int:
    return max(minimum, int(round(frac * height)))


def body_mask(kp: np.ndarray, height: int, width: int, params: dict[str, Any] | None = None) -> np.ndarray:
    """A ``bool [H, W]`` body mask drawn from COCO-18 keypoints (x, y; NaN missing).

    Limbs (``LIMBS`` and ``extra_links``) are thick lines, the torso a filled polygon, every
    joint a disc, the face a disc centred on the face joints' box that covers them all; the
    result is dilated. Sizes scale with the image height (see :data:`MASK_PARAMS`).
    """
    p = dict(MASK_PARAMS, **(params or {}))
    kp = np.asarray(kp, dtype=np.float64).reshape(-1, 2)
    present = np.isfinite(kp).all(axis=1)
    img = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(img)
    lw = _px(p["limb_width"], height, 2)
    jr = _px(p["joint_radius"], height)

    def pt(i):
        return (float(kp[i, 0]), float(kp[i, 1]))

    torso = [pt(i) for i in p["torso"] if present[i]]
    if len(torso) >= 3:
        draw.polygon(torso, fill=255)
    for a, b in tuple(LIMBS) + tuple(p["extra_links"]):
        if present[a] and present[b]:
            draw.line([pt(a), pt(b)], fill=255, width=lw)
    for i in np.flatnonzero(present):
        x, y = pt(i)
        draw.ellipse([x - jr, y - jr, x + jr, y + jr], fill=255)
    face = [i for i in p["face"] if present[i]]
    if face:
        c = (kp[face].min(axis=0) + kp[face].max(axis=0)) / 2
        r = max(_px(p["head_radius"], height), float(np.linalg.norm(kp[face] - c, axis=1).max()))
        draw.ellipse([c[0] - r, c[1] - r, c[0] + r, c[1] + r], fill=255)
    dr = _px(p["dilate_radius"], height, 0)
    if dr > 0:
        img = img.filter(ImageFilter.MaxFilter(2 * dr + 1))
    return np.asarray(img) > 0


def mask_ssim(gt: np.ndarray, generated: np.ndarray, mask: np.ndarray) -> float:
    """The PATN SSIM call on both images multiplied by a ``[H, W]`` mask (no padding: the mask is
    drawn in the images' own frame)."""
    m = np.asarray(mask, dtype=np.uint8)[..., None]
    return _patn_call(np.asarray(gt) * m, np.asarray(generated) * m)


# ----------------------------------------------------------------------------- registered metrics

class _MeanOverPairs(Metric):
    def __init__(self, opts: MetricOptions):
        super().__init__(opts)
        _structural_similarity()
        self.scores: list[float] = []

    def score(self, s: PairSample) -> float | None:  # pragma: no cover - interface
        raise NotImplementedError

    def update(self, batch: Sequence[PairSample]) -> None:
        for s in batch:
            v = self.score(s)
            if v is not None:
                self.scores.append(v)
        self.n = len(self.scores)

    def result(self) -> dict[str, Any]:
        a = np.asarray(self.scores, dtype=np.float64)
        if a.size == 0:
            return {"value": None, "std": None}
        return {"value": float(a.mean()), "std": float(a.std())}


@register_metric("ssim")
class SSIM(_MeanOverPairs):
    def __init__(self, opts: MetricOptions):
        super().__init__(opts)
        self.settings = {
            "protocol": "PATN (Zhu et al. 2019), as PG2 / Deformable GAN",
            "call": "skimage.metrics.structural_similarity(gt, generated, gaussian_weights=True, sigma=1.5, "
                    "use_sample_covariance=False, channel_axis=-1, data_range=generated.max()-generated.min())",
            "input": "uint8 RGB, generated at the ground truth's size; 176-wide images padded with 40 "
                     "white columns on each side (PATN's addBounding)",
            "reduction": "mean over pairs",
        }

    def score(self, s: PairSample) -> float:
        return ssim_patn(s.target, s.generated)


@register_metric("ssim_gfla")
class SSIMGfla(_MeanOverPairs):
    def __init__(self, opts: MetricOptions):
        super().__init__(opts)
        self.settings = {
            "protocol": "GFLA / PIDM / CFLD",
            "call": "skimage.metrics.structural_similarity(gt, generated, data_range=1, win_size=51, "
                    "channel_axis=-1)",
            "input": "RGB float32 in [0, 1] (uint8 / 255), unpadded; win_size shrinks to the largest odd size "
                     "<= the image side when an image is smaller than 51",
            "reduction": "mean over pairs",
        }

    def score(self, s: PairSample) -> float:
        return ssim_gfla(s.target, s.generated)


@register_metric("ssim_256")
class SSIM256(_MeanOverPairs):
    sigma = 1.5
    protocol = "GFLA / DPTN / CFLD SSIM_256"

    def __init__(self, opts: MetricOptions):
        super().__init__(opts)
        self.settings = {
            "protocol": self.protocol,
            "call": f"skimage.metrics.structural_similarity(gt, generated, gaussian_weights=True, sigma={self.sigma}, "
                    "use_sample_covariance=False, channel_axis=-1, data_range=generated.max()-generated.min())",
            "input": "RGB float32 in [0, 255] (uint8 / 255 * 255), unpadded",
            "reduction": "mean over pairs",
        }

    def score(self, s: PairSample) -> float:
        return ssim_256(s.target, s.generated, self.sigma)


@register_metric("ssim_256_pidm")
class SSIM256Pidm(SSIM256):
    sigma = 1.2
    protocol = "PIDM ssim_256 (its utils/metrics.py: sigma 1.2)"


@register_metric("mask_ssim")
class MaskSSIM(_MeanOverPairs):
    def __init__(self, opts: MetricOptions):
        super().__init__(opts)
        self.skipped_no_pose = 0
        self.settings = {
            "protocol": "PG2 Mask-SSIM: the PATN SSIM call on gt * mask and generated * mask",
            "mask": "poseshift.metrics.ssim.body_mask of the target keypoints (limb lines, torso polygon, "
                    "joint and head discs, then dilated)",
            "mask_params_fraction_of_height": {k: v for k, v in MASK_PARAMS.items()},
            "pairs_without_target_joints": "skipped",
        }

    def score(self, s: PairSample) -> float | None:
        if s.target_kp is None or not np.isfinite(s.target_kp).all(axis=1).any():
            self.skipped_no_pose += 1
            return None
        h, w = s.target.shape[:2]
        return mask_ssim(s.target, s.generated, body_mask(s.target_kp, h, w))

    def result(self) -> dict[str, Any]:
        return dict(super().result(), skipped_no_pose=self.skipped_no_pose)
