"""The packaged model's speed, side by side with another commit's code in the same run.

    python benchmarks/inference_speed.py                      # against HEAD (uncommitted changes vs last commit)
    python benchmarks/inference_speed.py --baseline 8b07582   # against any commit
    python benchmarks/inference_speed.py --no-serve           # skip the web server's load

Three figures, each for the baseline's code and this tree's, measured in alternating rounds (a
fresh process each, the ``src/`` of ``--baseline`` taken with ``git archive``), so both see the
same machine load; the ratio is the result to trust on a busy machine:

1. one ``Reposer.render_in_frame`` call on a 256x256 photo of a synthetic person with both poses
   given (``synthetic-64``, retargeting on, as a user's call is): the median of ``--calls`` after
   the first call, which alone pays for the photo's person mask (MediaPipe, an empty cache) and
   inpainted scene;
2. ``animate``'s renders: frames/s of ``animate.render_sequence`` over the built-in ``walk``
   (48 poses) at 256 px, pose detection excluded (the photo's pose is given);
3. ``poseshift serve`` under 8 clients (benchmarks/serve_load.py, ``--requests`` requests):
   p50, p95, errors.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def worker(calls: int) -> dict:
    import numpy as np
    import torch
    from PIL import Image

    from poseshift.animate import read_sequence, render_sequence
    from poseshift.pose.keypoints_io import read_annotations_csv
    from poseshift.synth import write_dataset
    from poseshift.transfer import Reposer

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        write_dataset(Path(tmp), 2, 2, 256, 0, progress=False)
        (name, own), (_, target) = list(read_annotations_csv(Path(tmp) / "annotations.csv").items())[:2]
        photo = np.asarray(Image.open(next((Path(tmp) / "images").glob(Path(name).stem + ".*"))).convert("RGB"))
    reposer = Reposer.from_checkpoint("synthetic-64", device="cpu")
    t0 = time.perf_counter()
    reposer.render_in_frame(photo, target, own)
    first = time.perf_counter() - t0
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        reposer.render_in_frame(photo, target, own)
        times.append(time.perf_counter() - t0)
    poses = read_sequence("walk", 256, 256, source=own)
    t0 = time.perf_counter()
    frames = render_sequence(reposer, photo, poses, own)
    fps = len(frames) / (time.perf_counter() - t0)
    return {"render_ms": statistics.median(times) * 1000, "first_ms": first * 1000, "animate_fps": fps}


def serve_figures(env: dict, requests: int) -> dict:
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "serve_load.py"), "--requests", str(requests)],
                         env=env, capture_output=True, text=True, cwd=ROOT)
    m = re.search(r"errors (\d+), p50 (\d+) ms, p95 (\d+) ms", out.stdout)
    if not m:
        raise SystemExit(f"serve_load.py failed:\n{out.stdout}\n{out.stderr[-2000:]}")
    return {"serve_errors": int(m[1]), "serve_p50": int(m[2]), "serve_p95": int(m[3])}


def run_in(src: Path, args) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src))
    with tempfile.TemporaryDirectory() as cache:  # an empty mask cache: the first call segments the photo
        out = subprocess.run([sys.executable, __file__, "--worker", "--calls", str(args.calls)],
                             env=dict(env, POSESHIFT_CACHE=cache), capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise SystemExit(f"worker under {src} failed:\n{out.stderr[-2000:]}")
    got = json.loads(out.stdout.strip().splitlines()[-1])
    if not args.no_serve:
        got.update(serve_figures(env, args.requests))
    return got


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default="HEAD", help="the commit to compare with (default: HEAD)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--requests", type=int, default=100, help="serve: requests from 8 clients per round")
    ap.add_argument("--no-serve", action="store_true")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.calls)))
        return 0
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "archive", args.baseline, "src"], cwd=ROOT, capture_output=True, check=True)
        Path(tmp, "src.tar").write_bytes(archive.stdout)
        with tarfile.open(Path(tmp, "src.tar")) as tar:
            tar.extractall(tmp, filter="data")
        trees = {f"baseline {args.baseline}": Path(tmp) / "src", "this tree": ROOT / "src"}
        results = {name: [] for name in trees}
        for r in range(args.rounds):
            for name, src in trees.items():
                results[name].append(run_in(src, args))
                print(f"round {r + 1}/{args.rounds}, {name}: {results[name][-1]}", file=sys.stderr, flush=True)
    print(f"# poseshift inference speed: {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.backends.cpu.get_cpu_capability()}, {args.rounds} alternating rounds (median of rounds)")
    keys = [("render_ms", "render 256 px, poses given (ms)"), ("first_ms", "first call on a photo (ms)"),
            ("animate_fps", "animate, 256 px (frames/s)")]
    if not args.no_serve:
        keys += [("serve_p50", "serve p50, 8 clients (ms)"), ("serve_p95", "serve p95, 8 clients (ms)"),
                 ("serve_errors", "serve errors")]
    names = list(trees)
    print(f"| measurement | {' | '.join(names)} | ratio |\n|---|{'---:|' * (len(names) + 1)}")
    for key, label in keys:
        a, b = (statistics.median(x[key] for x in results[n]) for n in names)
        print(f"| {label} | {a:.1f} | {b:.1f} | {b / a if a else float('nan'):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
