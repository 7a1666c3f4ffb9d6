"""The practitioner's path, as pictures for docs/: cross-person transfers with and without
retargeting, and a photo animated along a video. Synthetic people only (publishable).

    python benchmarks/practitioner_sheets.py                  # writes docs/retarget.png, docs/video_motion.{gif,png}
    python benchmarks/practitioner_sheets.py --out /tmp/sheets

1. ``retarget.png``: 6 rows. Each row: the source photo; the other person whose pose is asked
   (seen closer or further, as a photo of someone else is), with their skeleton; the render
   with ``--no-retarget`` (that person's proportions and place); the render with retargeting
   (the default: their joint angles on the source's own bones, where the source stands).
2. ``video_motion.gif`` and ``video_motion.png``: a short MP4 of another synthetic person walking
   is written with imageio-ffmpeg, then ``poseshift pose VIDEO`` and ``poseshift animate
   --poses VIDEO`` run on it exactly as a user would (MediaPipe's video mode, One-Euro smoothing,
   retargeting): the GIF is the animation, the PNG the driving frames above their renders.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from poseshift.cli import main as cli
from poseshift.pose.draw import draw_skeleton
from poseshift.sheets import grid
from poseshift.synth import Pose3D, render, sample_person, sample_pose
from poseshift.transfer import Reposer

ROOT = Path(__file__).resolve().parents[1]
SIZE = 192


def retarget_sheet(reposer: Reposer, rows: int = 6, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(rows):
        src_img, src_kp, _ = render(sample_person(rng), sample_pose(rng), float(rng.uniform(-0.5, 0.5)), SIZE,
                                    zoom=1.0)
        # someone else, seen closer or further, in another pose
        zoom = float(rng.choice([0.75, 1.35])) if i % 3 else 1.6
        other, kp, _ = render(sample_person(rng), sample_pose(rng), float(rng.uniform(-0.6, 0.6)), SIZE, zoom=zoom)
        shown = draw_skeleton(kp, SIZE, SIZE, background=other)
        plain = reposer.render_in_frame(src_img, kp, src_kp, retarget=False)
        fitted = reposer.render_in_frame(src_img, kp, src_kp, retarget=True)
        lines.append([src_img, shown, plain, fitted])
    return grid(lines, header=["source", "target (another person)", "--no-retarget", "retargeted (default)"])


def walking_video(path: Path, frames: int = 24, fps: int = 12) -> Path:
    import imageio_ffmpeg

    from poseshift.motions import _walk_pose

    person = sample_person(np.random.default_rng(21))
    writer = imageio_ffmpeg.write_frames(str(path), (SIZE, SIZE), fps=fps, macro_block_size=1)
    writer.send(None)
    for k in range(frames):
        image, _, _ = render(person, _walk_pose(2 * np.pi * k / 12), 0.5, SIZE, zoom=0.9)
        writer.send(np.ascontiguousarray(image))
    writer.close()
    return path


def video_sheets(out: Path, tmp: Path) -> None:
    import imageio.v3 as iio

    rng = np.random.default_rng(5)
    photo, _, _ = render(sample_person(rng), Pose3D(), 0.0, SIZE)
    Image.fromarray(photo).save(tmp / "me.png")
    video = walking_video(tmp / "walk.mp4")
    assert cli(["pose", str(video), "--out", str(tmp / "walk.csv")]) == 0
    gif = out / "video_motion.gif"
    assert cli(["animate", "--image", str(tmp / "me.png"), "--poses", str(video), "--out", str(gif),
                "--overwrite"]) == 0
    driving = list(iio.imiter(video))
    renders = [np.asarray(f.convert("RGB")) for f in _gif_frames(gif)]
    picks = np.linspace(0, min(len(driving), len(renders)) - 1, 6).round().astype(int)
    sheet = grid([[photo] + [driving[i] for i in picks], [photo] + [renders[i] for i in picks]],
                 header=["photo", *(f"frame {i}" for i in picks)])
    Image.fromarray(sheet).save(out / "video_motion.png")


def _gif_frames(path: Path):
    from PIL import ImageSequence

    with Image.open(path) as im:
        return [f.copy() for f in ImageSequence.Iterator(im)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    reposer = Reposer.from_checkpoint("synthetic-64", device="cpu")
    Image.fromarray(retarget_sheet(reposer)).save(args.out / "retarget.png")
    print(f"wrote {args.out / 'retarget.png'}")
    with tempfile.TemporaryDirectory() as tmp:
        video_sheets(args.out, Path(tmp))
    print(f"wrote {args.out / 'video_motion.gif'} and {args.out / 'video_motion.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
