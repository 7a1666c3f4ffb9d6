"""Two checks of a render that SSIM does not make (not in the paper; poseshift's own):

* ``sharpness``: within the target's body, at the photo's resolution, the variance of the render's
  Laplacian as a share of the ground truth's. 1 is as much fine detail as the real photo; an
  upsampled 64-px render or a smeared body scores far below.
* ``silhouette_iou``: the intersection over union of the person masks of the render and of the
  ground truth, both segmented the same way (poseshift.silhouette, MediaPipe): is the body's
  outline where the target's is.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from poseshift.metrics.registry import Metric, MetricOptions, MetricSkipped, PairSample, register_metric
from poseshift.metrics.ssim import body_mask


def laplacian(image: np.ndarray) -> np.ndarray:
    """uint8 [H,W,3] -> float64 [H-2, W-2]: the 4-neighbour Laplacian of its luminance."""
    g = np.asarray(image, dtype=np.float64) @ np.array([0.299, 0.587, 0.114])
    return 4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]


def sharpness(target: np.ndarray, generated: np.ndarray, mask: np.ndarray) -> float | None:
    """var(Laplacian(generated)) / var(Laplacian(target)) over ``mask`` [H,W] (None: flat target)."""
    m = np.asarray(mask, dtype=bool)[1:-1, 1:-1]
    if m.sum() < 16:
        return None
    ref = laplacian(target)[m].var()
    return float(laplacian(generated)[m].var() / ref) if ref > 1e-9 else None


def iou(a: np.ndarray, b: np.ndarray) -> float | None:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else None


class _PerPair(Metric):
    def __init__(self, opts: MetricOptions):
        super().__init__(opts)
        self.scores: list[float] = []
        self.skipped = 0

    def score(self, s: PairSample) -> float | None:  # pragma: no cover - interface
        raise NotImplementedError

    def update(self, batch: Sequence[PairSample]) -> None:
        for s in batch:
            v = self.score(s)
            if v is None:
                self.skipped += 1
            else:
                self.scores.append(v)
        self.n = len(self.scores)

    def result(self) -> dict[str, Any]:
        a = np.asarray(self.scores, dtype=np.float64)
        if a.size == 0:
            return {"value": None, "skipped": self.skipped}
        return {"value": float(a.mean()), "median": float(np.median(a)), "std": float(a.std()),
                "skipped": self.skipped}


@register_metric("sharpness")
class Sharpness(_PerPair):
    def __init__(self, opts: MetricOptions):
        super().__init__(opts)
        self.settings = {
            "protocol": "poseshift: var(4-neighbour Laplacian of luminance) of the render over the ground "
                        "truth's, inside the target's body mask, at the ground truth's resolution; mean over pairs",
            "mask": "poseshift.metrics.ssim.body_mask of the target keypoints",
            "skipped": "pairs without target joints or with a flat ground truth",
        }

    def score(self, s: PairSample) -> float | None:
        if s.target_kp is None or not np.isfinite(s.target_kp).all(axis=1).any():
            return None
        h, w = s.target.shape[:2]
        return sharpness(s.target, s.generated, body_mask(s.target_kp, h, w))


@register_metric("silhouette_iou")
class SilhouetteIoU(_PerPair):
    threshold = 0.5

    def __init__(self, opts: MetricOptions):
        super().__init__(opts)
        try:
            from poseshift.silhouette import Segmenter

            self.segment = Segmenter()
        except ImportError as err:  # pragma: no cover - MediaPipe is a core dependency
            raise MetricSkipped(f"silhouette_iou needs MediaPipe ({err})") from None
        self.settings = {
            "protocol": "poseshift: IoU of the person masks of render and ground truth, each from MediaPipe "
                        "pose segmentation (selfie segmentation where no pose is found), threshold 0.5",
            "skipped": "pairs where neither image has a person",
        }

    def score(self, s: PairSample) -> float | None:
        return iou(self.segment(s.generated) > self.threshold, self.segment(s.target) > self.threshold)

    def result(self) -> dict[str, Any]:
        self.segment.close()
        return super().result()
