"""Time and peak memory of ``poseshift transfer`` on one photo as phones take them, by size.

    python benchmarks/photo_sizes.py                               # 0.5, 3, 12 and 24 MP; baseline 7f9b001
    python benchmarks/photo_sizes.py --sizes 12 --baseline HEAD    # one size, against any commit

Each photo is a portrait stored as landscape pixels with EXIF orientation 6 (as phones store
them), a person filling most of its height: a DeepFashion photo from ``../shared/data`` where
present (else a synthetic person), upscaled onto a white canvas of the size asked. Each run is
the whole command in a fresh process (``/usr/bin/time -v``: wall clock and peak RSS), starting
from an empty silhouette cache (its own ``POSESHIFT_CACHE``), for this tree and for
``--baseline``'s ``src/`` (taken with ``git archive``), side by side. A baseline run expected to
need more memory than ``--baseline-max-mp`` allows is not started (it would swap or be killed).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "deepfashion-mini"
SOURCE, TARGET = "fashionWOMENDressesid0000370504_1front", "fashionWOMENDressesid0000370504_4full"


def person() -> tuple[np.ndarray, np.ndarray]:
    """A 256-px photo of a person and a target pose [18, 2] in its pixels."""
    if (SHARED / "images" / f"{SOURCE}.png").is_file():
        sys.path.insert(0, str(ROOT / "src"))
        from poseshift.images import read_image
        from poseshift.pose.keypoints_io import read_annotations_csv

        ann = read_annotations_csv(SHARED / "annotations.csv")
        return read_image(SHARED / "images" / f"{SOURCE}.png"), ann[f"{TARGET}.jpg"]
    from poseshift.synth import write_dataset

    tmp = Path(tempfile.mkdtemp())
    write_dataset(tmp, 1, 2, 256, 0, progress=False)
    from poseshift.images import read_image
    from poseshift.pose.keypoints_io import read_annotations_csv

    ann = read_annotations_csv(tmp / "annotations.csv")
    names = sorted(ann)
    return read_image(tmp / "images" / Path(names[0]).with_suffix(".png").name), ann[names[1]]


def phone_photo(image: np.ndarray, target: np.ndarray, megapixels: float, folder: Path) -> tuple[Path, Path]:
    """A 3:4 portrait of ``megapixels`` stored as 4:3 landscape with EXIF orientation 6, and the
    target pose moved into its upright frame (a JSON list of 18 [x, y] or null)."""
    w = int(round(math.sqrt(megapixels * 1e6 * 3 / 4)))
    h = int(round(w * 4 / 3))
    side = w
    canvas = Image.new("RGB", (w, h), (255, 255, 255))
    canvas.paste(Image.fromarray(image).resize((side, side), Image.BICUBIC), (0, (h - side) // 2))
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = folder / f"photo_{megapixels:g}mp.jpg"
    canvas.transpose(Image.Transpose.ROTATE_90).save(photo, quality=92, exif=exif)
    scale, dy = side / image.shape[0], (h - side) // 2
    pose = [None if not np.isfinite(p).all() else [float(p[0] * scale), float(p[1] * scale + dy)] for p in target]
    pose_file = folder / f"pose_{megapixels:g}mp.json"
    pose_file.write_text(json.dumps(pose))
    return photo, pose_file


def run(src: Path, photo: Path, pose: Path, out: Path, cache: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "POSESHIFT_CACHE": str(cache)}
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "poseshift", "transfer", "--checkpoint", "synthetic-64",
           "--image", str(photo), "--pose", str(pose), "--out", str(out), "--overwrite"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", p.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    parts = [float(x) for x in wall.group(1).split(":")] if wall else []
    seconds = sum(v * 60 ** i for i, v in enumerate(reversed(parts))) if parts else float("nan")
    size = Image.open(out).size if p.returncode == 0 and out.is_file() else None
    return {"ok": p.returncode == 0, "seconds": seconds, "peak_gb": int(rss.group(1)) / 1e6 if rss else float("nan"),
            "render": size, "error": p.stderr.strip().splitlines()[-1] if p.returncode else ""}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=float, nargs="+", default=[0.5, 3, 12, 24], help="megapixels")
    ap.add_argument("--baseline", default="7f9b001", help="the commit to compare with (default: 7f9b001)")
    ap.add_argument("--baseline-max-mp", type=float, default=13.0,
                    help="skip baseline runs above this many megapixels (about 0.8 GB a megapixel)")
    args = ap.parse_args()
    image, target = person()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        archive = subprocess.run(["git", "archive", args.baseline, "src"], cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive.stdout, check=True)
        trees = {f"baseline {args.baseline}": tmp / "src", "this tree": ROOT / "src"}
        print("| photo | code | seconds | peak RSS (GB) | render (w x h) |")
        print("| --- | --- | ---: | ---: | --- |")
        for mp in args.sizes:
            photo, pose = phone_photo(image, target, mp, tmp)
            for label, src in trees.items():
                if label.startswith("baseline") and mp > args.baseline_max_mp:
                    print(f"| {mp:g} MP | {label} | not run (above --baseline-max-mp) | | |")
                    continue
                r = run(src, photo, pose, tmp / "out.png", Path(tempfile.mkdtemp(dir=tmp)))
                shown = f"{r['render'][0]} x {r['render'][1]}" if r["render"] else f"failed: {r['error']}"
                print(f"| {mp:g} MP | {label} | {r['seconds']:.1f} | {r['peak_gb']:.2f} | {shown} |", flush=True)


if __name__ == "__main__":
    main()
