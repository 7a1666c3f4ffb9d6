"""PCKh of an evaluated folder split by which way the source and the target face.

A warp carries the source's front (or back) into the target pose; when the target is seen the
other way round, the pose detector that PCKh uses reads the render as facing the source's way and
exchanges left and right. This prints, for each kind of pair (front -> front, front -> back,
back -> front, back -> back; "back" where a pose's left shoulder is on the image's left of its
right shoulder), the pairs, the joints counted, PCKh, and PCKh with the detector's left and right
exchanged.

    poseshift evaluate --pairs D/pairs.csv --data D --split train --warp-only --out eval/w --metrics pckh
    python benchmarks/pckh_by_facing.py eval/w

Reads ``report.json`` (its data folder and pairs) and the renders in ``images/`` of that folder.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from poseshift.detect import PoseDetector
from poseshift.images import read_image
from poseshift.layouts import open_layout
from poseshift.metrics.pckh import pckh_joints
from poseshift.pose.schema import JOINTS

R_SH, L_SH = 2, 5


def swapped_order() -> list[int]:
    """Each joint's index with left and right exchanged (COCO-18 names ``r_*``/``l_*``)."""
    names = list(JOINTS)
    swap = {n: n.replace("r_", "l_", 1) if n.startswith("r_") else n.replace("l_", "r_", 1) if n.startswith("l_") else n
            for n in names}
    return [names.index(swap[n]) for n in names]


def facing(kp: np.ndarray) -> str:
    return "back" if kp[L_SH, 0] - kp[R_SH, 0] < 0 else "front"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", help="an `poseshift evaluate --out` folder (report.json and images/)")
    args = ap.parse_args()
    folder = Path(args.folder)
    report = json.loads((folder / "report.json").read_text())
    poses = open_layout(report["data_dir"]).keypoints()
    order, detector, table = swapped_order(), PoseDetector(), {}
    try:
        for a, b in report["pair_list"]:
            render = folder / "images" / f"{Path(a).stem}___{Path(b).stem}.png"
            target = poses[b]
            det = detector(read_image(render))
            plain, exchanged = pckh_joints(det, target), pckh_joints(det[order], target)
            if plain is None:
                continue
            row = table.setdefault(f"{facing(poses[a])} -> {facing(target)}", [0, 0, 0, 0])
            row[0] += 1
            row[1] += int(plain[1].sum())
            row[2] += int(plain[0].sum())
            row[3] += int(exchanged[0].sum())
    finally:
        detector.close()
    print(f"{'pair':16s} {'pairs':>6s} {'joints':>7s} {'PCKh':>6s} {'L/R exchanged':>14s}")
    for kind, (n, joints, right, swapped) in sorted(table.items()):
        print(f"{kind:16s} {n:6d} {joints:7d} {right / joints:6.3f} {swapped / joints:14.3f}")


if __name__ == "__main__":
    main()
