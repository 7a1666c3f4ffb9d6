"""Motion from a video: the pose of its person in every frame, for ``poseshift pose`` and ``animate``.

:class:`Video` reads a file frame by frame through ffmpeg (imageio-ffmpeg, the ``video`` extra),
so memory stays bounded whatever its length, and refuses in one line what is not a video, one
with no frames, frames over :data:`MAX_SIDE` pixels a side, or more than ``max_seconds``
(:data:`MAX_SECONDS` unless told).

:func:`video_poses` detects the pose in each frame with MediaPipe Pose in video mode
(:class:`VideoPoseDetector`: it tracks the person from one frame to the next), fills the frames
where nobody is detected from their neighbours (:func:`poseshift.pose.smoothing.fill_gaps`,
logged with their count) and smooths the joints over time with a One-Euro filter
(:func:`poseshift.pose.smoothing.smooth_poses`). The poses are in the video's pixel frame.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from poseshift.pose.schema import NUM_JOINTS
from poseshift.pose.smoothing import fill_gaps, smooth_poses

log = logging.getLogger(__name__)

__all__ = ["VIDEO_SUFFIXES", "MAX_SIDE", "MAX_SECONDS", "Video", "VideoPoseDetector", "VideoPoses",
           "is_video", "video_poses", "frame_name"]

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg")
MAX_SIDE = 4096  # pixels: a frame wider or taller is refused
MAX_SECONDS = 600.0  # a longer video is refused unless the caller allows more (--max-seconds)


def is_video(path) -> bool:
    """A path whose extension names a video (the file need not exist)."""
    return isinstance(path, (str, Path)) and Path(path).suffix.lower() in VIDEO_SUFFIXES


def frame_name(index: int) -> str:
    """The row name of frame ``index`` in a pose file written from a video: ``frame_000042``."""
    return f"frame_{index:06d}"


class Video:
    """A video file opened for reading: ``fps``, ``width``, ``height``, ``duration`` (seconds, NaN
    where the file does not say) and ``frames`` (an estimate, None where unknown); iterate it for
    its frames, uint8 ``[H, W, 3]`` RGB, one at a time. Use it as a context manager."""

    def __init__(self, path, max_seconds: float = MAX_SECONDS, max_side: int = MAX_SIDE):
        try:
            import imageio_ffmpeg
        except ImportError:
            from poseshift.extras import missing_extra

            raise missing_extra("reading a video", "video") from None
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no such video file")
        if not (max_seconds > 0):
            raise ValueError(f"--max-seconds must be positive, got {max_seconds}")
        self.max_seconds = float(max_seconds)
        self._reader = imageio_ffmpeg.read_frames(str(self.path), pix_fmt="rgb24")
        try:
            meta = next(self._reader)
        except (OSError, RuntimeError, StopIteration) as err:
            self.close()
            text = str(err)
            if "Input #0" in text and "Video:" not in text:  # a media file ffmpeg reads, without a picture
                raise ValueError(f"{self.path}: a file with no video frames") from None
            raise ValueError(f"{self.path}: not a video ffmpeg can read") from None
        self.width, self.height = (int(v) for v in meta.get("size") or (0, 0))
        self.fps = float(meta.get("fps") or 0.0)
        duration = meta.get("duration")
        self.duration = float(duration) if duration and np.isfinite(duration) and duration > 0 else float("nan")
        problem = None
        if self.width < 1 or self.height < 1:
            problem = "a file with no video frames"
        elif self.width > max_side or self.height > max_side:
            problem = f"its frames are {self.width}x{self.height}, over the {max_side}x{max_side} limit"
        elif not (np.isfinite(self.fps) and self.fps > 0):
            problem = "its frame rate is unknown"
        elif self.duration > self.max_seconds:
            problem = (f"{self.duration:.1f} s long, over the {self.max_seconds:g} s limit "
                       f"(--max-seconds allows more)")
        if problem:
            self.close()
            raise ValueError(f"{self.path}: {problem}")
        self.frames = round(self.duration * self.fps) if np.isfinite(self.duration) else None

    def __iter__(self):
        if self._reader is None:
            raise ValueError(f"{self.path}: the video is closed")
        limit = int(self.max_seconds * self.fps) + 1  # frames: for a file that does not state its length
        count = 0
        shape = (self.height, self.width, 3)
        frames = iter(self._reader)
        while True:
            try:
                raw = next(frames)
            except StopIteration:
                break
            except (RuntimeError, OSError) as err:  # ffmpeg failing mid-stream (a damaged file)
                raise ValueError(f"{self.path}: frame {count + 1} could not be read "
                                 f"({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
            count += 1
            if count > limit:
                raise ValueError(f"{self.path}: over {self.max_seconds:g} s long, the limit "
                                 f"(--max-seconds allows more)")
            yield np.frombuffer(raw, dtype=np.uint8).reshape(shape)
        if count == 0:
            raise ValueError(f"{self.path}: a file with no video frames")

    def close(self) -> None:
        reader, self._reader = getattr(self, "_reader", None), None
        if reader is not None:
            reader.close()

    def __enter__(self) -> Video:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VideoPoseDetector:
    """COCO-18 keypoints frame after frame with MediaPipe Pose in video mode
    (``static_image_mode=False``): the person found in one frame is tracked into the next.
    MediaPipe's own landmark smoothing is off: :func:`video_poses` smooths with a One-Euro filter.
    ``det(frame)`` -> ``float32 [18, 2]`` in the frame's pixels, all NaN where nobody is found.
    Frames must come in order, from one video."""

    def __init__(self, model_complexity: int = 1, visibility: float = 0.5, limb_visibility: float = 0.2,
                 border: float = 0.05):
        from poseshift.detect import _import_mediapipe, open_solution

        self.visibility, self.limb_visibility, self.border = visibility, limb_visibility, border
        mp = _import_mediapipe()
        self._pose = open_solution(mp.solutions.pose.Pose, static_image_mode=False,
                                   model_complexity=model_complexity, smooth_landmarks=False)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        from poseshift.detect import landmarks_to_coco18, quiet_native

        if self._pose is None:
            raise RuntimeError("VideoPoseDetector is closed")
        frame = np.ascontiguousarray(frame)
        with warnings.catch_warnings(), quiet_native():
            warnings.simplefilter("ignore")
            res = self._pose.process(frame)
        if res.pose_landmarks is None:
            return np.full((NUM_JOINTS, 2), np.nan, dtype=np.float32)
        h, w = frame.shape[:2]
        lm = np.array([[p.x * w, p.y * h, p.z, p.visibility] for p in res.pose_landmarks.landmark])
        return landmarks_to_coco18(lm, w, h, self.visibility, self.limb_visibility, self.border)

    def close(self) -> None:
        from poseshift.detect import quiet_native

        pose, self._pose = self._pose, None
        if pose is not None:
            with quiet_native():
                pose.close()

    def __enter__(self) -> VideoPoseDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class VideoPoses:
    """A video's motion: ``poses`` float32 ``[T, 18, 2]`` in its pixel frame (``size``: height,
    width), one a frame at ``fps``; ``empty``: how many frames had nobody in them (filled)."""

    poses: np.ndarray
    fps: float
    size: tuple[int, int]
    empty: int


def video_poses(path, detector=None, max_seconds: float = MAX_SECONDS, smooth: bool = True,
                progress: bool = False) -> VideoPoses:
    """The pose in every frame of the video at ``path``: detected (``detector``: a callable frame ->
    ``[18, 2]``, default a :class:`VideoPoseDetector`), frames with nobody filled from their
    neighbours (logged), smoothed over time with a One-Euro filter (``smooth``)."""
    from tqdm import tqdm

    with Video(path, max_seconds) as video:
        own = detector is None
        det = VideoPoseDetector() if own else detector
        raw = []
        try:
            for frame in tqdm(video, total=video.frames, desc="pose", unit="frame", disable=not progress):
                raw.append(np.asarray(det(frame), dtype=np.float32).reshape(NUM_JOINTS, 2))
        finally:
            if own:
                det.close()
        fps, size = video.fps, (video.height, video.width)
    poses = np.stack(raw)
    try:
        poses, empty = fill_gaps(poses, max_gap=max(1, round(fps / 4)))
    except ValueError:
        raise ValueError(f"{path}: nobody was detected in any of its {len(poses)} frames") from None
    if empty:
        log.warning("%s: nobody was detected in %d of its %d frames; they were filled from their neighbours",
                    path, empty, len(poses))
    if smooth:
        poses = smooth_poses(poses, fps)
    return VideoPoses(poses, fps, size, empty)
