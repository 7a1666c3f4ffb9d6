"""The input pipeline alone: start-up to the first batch at two dataset sizes, and images/s.

    python benchmarks/pipeline.py                        # 400 and 4,000 images, 256 px, 2 workers
    python benchmarks/pipeline.py --images 400 4000 --workers 0 2 --batches 40

It writes a mock of the published DeepFashion layout (176x256 JPEGs, the literature's CSVs) into
a temporary folder, then, per dataset size:

* start-up: from nothing to the first batch on the device (reading the annotations, the image
  headers, fitting every pose into the frame, starting the workers, decoding the first batch);
  and from nothing to the end of the first training step (8-channel ``tiny`` networks);
* throughput over ``--batches`` batches after the first, with each worker count: the loader
  alone (decode, fit, flip, batch: what the workers deliver), and with the device step the
  main process adds (uint8 to float, belief maps), which here runs on the CPU; no networks.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from poseshift.config import load_config
from poseshift.data import PoseImageFolder
from poseshift.pose.heatmaps import sigma_pixels
from poseshift.pose.keypoints_io import write_annotations_csv
from poseshift.training import Trainer
from poseshift.training.batches import BatchPlan, BatchSource, TrainingItems
from poseshift.training.distributed import World


def write_mock(root: Path, n: int, seed: int = 0) -> Path:
    """``n`` 176x256 JPEG people (a few patterns, recoloured) in the published DeepFashion layout."""
    rng = np.random.default_rng(seed)
    (root / "train").mkdir(parents=True)
    base = rng.integers(0, 255, (8, 256, 176, 3), dtype=np.uint8)
    base = np.asarray([np.asarray(Image.fromarray(b).resize((22, 32)).resize((176, 256), Image.BICUBIC))
                       for b in base])
    ann = {}
    for i in range(n):
        image = np.roll(base[i % 8], i % 50, axis=1)
        Image.fromarray(image).save(root / "train" / f"img{i:05d}.jpg", quality=90)
        kp = np.stack([rng.uniform(40, 136, 18), rng.uniform(20, 236, 18)], axis=1).astype(np.float32)
        ann[f"img{i:05d}.jpg"] = kp
    write_annotations_csv(root / "fasion-resize-annotation-train.csv", ann)
    return root


def first_batch_seconds(root: Path, size: int, workers: int, batch: int) -> float:
    t0 = time.perf_counter()
    data = PoseImageFolder(root, size, split="train")
    plan = BatchPlan(len(data), batch, 0, "mirror", len(data))
    source = BatchSource(TrainingItems(data), plan, World(), torch.device("cpu"), sigma_pixels(size),
                         workers=workers)
    source.next()
    seconds = time.perf_counter() - t0
    source.close()
    return seconds


def first_step_seconds(root: Path, size: int, workers: int, batch: int, run: Path) -> float:
    # Small networks: the step itself costs the same at both dataset sizes; start-up is the question.
    cfg = load_config("tiny", [f"model.image_size={size}", f"train.workers={workers}", f"train.batch_size={batch}",
                               "train.device=cpu", "model.g_channels=8", "model.g_blocks=1", "model.d_channels=8",
                               "model.phi_channels=8", "model.phi_blocks=1"])
    t0 = time.perf_counter()
    trainer = Trainer(cfg, root, run, progress=False, psi_pretrained=False)
    trainer.train_step(trainer.next_batch())
    seconds = time.perf_counter() - t0
    trainer.batches.close()
    return seconds


def throughput(root: Path, size: int, workers: int, batch: int, batches: int, maps: bool) -> float:
    """Images/s of the batch source: with ``maps``, also the device step (float conversion and
    belief maps, here on the CPU); without, the loader alone (decode, fit, flip, batch)."""
    data = PoseImageFolder(root, size, split="train")
    plan = BatchPlan(len(data), batch, 0, "mirror", len(data))
    source = BatchSource(TrainingItems(data), plan, World(), torch.device("cpu"), sigma_pixels(size),
                         workers=workers, prefetch=4)
    take = source.next if maps else lambda: next(source._it)
    source.next()
    t0 = time.perf_counter()
    for _ in range(batches):
        take()
    rate = batches * batch / (time.perf_counter() - t0)
    source.close()
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, nargs="+", default=[400, 4000])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--workers", type=int, nargs="+", default=[2])
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--batches", type=int, default=40)
    args = ap.parse_args()
    print(f"# poseshift input pipeline: {os.cpu_count()} cores, torch {torch.__version__}, {args.size} px, "
          f"batch {args.batch}, mock published DeepFashion layout (176x256 JPEG)")
    with tempfile.TemporaryDirectory() as tmp:
        roots = {}
        for n in args.images:
            t0 = time.perf_counter()
            roots[n] = write_mock(Path(tmp) / f"df{n}", n)
            print(f"# wrote {n} images in {time.perf_counter() - t0:.1f} s", flush=True)
        print(f"{'images':>7} {'workers':>7} {'to 1st batch s':>15} {'to 1st step s':>14} {'loader img/s':>13} "
              f"{'+maps img/s':>12}")
        first = {}
        for n, root in roots.items():
            for w in args.workers:
                fb = first_batch_seconds(root, args.size, w, args.batch)
                fs = first_step_seconds(root, args.size, w, args.batch, Path(tmp) / f"run{n}_{w}")
                loader = throughput(root, args.size, w, args.batch, args.batches, maps=False)
                full = throughput(root, args.size, w, args.batch, args.batches, maps=True)
                first.setdefault(w, []).append((n, fb, fs))
                print(f"{n:>7} {w:>7} {fb:>15.2f} {fs:>14.2f} {loader:>13.1f} {full:>12.1f}", flush=True)
        for w, rows in first.items():
            (n0, b0, s0), (n1, b1, s1) = rows[0], rows[-1]
            print(f"# workers={w}: start-up {n1} vs {n0} images: first batch x{b1 / b0:.2f}, first step x{s1 / s0:.2f}")


if __name__ == "__main__":
    main()
