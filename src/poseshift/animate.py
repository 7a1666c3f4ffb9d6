"""Animate the person of one photo along a pose sequence (the paper's figure 1): a GIF or an MP4.

A sequence is a built-in motion (``turn``, ``walk``: :mod:`poseshift.motions`, placed on the
person of the photo), a multi-row annotation CSV (one pose a row, in file order) or a folder of
OpenPose JSON frames (``*.json`` in name order, as OpenPose writes
``<video>_000000000000_keypoints.json``; a frame with nobody in it is an all-missing pose). The
poses of a file or folder are used as they are: they must be in the photo's pixel frame.

Example::

    >>> from poseshift import Reposer
    >>> from poseshift.animate import animate
    >>> reposer = Reposer.from_checkpoint("synthetic-64")
    >>> animate(reposer, "person.png", "turn", "turn.gif", fps=12, frames=48)
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from poseshift.images import read_image
from poseshift.motions import MOTIONS, motion
from poseshift.pose.keypoints_io import read_annotations_csv, read_openpose_json

log = logging.getLogger(__name__)

ANIMATION_SUFFIXES = (".gif", ".mp4")
MAX_FPS = 120.0
_WHAT = f"a motion name ({', '.join(MOTIONS)}), an annotation CSV or a folder of OpenPose JSON frames"


def _natural(path: Path) -> list:
    """Sort key: ``frame_2`` before ``frame_10``; zero-padded OpenPose names sort as plain text."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def read_sequence(seq: str | Path, height: int, width: int, source: np.ndarray | None = None,
                  frames: int = 48) -> np.ndarray:
    """``seq`` -> ``float32 [T, 18, 2]`` (x, y) poses, NaN missing. A built-in motion (a name that is
    not an existing path) gets ``frames`` frames in a ``height x width`` frame, placed on
    ``source`` (the photo's keypoints) when given; a CSV or folder gives its own poses."""
    if isinstance(seq, str) and seq in MOTIONS and not Path(seq).exists():
        return motion(seq, frames, height, width, source)
    path = Path(seq)
    if path.is_dir():
        files = sorted((p for p in path.glob("*.json") if p.is_file()), key=_natural)
        if not files:
            raise ValueError(f"{path}: no OpenPose JSON frames (*.json) in this folder")
        poses = np.stack([read_openpose_json(p) for p in files])
        if np.isnan(poses).all():
            raise ValueError(f"{path}: none of its {len(files)} OpenPose frames has a person in it")
        return poses.astype(np.float32)
    if path.is_file():
        if path.suffix.lower() != ".csv":
            raise ValueError(f"{path}: not a pose sequence; expected {_WHAT}")
        rows = read_annotations_csv(path)
        if not rows:
            raise ValueError(f"{path}: the annotation CSV has no rows")
        return np.stack(list(rows.values())).astype(np.float32)
    if isinstance(seq, str) and not path.suffix and len(path.parts) == 1:  # a name, not a path
        raise ValueError(f"unknown motion {seq!r}; choose one of: {', '.join(MOTIONS)} (or give an existing "
                         f"annotation CSV or folder of OpenPose JSON frames)")
    raise FileNotFoundError(f"{seq}: no such file or folder; expected {_WHAT}")


def render_sequence(reposer, image: np.ndarray, poses: np.ndarray, source_pose=None, batch: int = 8,
                    progress: bool = False) -> list[np.ndarray]:
    """The person of ``image`` in each of ``poses`` -> uint8 ``[H, W, 3]`` renders in the photo's own
    frame and size, as ``reposer.render_in_frame`` makes them, ``batch`` poses per pass of G."""
    from tqdm import tqdm

    arr = read_image(image) if isinstance(image, (str, Path)) else np.asarray(image, dtype=np.uint8)
    poses = np.asarray(poses, dtype=np.float32)
    if poses.ndim != 3 or poses.shape[1:] != (18, 2):
        raise ValueError(f"poses must be [T, 18, 2] keypoints, got shape {list(poses.shape)}")
    if int(batch) < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    # The source's pose once, not once a frame (a warping G detects it when none is given).
    src = reposer.source_keypoints(arr, source_pose) if hasattr(reposer, "source_keypoints") else source_pose
    batched = hasattr(reposer, "render_batch")
    out: list[np.ndarray] = []
    with tqdm(total=len(poses), desc="animate", unit="frame", disable=not progress) as bar:
        for i in range(0, len(poses), int(batch)):
            chunk = list(poses[i:i + int(batch)])
            if batched:
                sources = None if src is None else [src] * len(chunk)
                out += reposer.render_batch([arr] * len(chunk), chunk, sources, frame="photo")
            else:
                out += [reposer.render_in_frame(arr, p, src) for p in chunk]
            bar.update(len(chunk))
    return out


def _even(frame: np.ndarray) -> np.ndarray:
    """Pad to an even height and width (x264's yuv420p needs both) by repeating the last row/column."""
    h, w = frame.shape[:2]
    if h % 2 or w % 2:
        frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return frame


def _write_gif(frames: list[np.ndarray], tmp: str, fps: float) -> None:
    from PIL import Image

    pictures = [Image.fromarray(f) for f in frames]
    # Pillow merges a frame identical to the one before it into that one (adding its duration).
    pictures[0].save(tmp, format="GIF", save_all=True, append_images=pictures[1:], duration=1000.0 / fps,
                     loop=0)


def _write_mp4(frames: list[np.ndarray], tmp: str, fps: float) -> None:
    import imageio.v3 as iio

    video = np.stack([_even(f) for f in frames])
    # The temporary name does not end in .mp4, so the container is named for ffmpeg (-f mp4).
    iio.imwrite(tmp, video, plugin="FFMPEG", extension=".mp4", fps=float(fps), codec="libx264",
                pixelformat="yuv420p", macro_block_size=1, output_params=["-f", "mp4"])


def _check_output(out: str | Path, fps: float, overwrite: bool) -> tuple[Path, float]:
    """One-line errors for an output ``write_animation`` would refuse, before anything is rendered."""
    out = Path(out)
    if out.suffix.lower() not in ANIMATION_SUFFIXES:
        raise ValueError(f"{out}: unknown animation extension {out.suffix or '(none)'!r}; expected .gif or .mp4")
    if out.suffix.lower() == ".mp4":
        try:
            import imageio.v3  # noqa: F401
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            from poseshift.extras import missing_extra

            raise missing_extra("MP4 output", "video") from None
    try:
        fps = float(fps)
    except (TypeError, ValueError):
        raise ValueError(f"fps must be a number in (0, {MAX_FPS:g}], got {fps!r}") from None
    if not 0 < fps <= MAX_FPS:
        raise ValueError(f"fps must be in (0, {MAX_FPS:g}], got {fps:g}")
    if out.is_dir():
        raise IsADirectoryError(f"{out} is a folder; name an animation file (.gif or .mp4)")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
    return out, fps


def write_animation(frames: list[np.ndarray], out: str | Path, fps: float = 12.0, overwrite: bool = False) -> Path:
    """Write ``frames`` (uint8 ``[H, W, 3]``, all one size) as a looping ``.gif`` or an H.264 ``.mp4``
    (odd sizes padded to even) at ``fps`` frames a second, atomically; -> ``out``."""
    from poseshift.checkpoint import atomic_write

    out, fps = _check_output(out, fps, overwrite)
    suffix = out.suffix.lower()
    frames = [np.asarray(f) for f in frames]
    if not frames:
        raise ValueError(f"{out}: no frames to write")
    shape = frames[0].shape
    for k, f in enumerate(frames):
        if f.dtype != np.uint8 or f.ndim != 3 or f.shape[2] != 3 or f.shape != shape:
            raise ValueError(f"{out}: frame {k} must be uint8 {list(shape)} RGB like frame 0, "
                             f"got {f.dtype} {list(f.shape)}")
    if suffix == ".gif" and fps > 50:
        log.warning("%s: GIF delays are whole hundredths of a second and most viewers slow down frames "
                    "under 20 ms; %g fps plays best as .mp4", out, fps)
    write = _write_gif if suffix == ".gif" else _write_mp4
    atomic_write(out, lambda tmp: write(frames, tmp, fps))
    return out


def animate(reposer, image, seq: str | Path, out: str | Path, fps: float = 12.0, frames: int = 48,
            source_pose=None, overwrite: bool = False, progress: bool = False) -> Path:
    """Render the person of ``image`` (a path or uint8 ``[H, W, 3]``) along ``seq`` (see
    :func:`read_sequence`) and write the animation to ``out`` (``.gif`` or ``.mp4``); -> ``out``.
    ``source_pose`` (a keypoint file or ``[18, 2]``) places a built-in motion on the person and is
    what a warping G needs; without it a warping G detects it, else motions are centred."""
    out, fps = _check_output(out, fps, overwrite)  # a refused output must not cost a render
    arr = read_image(image) if isinstance(image, (str, Path)) else np.asarray(image, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"image must be RGB [H, W, 3], got shape {arr.shape}")
    src = None
    if source_pose is not None or getattr(reposer, "needs_source_pose", False):
        src = reposer.source_keypoints(arr, source_pose)
    poses = read_sequence(seq, arr.shape[0], arr.shape[1], source=src, frames=frames)
    renders = render_sequence(reposer, arr, poses, src, progress=progress)
    return write_animation(renders, out, fps, overwrite)
