"""Inference speed: ``poseshift transfer`` over 100 pairs in one call, and one ``Reposer`` call.

    python benchmarks/transfer_speed.py                 # 100 pairs with the packaged model; Reposer at 256

1. ``poseshift transfer --pairs`` on 100 pairs of synthetic people (64 px, the packaged
   ``synthetic-64``), timed end to end in this process (load, read, render, write): images/s.
2. One ``Reposer`` call (photo in, render in the photo's frame out) at 256 px with the
   ``paper`` preset's G (9 blocks, random weights: speed does not depend on them), fp32 and
   bf16 autocast, after a warm-up: ms per call, the median of ``--calls``.
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import statistics
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import torch

from poseshift.cli import main as cli
from poseshift.config import load_config
from poseshift.devices import bf16_is_fast
from poseshift.nets import build_generator
from poseshift.synth import write_dataset
from poseshift.transfer import Reposer


def pairs_rate(tmp: Path, n: int) -> float:
    data = tmp / "people"
    write_dataset(data, max(10, n // 4), 4, 64, 0, progress=False)
    names = [row["name"] for row in csv.DictReader((data / "split.csv").open())]
    rng = np.random.default_rng(0)
    with (tmp / "pairs.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["from", "to"])
        for _ in range(n):
            a, b = rng.choice(len(names), 2, replace=False)
            w.writerow([names[a], names[b]])
    t0 = time.perf_counter()
    with redirect_stdout(io.StringIO()):
        rc = cli(["transfer", "--checkpoint", "synthetic-64", "--pairs", str(tmp / "pairs.csv"), "--data", str(data),
                  "--out", str(tmp / "out"), "--quiet"])
    seconds = time.perf_counter() - t0
    assert rc == 0 and len(list((tmp / "out").iterdir())) == n
    return n / seconds


def call_ms(size: int, bf16: bool, calls: int) -> tuple[float, str]:
    """Median ms of a call, and the dtype it ran in (bf16 asked on a CPU without bf16 units: fp32)."""
    cfg = load_config("paper", [f"model.image_size={size}"])
    reposer = Reposer(build_generator(cfg), cfg, torch.device("cpu"), bf16=bf16)
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 255, (size, size * 11 // 16, 3), dtype=np.uint8)  # DeepFashion's 256x176
    kp = np.stack([rng.uniform(20, size * 11 // 16 - 20, 18), rng.uniform(20, size - 20, 18)], 1).astype(np.float32)
    reposer.render_in_frame(photo, kp)
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        reposer.render_in_frame(photo, kp)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, "bf16" if reposer.G.bf16 else "fp32" + ("*" if bf16 else "")


def bf16_difference() -> tuple[float, int] | None:
    """Mean and max |fp32 - bf16| (uint8 levels) of the packaged model's renders of synthetic people."""
    from poseshift.pose.keypoints_io import read_annotations_csv
    from poseshift.stick_figures import write_figures

    with tempfile.TemporaryDirectory() as tmp:
        data = write_figures(Path(tmp), people=4, poses_per_person=2, size=64, seed=5)
        ann = list(read_annotations_csv(data / "annotations.csv").items())
        a, b = Reposer.from_checkpoint("synthetic-64"), Reposer.from_checkpoint("synthetic-64", bf16=True)
        if not b.G.bf16:  # no fast bf16 here: both run in fp32
            return None
        diffs = []
        for (name, own), (_, target) in zip(ann, ann[1:] + ann[:1]):
            image = str(next((data / "images").glob(Path(name).stem + ".*")))
            diffs.append(np.abs(a.render_in_frame(image, target, own).astype(int) - b.render_in_frame(image, target, own)))
    d = np.stack(diffs)
    return float(d.mean()), int(d.max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=100)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--calls", type=int, default=10)
    args = ap.parse_args()
    print(f"# poseshift inference: {os.cpu_count()} cores, torch {torch.__version__}, threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as tmp:
        print(f"poseshift transfer --pairs, {args.pairs} pairs, synthetic-64: {pairs_rate(Path(tmp), args.pairs):.1f} images/s")
    fast, why = bf16_is_fast("cpu")
    print(f"# bf16: {'used' if fast else 'asked, fp32 used (rows fp32*)'}: {why}")
    for bf16 in (False, True):
        ms, used = call_ms(args.size, bf16, args.calls)
        print(f"Reposer call at {args.size} px, paper G, {used}: {ms:.0f} ms", flush=True)
    diff = bf16_difference()
    if diff is not None:
        print(f"bf16 against fp32, synthetic-64 renders: mean {diff[0]:.2f}, max {diff[1]} uint8 levels")


if __name__ == "__main__":
    main()
