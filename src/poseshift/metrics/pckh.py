"""PCKh: how many target joints a pose detector finds again on the generated image.

The head size follows the PATN evaluation script (``tool/calPCKH_fashion.py`` /
``calPCKH_market.py`` of Zhu et al. 2019), the de-facto protocol of this field with COCO-18, which
has no head-top joint:

* head box: the bounding box ``(w, h)`` of the target's present head joints among nose, neck,
  both eyes and both ears (``HEAD_JOINTS``); it needs at least two of them, else the pair is
  skipped (and counted as ``pairs_without_head``);
* a joint is correct when it is present in the target, present in the detection, and
  ``|dx| < alpha * w`` and ``|dy| < alpha * h`` (strict, per axis; ``alpha = 0.5``);
* joints missing in the target are not counted; joints missing in the detection count as wrong;
* PCKh = correct / counted over all pairs pooled; per joint the same per joint.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from poseshift.metrics.registry import Metric, MetricOptions, MetricSkipped, PairSample, register_metric
from poseshift.pose.schema import JOINTS, NUM_JOINTS

__all__ = ["HEAD_JOINTS", "head_box", "pckh_joints", "pckh"]

HEAD_JOINTS: tuple[int, ...] = (0, 1, 14, 15, 16, 17)  # nose, neck, eyes, ears (PATN's PARTS_SEL)


def head_box(target: np.ndarray) -> tuple[float, float] | None:
    """``(w, h)`` of the box around the target's present head joints, or None with fewer than 2."""
    kp = np.asarray(target, dtype=np.float64)[list(HEAD_JOINTS)]
    kp = kp[np.isfinite(kp).all(axis=1)]
    if len(kp) < 2:
        return None
    span = kp.max(axis=0) - kp.min(axis=0)
    return float(span[0]), float(span[1])


def pckh_joints(detected: np.ndarray, target: np.ndarray, alpha: float = 0.5):
    """``(correct, counted)`` boolean ``[18]`` arrays for one pair, or None when the target has no head box."""
    box = head_box(target)
    if box is None:
        return None
    det = np.asarray(detected, dtype=np.float64).reshape(NUM_JOINTS, 2)
    tgt = np.asarray(target, dtype=np.float64).reshape(NUM_JOINTS, 2)
    counted = np.isfinite(tgt).all(axis=1)
    found = np.isfinite(det).all(axis=1)
    with np.errstate(invalid="ignore"):
        d = np.abs(det - tgt)
        close = (d[:, 0] < alpha * box[0]) & (d[:, 1] < alpha * box[1])
    correct = counted & found & close
    return correct, counted


def pckh(detected: Sequence[np.ndarray], targets: Sequence[np.ndarray], alpha: float = 0.5) -> dict[str, Any]:
    """Pooled PCKh over pairs, with per-joint figures (None where a joint was never counted)."""
    correct = np.zeros(NUM_JOINTS, dtype=np.int64)
    counted = np.zeros(NUM_JOINTS, dtype=np.int64)
    no_head = 0
    for det, tgt in zip(detected, targets):
        r = pckh_joints(det, tgt, alpha)
        if r is None:
            no_head += 1
            continue
        correct += r[0]
        counted += r[1]
    total = int(counted.sum())
    return {
        "value": float(correct.sum() / total) if total else None,
        "correct": int(correct.sum()),
        "counted": total,
        "per_joint": {JOINTS[j]: (float(correct[j] / counted[j]) if counted[j] else None)
                      for j in range(NUM_JOINTS)},
        "pairs_without_head": no_head,
    }


@register_metric("pckh")
class PCKh(Metric):
    alpha = 0.5

    def __init__(self, opts: MetricOptions):
        super().__init__(opts)
        if opts.detector is None:
            raise MetricSkipped("no pose detector given (pass detector=callable(image uint8) -> [18, 2], "
                                "e.g. poseshift.detect)")
        self.detected: list[np.ndarray] = []
        self.targets: list[np.ndarray] = []
        self.settings = {
            "protocol": "PATN calPCKH: target head box of nose/neck/eyes/ears (>= 2 present), joint correct "
                        "when |dx| < alpha*w and |dy| < alpha*h",
            "alpha": self.alpha,
            "detector": getattr(opts.detector, "__name__", type(opts.detector).__name__),
            "target_keypoints": "annotations.csv of the data dir",
            "missing_in_target": "not counted",
            "missing_in_detection": "wrong",
            "reduction": "pooled over all counted joints of all pairs",
        }

    def update(self, batch: Sequence[PairSample]) -> None:
        for s in batch:
            if s.target_kp is None:
                continue
            self.detected.append(np.asarray(self.opts.detector(s.generated), dtype=np.float32))
            self.targets.append(s.target_kp)
        self.n = len(self.targets)

    def result(self) -> dict[str, Any]:
        return pckh(self.detected, self.targets, self.alpha)
