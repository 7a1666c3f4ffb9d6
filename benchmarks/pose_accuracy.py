"""Accuracy and speed of poseshift's pose detector on the real data slices.

Runs ``poseshift.detect.PoseDetector`` on every image of ``deepfashion-mini`` and ``market-mini``
(../shared/data, or $POSESHIFT_SHARED_DATA) and compares with their ``annotations.csv``
(OpenPose/CPM-made, the keypoints the literature trains on). Prints overall and per-joint
PCKh@0.5, ms/image, and how many joints the detector adds where the annotation has none.

PCKh follows the PATN evaluation script (poseshift.metrics.pckh): head size = the (w, h) box of
the annotation's present nose/neck/eyes/ears (images with fewer than two are skipped); a joint is
correct when |dx| < 0.5 w and |dy| < 0.5 h; annotated joints the detector misses count as wrong.

    python benchmarks/pose_accuracy.py [--plain] [--limit N]

``--plain`` also scores the plain mapping (one pass, visibility 0.5 everywhere, no border).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from poseshift.detect import PoseDetector
from poseshift.images import read_image, resolve_by_stem
from poseshift.metrics.pckh import pckh
from poseshift.pose.keypoints_io import read_annotations_csv

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("POSESHIFT_SHARED_DATA", REPO.parent / "shared" / "data"))
PLAIN = dict(visibility=0.5, limb_visibility=0.5, border=0.0, retry_below=None)


def run(dataset: str, settings: dict, limit: int | None) -> None:
    root = DATA / dataset
    ann = read_annotations_csv(root / "annotations.csv")
    names = list(ann)[:limit] if limit else list(ann)
    images = [read_image(resolve_by_stem(root / "images", n)) for n in names]
    preds = []
    with PoseDetector(**settings) as det:
        det(images[0])  # warm-up, not timed
        det.passes = 0
        t0 = time.perf_counter()
        for im in images:
            preds.append(det(im))
        ms = 1000 * (time.perf_counter() - t0) / len(images)
        passes = det.passes / len(images)
    targets = [ann[n] for n in names]
    r = pckh(preds, targets)
    undetected = sum(not np.isfinite(p).any() for p in preds)
    extra = sum(int((np.isfinite(p).all(1) & ~np.isfinite(t).all(1)).sum())
                for p, t in zip(preds, targets))
    label = "plain" if settings is PLAIN else "default"
    print(f"\n{dataset} [{label}]: {len(names)} images, PCKh@0.5 = {r['value']:.4f} "
          f"({r['correct']}/{r['counted']}), {ms:.1f} ms/image ({passes:.2f} MediaPipe passes/image), "
          f"no person found on {undetected}, joints added where the annotation has none: {extra}")
    print("  " + "  ".join(f"{j}={v:.3f}" if v is not None else f"{j}=n/a" for j, v in r["per_joint"].items()))


def main(argv: list[str]) -> int:
    if not (DATA / "deepfashion-mini" / "annotations.csv").is_file():
        print(f"real data slices absent: {DATA} has no deepfashion-mini", file=sys.stderr)
        return 1
    limit = int(argv[argv.index("--limit") + 1]) if "--limit" in argv else None
    for dataset in ("deepfashion-mini", "market-mini"):
        run(dataset, {}, limit)
        if "--plain" in argv:
            run(dataset, PLAIN, limit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
