"""Animate the person of one photo along a pose sequence (the paper's figure 1): a GIF or an MP4.

A sequence is a built-in motion (``turn``, ``walk``: :mod:`poseshift.motions`, placed on the
person of the photo), a multi-row annotation CSV (one pose a row, in file order) or a folder of
OpenPose JSON frames (``*.json`` in name order, as OpenPose writes
``<video>_000000000000_keypoints.json``; a frame with nobody in it is an all-missing pose), or a
video (:mod:`poseshift.video`: its person's pose detected in every frame with MediaPipe's video
mode, frames with nobody filled from their neighbours, smoothed with a One-Euro filter; the
animation then plays at the video's frame rate, its frames rendered and written as they come).

Retargeting (``retarget=True``, the default): the sequence is redrawn on the photo's person
(:func:`poseshift.pose.retarget.retarget_sequence`: its joint angles, the person's own bone
lengths, where the person stands, moving as the motion moves), so the poses of another person,
in another picture, fit. It needs the photo's pose: the source pose given, else detected (where
nobody is detected, the sequence is used as it is, with a warning). Without it, the poses of a
file or folder are used as they are (they must be in the photo's pixel frame) and a video's are
moved from its frame into the photo's as a photo's pose is (``Reposer.keypoints``).

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

from poseshift.images import image_array
from poseshift.motions import MOTIONS, motion
from poseshift.pose.keypoints_io import read_annotations_csv, read_openpose_json
from poseshift.pose.retarget import retarget_sequence
from poseshift.video import MAX_SECONDS, is_video

log = logging.getLogger(__name__)

ANIMATION_SUFFIXES = (".gif", ".mp4")
MAX_FPS = 120.0
DEFAULT_FPS = 12.0  # where the sequence has no frame rate of its own (all but a video)
MAX_GIF_FRAMES = 1000  # a GIF is held in memory whole: a longer animation is written as .mp4
_WHAT = (f"a motion name ({', '.join(MOTIONS)}), an annotation CSV, a folder of OpenPose JSON frames "
         f"or a video")


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
                    progress: bool = False, retarget: bool = False) -> list[np.ndarray]:
    """The person of ``image`` in each of ``poses`` -> uint8 ``[H, W, 3]`` renders in the photo's own
    frame and size, as ``reposer.render_in_frame(..., retarget=False)`` makes them, ``batch`` poses
    per pass of G. ``retarget``: the sequence redrawn on the photo's person first (a motion of
    another person; see the module's docstring)."""
    arr = image_array(image)
    poses = np.asarray(poses, dtype=np.float32)
    if poses.ndim != 3 or poses.shape[1:] != (18, 2):
        raise ValueError(f"poses must be [T, 18, 2] keypoints, got shape {list(poses.shape)}")
    if int(batch) < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    # The source's pose once, not once a frame (a warping G detects it when none is given).
    src = reposer.source_keypoints(arr, source_pose) if hasattr(reposer, "source_keypoints") else source_pose
    if retarget:
        own = src if src is not None else _own_pose(reposer, arr)
        if own is not None:
            poses = retarget_sequence(poses, own)
    return list(_renders(reposer, arr, poses, src, int(batch), progress))


def _own_pose(reposer, arr: np.ndarray):
    """The photo's pose to retarget onto, where the generator did not need one: detected, or None."""
    return reposer.own_pose(arr) if hasattr(reposer, "own_pose") else None


def _renders(reposer, arr: np.ndarray, poses: np.ndarray, src, batch: int = 8, progress: bool = False):
    """Each render as it is made (``batch`` poses per pass of G), the poses as given."""
    from tqdm import tqdm

    batched = hasattr(reposer, "render_batch")
    with tqdm(total=len(poses), desc="animate", unit="frame", disable=not progress) as bar:
        for i in range(0, len(poses), batch):
            chunk = list(poses[i:i + batch])
            if batched:
                sources = None if src is None else [src] * len(chunk)
                yield from reposer.render_batch([arr] * len(chunk), chunk, sources, frame="photo", retarget=False)
            else:
                yield from (reposer.render_in_frame(arr, p, src, retarget=False) for p in chunk)
            bar.update(len(chunk))


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


def _write_mp4(frames, tmp: str, fps: float) -> None:
    """H.264 frame by frame as they come (any iterable): memory holds one frame, not the video."""
    import imageio_ffmpeg

    frames = iter(frames)
    first = _even(next(frames))
    h, w = first.shape[:2]
    # The temporary name does not end in .mp4, so the container is named for ffmpeg (-f mp4).
    writer = imageio_ffmpeg.write_frames(tmp, (w, h), fps=float(fps), codec="libx264", pix_fmt_out="yuv420p",
                                         macro_block_size=1, output_params=["-f", "mp4"])
    writer.send(None)
    try:
        writer.send(np.ascontiguousarray(first))
        for f in frames:
            writer.send(np.ascontiguousarray(_even(f)))
    finally:
        writer.close()


def _checked(frames, out: Path):
    """``frames`` as uint8 arrays, each refused in one line unless ``[H, W, 3]`` like frame 0."""
    shape = None
    for k, f in enumerate(frames):
        f = np.asarray(f)
        shape = f.shape if shape is None else shape
        if f.dtype != np.uint8 or f.ndim != 3 or f.shape[2] != 3 or f.shape != shape:
            raise ValueError(f"{out}: frame {k} must be uint8 {list(shape)} RGB like frame 0, "
                             f"got {f.dtype} {list(f.shape)}")
        yield f
    if shape is None:
        raise ValueError(f"{out}: no frames to write")


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


def write_animation(frames, out: str | Path, fps: float = 12.0, overwrite: bool = False) -> Path:
    """Write ``frames`` (uint8 ``[H, W, 3]``, all one size; a list, or any iterable, which an
    ``.mp4`` writes as it comes) as a looping ``.gif`` or an H.264 ``.mp4`` (odd sizes padded to
    even) at ``fps`` frames a second, atomically; -> ``out``."""
    from poseshift.files import atomic_write

    out, fps = _check_output(out, fps, overwrite)
    if out.suffix.lower() == ".mp4":
        atomic_write(out, lambda tmp: _write_mp4(_checked(frames, out), tmp, fps))
        return out
    frames = list(_checked(frames, out))
    if fps > 50:
        log.warning("%s: GIF delays are whole hundredths of a second and most viewers slow down frames "
                    "under 20 ms; %g fps plays best as .mp4", out, fps)
    atomic_write(out, lambda tmp: _write_gif(frames, tmp, fps))
    return out


def _into_photo(poses: np.ndarray, video_hw: tuple[int, int], photo_hw: tuple[int, int], reposer) -> np.ndarray:
    """A video's poses moved into the photo's frame the way both are fitted into the model's square
    (as ``Reposer.keypoints`` moves a photo's pose): the person keeps their place and size."""
    from poseshift.letterbox import plan_fit

    config = getattr(reposer, "config", None)
    mode = config.data.fit if config is not None else "pad"
    S = int(getattr(reposer, "size", max(*video_hw, *photo_hw)))
    square = plan_fit(*video_hw, S, S, mode).apply(poses)
    return plan_fit(*photo_hw, S, S, mode).invert(square)


def animate(reposer, image, seq: str | Path, out: str | Path, fps: float | None = None, frames: int = 48,
            source_pose=None, overwrite: bool = False, progress: bool = False, retarget: bool = True,
            max_seconds: float = MAX_SECONDS, detector=None) -> Path:
    """Render the person of ``image`` (a path or uint8 ``[H, W, 3]``) along ``seq`` (see
    :func:`read_sequence`, or a video) and write the animation to ``out`` (``.gif`` or ``.mp4``) at
    ``fps`` (default: a video's own frame rate, else 12); -> ``out``. ``source_pose`` (a keypoint
    file or ``[18, 2]``) places a built-in motion on the person, is what the sequence is retargeted
    onto (``retarget``) and what a warping G needs; without it, it is detected. A video: longer than
    ``max_seconds`` refused; ``detector`` (frame -> ``[18, 2]``) replaces MediaPipe's video mode."""
    out, _ = _check_output(out, DEFAULT_FPS if fps is None else fps, overwrite)  # refused before any work
    if is_video(seq):  # so is a video that is not one, or over the limits, or (below) over what
        from poseshift.video import Video  # an animation plays: before the minutes of detection

        video = Video(seq, max_seconds)
        video.close()
        if fps is None and video.fps > MAX_FPS:
            raise ValueError(f"{seq}: {video.fps:g} frames/s is over the {MAX_FPS:g} an animation plays at; "
                             f"pass --fps")
        if out.suffix.lower() == ".gif" and video.duration * video.fps > MAX_GIF_FRAMES + 1:
            raise ValueError(f"{out}: about {video.duration * video.fps:.0f} frames is over the {MAX_GIF_FRAMES} "
                             f"a GIF holds here; write .mp4")
    arr = image_array(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"image must be RGB [H, W, 3], got shape {arr.shape}")
    src = None
    if source_pose is not None or getattr(reposer, "needs_source_pose", False):
        src = reposer.source_keypoints(arr, source_pose)
    elif retarget:
        src = _own_pose(reposer, arr)  # None, with a warning, where nobody is detected
    if is_video(seq):
        from poseshift.video import video_poses

        motion_ = video_poses(seq, detector=detector, max_seconds=max_seconds, progress=progress)
        poses = motion_.poses
        if fps is None and motion_.fps > MAX_FPS:
            raise ValueError(f"{seq}: {motion_.fps:g} frames/s is over the {MAX_FPS:g} an animation plays at; "
                             f"pass --fps")
        fps = motion_.fps if fps is None else fps
        if not (retarget and src is not None):
            poses = _into_photo(poses, motion_.size, arr.shape[:2], reposer)
    else:
        poses = read_sequence(seq, arr.shape[0], arr.shape[1], source=src, frames=frames)
    if out.suffix.lower() == ".gif" and len(poses) > MAX_GIF_FRAMES:
        raise ValueError(f"{out}: {len(poses)} frames is over the {MAX_GIF_FRAMES} a GIF holds here; write .mp4")
    if retarget and src is not None:
        poses = retarget_sequence(poses, src)
    out, fps = _check_output(out, DEFAULT_FPS if fps is None else fps, overwrite)
    return write_animation(_renders(reposer, arr, poses, src, progress=progress), out, fps, overwrite)
