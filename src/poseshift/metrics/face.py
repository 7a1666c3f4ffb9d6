"""Two checks of the face, the first thing a person looks at (poseshift's own; not in the paper):

* ``face_found``: of the pairs whose ground truth shows a face, the share whose render shows one
  too. A face is MediaPipe's full-range face detector on the image upscaled 2x, at confidence 0.5
  (:class:`poseshift.faces.FaceFinder`). 1.0 means no face the truth shows is ever lost.
* ``head_ssim``: grey SSIM (7x7 uniform window, data range 255) of the render and the ground truth
  on a square crop around the target's head keypoints (nose, eyes, ears, neck), centred on their
  mean, half-side 0.75 x the larger of their x and y ranges plus 8 px (clipped to the image).
  Pairs whose target lacks the neck or has fewer than two of the other head keypoints are left out.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from poseshift.metrics.registry import Metric, MetricOptions, MetricSkipped, PairSample, register_metric
from poseshift.metrics.shape import _PerPair
from poseshift.metrics.ssim import _structural_similarity

__all__ = ["head_crop", "head_ssim", "HEAD_CROP_JOINTS"]

HEAD_CROP_JOINTS = (0, 14, 15, 16, 17)  # nose, eyes, ears (the neck, 1, is required besides)
CROP_SPREAD, CROP_MARGIN, WINDOW = 0.75, 8, 7


def head_crop(kp: np.ndarray | None, h: int, w: int) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of the head square of a target pose [18, 2] in an H x W image, clipped to it;
    None where the neck or two of nose, eyes and ears are missing."""
    if kp is None:
        return None
    kp = np.asarray(kp, dtype=np.float64)
    face = kp[list(HEAD_CROP_JOINTS)]
    face = face[np.isfinite(face).all(1)]
    if not np.isfinite(kp[1]).all() or len(face) < 2:
        return None
    pts = np.vstack([face, kp[1:2]])
    cx, cy = pts.mean(0)
    half = CROP_SPREAD * float((pts.max(0) - pts.min(0)).max()) + CROP_MARGIN
    x0, y0 = max(0, int(round(cx - half))), max(0, int(round(cy - half)))
    x1, y1 = min(w, int(round(cx + half))), min(h, int(round(cy + half)))
    if x1 - x0 < WINDOW or y1 - y0 < WINDOW:
        return None
    return x0, y0, x1, y1


def _grey(image: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("L"), dtype=np.float64)


def head_ssim(target: np.ndarray, generated: np.ndarray, kp: np.ndarray | None) -> float | None:
    """Grey SSIM on the head square of ``kp`` (see the module), or None where it has none."""
    box = head_crop(kp, *target.shape[:2])
    if box is None:
        return None
    x0, y0, x1, y1 = box
    ssim = _structural_similarity()
    return float(ssim(_grey(target)[y0:y1, x0:x1], _grey(generated)[y0:y1, x0:x1], win_size=WINDOW,
                      data_range=255))


@register_metric("head_ssim")
class HeadSSIM(_PerPair):
    def __init__(self, opts: MetricOptions):
        super().__init__(opts)
        _structural_similarity()
        self.settings = {"protocol": "grey SSIM (PIL 'L'), 7x7 uniform window, data_range 255, on a square "
                                     "around the target's nose/eyes/ears/neck centred on their mean, half-side "
                                     f"{CROP_SPREAD} x max(x range, y range) + {CROP_MARGIN} px, clipped",
                         "left_out": "target without neck or with fewer than 2 of nose/eyes/ears"}

    def score(self, s: PairSample) -> float | None:
        return head_ssim(s.target, s.generated, s.target_kp)


@register_metric("face_found")
class FaceFound(Metric):
    def __init__(self, opts: MetricOptions):
        super().__init__(opts)
        finder = opts.cache.get("face_finder")
        if finder is None:
            try:
                from poseshift.faces import FaceFinder

                finder = FaceFinder()
            except ImportError as err:
                raise MetricSkipped(f"no face detector: {err}") from None
            opts.cache["face_finder"] = finder
        self.finder = finder
        self.truth_faces = 0
        self.lost: list[int] = []   # PairSample.index of the pairs whose render lost the face
        from poseshift.faces import CONFIDENCE, UPSCALE

        self.settings = {"detector": "MediaPipe face_detection, full range (model_selection=1)",
                         "upscale": UPSCALE, "confidence": CONFIDENCE,
                         "counted": "pairs whose ground truth shows a face"}

    def update(self, batch: Sequence[PairSample]) -> None:
        for s in batch:
            if not self.finder.shows_face(s.target):
                continue
            self.truth_faces += 1
            if not self.finder.shows_face(s.generated):
                self.lost.append(s.index)
        self.n = self.truth_faces

    def result(self) -> dict[str, Any]:
        found = self.truth_faces - len(self.lost)
        return {"value": found / self.truth_faces if self.truth_faces else None, "found": found,
                "truth_shows_face": self.truth_faces, "lost_pairs": list(self.lost)}
