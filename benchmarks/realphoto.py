"""Train the recommended real-photo recipe within a time budget on a CPU (issue: recognisable
people from real photos).

    python benchmarks/realphoto.py --data ../shared/data/deepfashion-mini --out runs/realphoto [--minutes 60]
    python benchmarks/realphoto.py --data DIR --out runs/paper-g --set model.g_arch=resnet   # the paper's G, same budget
    python benchmarks/realphoto.py --data DIR --out runs/smoke --minutes 0.5 --device cpu    # smoke
    python benchmarks/realphoto.py --data DIR --out runs/from-synthetic --init synthetic-64  # start from the packaged G

It trains the `realphoto` preset (the G that corrects the part warp's sampling field,
model.g_arch = flow, 64x64) on DIR's
`train` split (DIR/split.csv) until M minutes of wall clock have passed, checkpointing there,
writes RUN/checkpoints/last.safetensors and prints its path. Score it on the held-out pairs with

    poseshift evaluate --pairs DIR/pairs.csv --data DIR --split test --checkpoint RUN/checkpoints/last.safetensors --out RUN/eval/report.json
    poseshift evaluate --pairs DIR/pairs.csv --data DIR --split test --warp-only --out RUN/eval/warp_only.json

The run resumes when RUN already holds one (--resume is implied), for a further M minutes.
"""
from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from poseshift.config import load_config
from poseshift.training import Trainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="folder with images/, annotations.csv and split.csv")
    ap.add_argument("--out", required=True, help="run folder")
    ap.add_argument("--minutes", type=float, default=60.0, help="wall-clock training budget (default 60)")
    ap.add_argument("--config", default="realphoto", help="preset or YAML (default: realphoto)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    ap.add_argument("--init", default=None, metavar="CKPT",
                    help="start the networks from this checkpoint or packaged model (e.g. synthetic-64; "
                         "ignored when the run resumes)")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default=None)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    if args.minutes <= 0:
        ap.error("--minutes must be > 0")
    overrides = list(args.set) + ([f"train.device={args.device}"] if args.device else [])
    cfg = load_config(args.config, overrides)
    t0 = time.time()
    resume = (Path(args.out) / "checkpoints" / "last.safetensors").is_file()
    trainer = Trainer(cfg, args.data, args.out, resume=resume, progress=not args.quiet,
                      init=None if resume else args.init)
    start_step = trainer.step_count
    # A step budget far beyond what the minutes allow: the clock stops the run.
    trainer.train(max_steps=start_step + 10_000_000, time_limit=args.minutes * 60.0)
    minutes = (time.time() - t0) / 60
    print(f"trained steps {start_step}..{trainer.step_count} ({trainer.step_count - start_step} steps of "
          f"batch {trainer.batch_size}) in {minutes:.1f} min on {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads, device {trainer.device}")
    print(trainer.ckpt_path)


if __name__ == "__main__":
    main()
