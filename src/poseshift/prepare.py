"""A training set from a folder of unlabeled photos of people.

``prepare_dataset(images_dir, out_dir, size)`` detects each photo's pose (MediaPipe, see
:mod:`poseshift.detect`), drops the photos where the detector fails (the paper dropped the
images where CPM failed), fits the rest into the configured frame with their keypoints moved
alike (:func:`poseshift.letterbox.fit_to_frame`) and writes what training reads:

    OUT/images/<stem>.png     the fitted images
    OUT/annotations.csv       name:keypoints_y:keypoints_x (y first, -1 missing), name = <stem>.png
    OUT/masks/<stem>.png      person masks (0/255), with masks=True
    OUT/silhouettes/          the warp's person masks (poseshift.silhouette's cache, by content)
    OUT/prepare.json          the settings and what was dropped and why

Poses are detected on the original photo (full resolution), then moved into the frame.
The inputs are never modified; a non-empty ``out_dir`` is refused unless ``overwrite=True``.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from poseshift.detect import PoseDetector, _progress
from poseshift.images import IMAGE_SUFFIXES, ImageError, read_image, write_image
from poseshift.letterbox import FIT_MODES, fit_to_frame, frame_size
from poseshift.pose.keypoints_io import write_annotations_csv

__all__ = ["prepare_dataset", "pose_failure", "MIN_JOINTS"]

MIN_JOINTS = 8
_OWN_FILES = ("annotations.csv", "prepare.json")
_OWN_DIRS = ("images", "masks", "silhouettes")


def pose_failure(kp: np.ndarray, min_joints: int = MIN_JOINTS) -> str | None:
    """Why a detected pose is unusable for training, or None when it is fine.

    A pose must have a person (any joint), at least ``min_joints`` joints, both shoulders and
    at least one hip: the torso that the generator's pose conditioning is anchored on.
    """
    present = np.isfinite(np.asarray(kp, dtype=np.float32)).all(axis=1)
    n = int(present.sum())
    if n == 0:
        return "no person detected"
    if not (present[2] and present[5]):
        return "shoulders not found"
    if not (present[8] or present[11]):
        return "hips not found"
    if n < min_joints:
        return f"fewer than {min_joints} joints"
    return None


def _list_images(images_dir: Path) -> list[Path]:
    return sorted(p for p in images_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _check_out_dir(images_dir: Path, out_dir: Path, overwrite: bool) -> None:
    src, dst = images_dir.resolve(), out_dir.resolve()
    if dst == src or src in dst.parents or src in {dst / d for d in _OWN_DIRS}:
        raise ValueError(f"out_dir {out_dir} would write into the input folder {images_dir}")
    if dst.exists() and not dst.is_dir():
        raise ValueError(f"out_dir {out_dir} exists and is not a folder")
    if dst.is_dir() and any(dst.iterdir()):
        if not overwrite:
            raise FileExistsError(f"out_dir {out_dir} is not empty; pass overwrite=True to replace "
                                  "its images/, masks/ and annotations.csv")
        for d in _OWN_DIRS:
            for f in (dst / d).glob("*.png") if (dst / d).is_dir() else ():
                f.unlink()
        for name in _OWN_FILES:
            if (dst / name).is_file():
                (dst / name).unlink()


def prepare_dataset(images_dir: str | Path, out_dir: str | Path, size: int | Sequence[int] = 256,
                    mode: str = "pad", progress: bool = True, pad_value: int | Sequence[int] = 255,
                    min_joints: int = MIN_JOINTS, masks: bool = False, overwrite: bool = False,
                    detector: PoseDetector | None = None, silhouettes: bool = True) -> dict[str, Any]:
    """Make a training folder from the photos in ``images_dir``; returns the stats.

    ``size``: the frame, ``int`` (square) or ``(H, W)``; ``mode``: ``pad`` (keep the aspect,
    fill with ``pad_value``, white by default) or ``resize`` (stretch). Photos that cannot be
    read, or whose pose fails :func:`pose_failure`, are dropped and counted by reason.
    ``silhouettes``: compute each kept image's person mask once, into OUT/silhouettes (what the
    part warp uses, poseshift.warp), so no later run segments it again.
    """
    images_dir, out_dir = Path(images_dir), Path(out_dir)
    height, width = frame_size(size)
    if mode not in FIT_MODES:
        raise ValueError(f"unknown fit mode {mode!r}: expected one of {FIT_MODES}")
    if not images_dir.is_dir():
        raise FileNotFoundError(f"images folder not found: {images_dir}")
    paths = _list_images(images_dir)
    if not paths:
        raise ValueError(f"{images_dir}: no images ({', '.join(IMAGE_SUFFIXES)})")
    _check_out_dir(images_dir, out_dir, overwrite)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    if masks:
        (out_dir / "masks").mkdir(parents=True, exist_ok=True)

    kept: dict[str, np.ndarray] = {}
    dropped: dict[str, str] = {}
    own = detector is None
    det = PoseDetector() if own else detector
    cache = None
    if silhouettes:
        from poseshift.silhouette import SilhouetteCache

        cache = SilhouetteCache(out_dir / "silhouettes")
    try:
        for path in _progress(paths, progress, "prepare"):
            out_name = path.stem + ".png"
            if out_name in kept:
                dropped[path.name] = "duplicate stem"
                continue
            try:
                image = read_image(path)
            except ImageError:
                dropped[path.name] = "unreadable image"
                continue
            kp = det(image)
            reason = pose_failure(kp, min_joints)
            if reason is not None:
                dropped[path.name] = reason
                continue
            framed, fit = fit_to_frame(image, height, width, mode, pad_value)
            write_image(out_dir / "images" / out_name, framed)
            if masks:
                person = np.repeat(det.segment(image)[..., None] * np.uint8(255), 3, axis=2)
                mask, _ = fit_to_frame(person, height, width, mode, 0)
                mask = np.where(mask[..., 0] >= 128, 255, 0).astype(np.uint8)
                write_image(out_dir / "masks" / out_name, mask)
            if cache is not None:
                cache(framed)
            kept[out_name] = fit.apply(kp)
    finally:
        if own:
            det.close()
        if cache is not None:
            cache.close()

    write_annotations_csv(out_dir / "annotations.csv", kept)
    reasons: dict[str, int] = {}
    for r in dropped.values():
        reasons[r] = reasons.get(r, 0) + 1
    stats = {
        "images_dir": str(images_dir), "out_dir": str(out_dir), "size": [height, width], "mode": mode,
        "pad_value": pad_value if isinstance(pad_value, int) else list(pad_value),
        "min_joints": min_joints, "images": len(paths), "kept": len(kept), "dropped": len(dropped),
        "dropped_by_reason": reasons, "dropped_names": dropped,
        "detector": "mediapipe pose (poseshift.detect.PoseDetector)",
    }
    (out_dir / "prepare.json").write_text(json.dumps(stats, indent=1) + "\n", encoding="utf-8")
    return stats  # the summary is the caller's to print (poseshift prepare prints one line)
