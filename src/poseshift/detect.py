"""Pose detection on real photographs: MediaPipe Pose (BlazePose, 33 landmarks) -> COCO-18.

Only MediaPipe's legacy ``solutions.pose.Pose(static_image_mode=True, model_complexity=1)`` ships
its model offline; ``mediapipe==0.10.14`` is a dependency of poseshift, imported
when a :class:`PoseDetector` is made.

Mapping (left/right are the person's own in both schemas): COCO-18 joint ``i`` is MediaPipe
landmark ``MP_TO_COCO18[i]``; the neck is the midpoint of the two shoulders, present only when
both are. Beyond the plain mapping (visibility <= 0.5 or outside the image -> missing, PCKh@0.5
about 0.91 on deepfashion-mini) three measured changes bring it to about 0.95:

* limbs (elbows, wrists, knees, ankles) need visibility > 0.2 only: MediaPipe reports low
  visibility for self-occluded arms and cut-off legs whose positions are still right, and the
  OpenPose-made annotations of the field keep those joints;
* a joint predicted a little outside the image (within ``border`` = 5 % of the size) is clamped
  onto the border, as the annotations do (OpenPose puts a knee just below the frame on the last
  rows);
* a second pass on the image padded by ``retry_margin`` (40 %) of its size on every side, with
  edge pixels, when the first pass finds no one or its mean body-landmark visibility is below
  ``retry_below`` (0.5); the more confident pass wins. BlazePose's person detector misses people
  who fill a tight crop (most Market-1501 images): this lifts market-mini from 0.43 to about 0.76
  (0.79 with ``retry_below=0.7``, at 1.7 instead of 1.5 MediaPipe passes per image).
  Upscaling small images before detection was measured and does not help (market-mini 0.37).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from poseshift.images import ImageError, read_image
from poseshift.pose.schema import NUM_JOINTS

__all__ = [
    "MP_TO_COCO18", "LIMB_JOINTS", "PoseDetector", "landmarks_to_coco18",
    "detect_paths", "write_detections",
]

# COCO-18 joint i <- MediaPipe landmark; None for the neck (midpoint of 11 and 12).
MP_TO_COCO18: tuple[int | None, ...] = (0, None, 12, 14, 16, 11, 13, 15, 24, 26, 28, 23, 25, 27, 5, 2, 8, 7)
LIMB_JOINTS: tuple[int, ...] = (3, 4, 6, 7, 9, 10, 12, 13)  # elbows, wrists, knees, ankles
_BODY_LANDMARKS = slice(11, 29)  # shoulders .. ankles: the confidence of a detection
# Not given anywhere: the crops searched where the whole frame shows nobody, as shares of the
# frame's short side (the first scale that finds anyone is kept), and the least mean body
# visibility that counts as a person there (a crop of background gives MediaPipe's weakest).
SEARCH_SCALES = (0.5, 0.33)
SEARCH_CONFIDENCE = 0.5


def _box(lm: np.ndarray) -> tuple[float, float, float, float]:
    xy = lm[_BODY_LANDMARKS, :2]
    return float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max())


def _box_area(lm: np.ndarray) -> float:
    x0, y0, x1, y1 = _box(lm)
    return max(0.0, x1 - x0) * max(0.0, y1 - y0)


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """The intersection of two people's body boxes over the smaller box."""
    ax0, ay0, ax1, ay1 = _box(a)
    bx0, by0, bx1, by1 = _box(b)
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    return inter / max(1e-6, min(_box_area(a), _box_area(b)))


def landmarks_to_coco18(landmarks: np.ndarray, width: int, height: int, visibility: float = 0.5,
                        limb_visibility: float = 0.2, border: float = 0.05) -> np.ndarray:
    """MediaPipe landmarks ``[33, 4]`` (x px, y px, z, visibility) of a ``width`` x ``height`` image
    -> COCO-18 ``float32 [18, 2]`` (x, y), NaN missing.

    A joint is present when its visibility exceeds ``visibility`` (``limb_visibility`` for
    elbows, wrists, knees and ankles) and it lies inside the image or at most ``border`` x the
    image size outside it, where it is clamped onto the border. The plain mapping is
    ``limb_visibility=visibility=0.5, border=0``.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim != 2 or lm.shape[0] != 33 or lm.shape[1] < 4:
        raise ValueError(f"expected MediaPipe landmarks [33, 4] (x, y, z, visibility), got {lm.shape}")
    xy = lm[:, :2].copy()
    vis = lm[:, 3]
    mx, my = border * width, border * height
    inside = ((xy[:, 0] >= -mx) & (xy[:, 0] <= width - 1 + mx)
              & (xy[:, 1] >= -my) & (xy[:, 1] <= height - 1 + my) & np.isfinite(xy).all(axis=1))
    xy[:, 0] = np.clip(xy[:, 0], 0, width - 1)
    xy[:, 1] = np.clip(xy[:, 1], 0, height - 1)
    kp = np.full((NUM_JOINTS, 2), np.nan, dtype=np.float32)
    for j, m in enumerate(MP_TO_COCO18):
        if m is None:
            continue
        thr = limb_visibility if j in LIMB_JOINTS else visibility
        if inside[m] and vis[m] > thr:
            kp[j] = xy[m]
    if np.isfinite(kp[[2, 5]]).all():
        kp[1] = (kp[2] + kp[5]) / 2
    return kp


def _as_rgb(image: Any) -> np.ndarray:
    a = np.asarray(image)
    if a.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {a.dtype}")
    if a.ndim == 2:
        a = np.stack([a] * 3, axis=-1)
    elif a.ndim == 3 and a.shape[2] == 4:
        a = a[..., :3]
    if a.ndim != 3 or a.shape[2] != 3 or a.shape[0] < 2 or a.shape[1] < 2:
        raise ValueError(f"expected an RGB image [H, W, 3], got shape {a.shape}")
    return np.ascontiguousarray(a)


@contextlib.contextmanager
def quiet_native():
    """MediaPipe's C++ side (TensorFlow Lite, absl) writes log lines straight to file
    descriptor 2; hide them unless ``--verbose`` (``POSESHIFT_VERBOSE=1``)."""
    if os.environ.get("POSESHIFT_VERBOSE"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _import_mediapipe():
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import mediapipe as mp
    except ImportError:  # pragma: no cover - an install made with --no-deps
        from poseshift.extras import missing_dependency

        raise missing_dependency("pose detection", "mediapipe==0.10.14") from None
    return mp


def open_solution(factory, **kwargs):
    """A MediaPipe solution (pose, selfie segmentation, ...) made quietly and returned only once
    its graph is idle: MediaPipe opens a graph's calculators in worker threads, which log
    (TensorFlow Lite's XNNPACK line, ``inference_feedback_manager.cc``) after the constructor has
    returned, past any :func:`quiet_native` around it; waiting keeps those lines inside it."""
    with warnings.catch_warnings(), quiet_native():
        warnings.simplefilter("ignore")
        solution = factory(**kwargs)
        graph = getattr(solution, "_graph", None)
        if graph is not None:
            graph.wait_until_idle()
    return solution


class PoseDetector:
    """COCO-18 keypoints from photos with MediaPipe Pose; loads the model once.

    ``with PoseDetector() as det: kp = det(image)`` where image is uint8 RGB ``[H, W, 3]`` of any
    size and ``kp`` is ``float32 [18, 2]`` in its pixels, all NaN when no person is found.
    ``retry_below=None`` disables the padded second pass; ``upscale_to`` (short side in px,
    default off: measured not to help) upscales small images before detection; ``search``
    (default on): where the whole frame shows nobody, look again in overlapping crops
    (:meth:`people_in_crops`), for a person small in a wide frame.
    """

    def __init__(self, visibility: float = 0.5, limb_visibility: float = 0.2, border: float = 0.05,
                 retry_below: float | None = 0.5, retry_margin: float = 0.4,
                 upscale_to: int | None = None, search: bool = True):
        self.visibility = visibility
        self.limb_visibility = limb_visibility
        self.border = border
        self.retry_below = retry_below
        self.retry_margin = retry_margin
        self.upscale_to = upscale_to
        self.search = search
        self._mp = _import_mediapipe()
        self._pose = open_solution(self._mp.solutions.pose.Pose, static_image_mode=True, model_complexity=1)
        self._seg = None
        self.passes = 0  # MediaPipe runs so far (for timing reports)

    # -- life cycle
    def close(self) -> None:
        for attr in ("_pose", "_seg"):
            model = getattr(self, attr, None)
            if model is not None:
                with quiet_native():
                    model.close()
                setattr(self, attr, None)

    def __enter__(self) -> PoseDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- detection
    def _run(self, image: np.ndarray, margin: float) -> np.ndarray | None:
        """Landmarks [33, 4] in pixels of ``image`` (x, y, z, visibility), or None."""
        if self._pose is None:
            raise RuntimeError("PoseDetector is closed")
        h, w = image.shape[:2]
        f = 1.0
        if self.upscale_to and min(h, w) < self.upscale_to:
            from PIL import Image
            f = self.upscale_to / min(h, w)
            image = np.asarray(Image.fromarray(image).resize((round(w * f), round(h * f)), Image.BICUBIC))
        ph, pw = int(margin * image.shape[0]), int(margin * image.shape[1])
        if ph or pw:
            image = np.pad(image, ((ph, ph), (pw, pw), (0, 0)), mode="edge")
        self.passes += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # protobuf's GetPrototype deprecation, once per process
            with quiet_native():
                res = self._pose.process(np.ascontiguousarray(image))
        if res.pose_landmarks is None:
            return None
        H, W = image.shape[:2]
        lm = np.array([[p.x * W, p.y * H, p.z, p.visibility] for p in res.pose_landmarks.landmark],
                      dtype=np.float64)
        lm[:, 0] = (lm[:, 0] - pw) / (image.shape[1] - 2 * pw) * w
        lm[:, 1] = (lm[:, 1] - ph) / (image.shape[0] - 2 * ph) * h
        return lm

    @staticmethod
    def confidence(landmarks: np.ndarray | None) -> float:
        """Mean visibility of the body landmarks (shoulders to ankles); -1 for no detection."""
        return -1.0 if landmarks is None else float(np.mean(landmarks[_BODY_LANDMARKS, 3]))

    def landmarks(self, image: np.ndarray) -> np.ndarray | None:
        """MediaPipe's 33 landmarks ``[33, 4]`` (x px, y px, z, visibility) of the best pass;
        where the whole frame shows nobody, the largest person found in the crops (``search``)."""
        image = _as_rgb(image)
        best = self._run(image, 0.0)
        if self.retry_below is not None and self.confidence(best) < self.retry_below:
            second = self._run(image, self.retry_margin)
            if self.confidence(second) > self.confidence(best):
                best = second
        if best is None and self.search:
            people = self.people_in_crops(image)
            best = people[0] if people else None
        return best

    def people_in_crops(self, image: np.ndarray) -> list[np.ndarray]:
        """Everyone found in overlapping square crops of the frame (sides SEARCH_SCALES x its short
        side, half overlapping), largest first: a person far smaller than the frame, whom
        MediaPipe's whole-frame detector misses. Each is landmarks ``[33, 4]`` in the frame's pixels;
        one person seen in several crops counts once (the most confident view)."""
        h, w = image.shape[:2]
        found: list[np.ndarray] = []
        for scale in SEARCH_SCALES:
            side = max(32, int(round(scale * min(h, w))))
            if side >= min(h, w):      # the crop would be the whole frame, already searched
                continue
            step = max(1, side // 2)
            ys = sorted({*range(0, max(1, h - side + 1), step), max(0, h - side)})
            xs = sorted({*range(0, max(1, w - side + 1), step), max(0, w - side)})
            for y in ys:
                for x in xs:
                    lm = self._run(np.ascontiguousarray(image[y:y + side, x:x + side]), 0.0)
                    if lm is None or self.confidence(lm) < SEARCH_CONFIDENCE:
                        continue
                    lm[:, 0] += x
                    lm[:, 1] += y
                    found.append(lm)
            if found:
                break
        people: list[np.ndarray] = []
        for lm in sorted(found, key=self.confidence, reverse=True):   # the most confident view first
            if all(_overlap(lm, other) < 0.5 for other in people):
                people.append(lm)
        return sorted(people, key=_box_area, reverse=True)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        image = _as_rgb(image)
        lm = self.landmarks(image)
        if lm is None:
            return np.full((NUM_JOINTS, 2), np.nan, dtype=np.float32)
        h, w = image.shape[:2]
        return landmarks_to_coco18(lm, w, h, self.visibility, self.limb_visibility, self.border)

    # -- person mask
    def segment(self, image: np.ndarray, threshold: float = 0.5) -> np.ndarray:
        """Person mask ``bool [H, W]`` from MediaPipe selfie segmentation (loaded on first use)."""
        image = _as_rgb(image)
        if self._seg is None:
            if self._pose is None:
                raise RuntimeError("PoseDetector is closed")
            self._seg = open_solution(self._mp.solutions.selfie_segmentation.SelfieSegmentation, model_selection=0)
        with warnings.catch_warnings(), quiet_native():
            warnings.simplefilter("ignore")
            res = self._seg.process(image)
        if res.segmentation_mask is None:
            return np.zeros(image.shape[:2], dtype=bool)
        return np.asarray(res.segmentation_mask) > threshold


def _progress(items: list, enabled: bool, desc: str):
    if not enabled:
        return items
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return items
    return tqdm(items, desc=desc, unit="img")


def detect_paths(paths: Iterable[str | Path], progress: bool = True, detector: PoseDetector | None = None
                 ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Detect poses on image files: ``({name: [18, 2]}, {name: reason})``.

    ``name`` is the file name (the full path when two files share one). An unreadable image or
    one where no person is found goes to the failures with its reason; the run goes on.
    """
    paths = [Path(p) for p in paths]
    counts: dict[str, int] = {}
    for p in paths:
        counts[p.name] = counts.get(p.name, 0) + 1
    found: dict[str, np.ndarray] = {}
    failures: dict[str, str] = {}
    own = detector is None
    det = PoseDetector() if own else detector
    try:
        for p in _progress(paths, progress, "pose"):
            name = p.name if counts[p.name] == 1 else str(p)
            try:
                kp = det(read_image(p))
            except (ImageError, ValueError) as err:
                failures[name] = str(err)
                continue
            if not np.isfinite(kp).all(axis=1).any():
                failures[name] = "no person detected"
                continue
            found[name] = kp
    finally:
        if own:
            det.close()
    return found, failures


def write_detections(out_path: str | Path, mapping: Mapping[str, Any]) -> Path:
    """Write ``{name: [18, 2]}``: ``.csv`` -> the annotation CSV format (y first, -1 missing);
    ``.json`` -> ``{name: [18 x ([x, y] | null)]}``."""
    out = Path(out_path)
    suffix = out.suffix.lower()
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        from poseshift.pose.keypoints_io import write_annotations_csv
        write_annotations_csv(out, mapping)
    elif suffix == ".json":
        obj = {}
        for name, kp in mapping.items():
            arr = np.asarray(kp, dtype=np.float32).reshape(NUM_JOINTS, 2)
            obj[name] = [None if (math.isnan(x) or math.isnan(y)) else [round(x, 2), round(y, 2)]
                         for x, y in arr.tolist()]
        out.write_text(json.dumps(obj, indent=1) + "\n", encoding="utf-8")
    else:
        raise ValueError(f"{out}: detections are written as .csv or .json, "
                         f"not {suffix or '(no extension)'!r}")
    return out
