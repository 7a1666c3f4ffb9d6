"""The ``poseshift`` command line's handling of the user's files: outputs that must not replace
anything unasked, the photos of folders, and a photo's entry in a keypoint file naming several."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def new_output(path: str, overwrite: bool) -> Path:
    """An output file that must not replace the user's file unless asked."""
    out = Path(path)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
    return out


def image_paths(items: list[str]) -> list[Path]:
    """The photos named: files as given, folders' images in name order."""
    from poseshift.images import IMAGE_SUFFIXES

    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            paths += sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
        elif p.is_file():
            paths.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such image or folder")
    if not paths:
        raise ValueError(f"no images in {' '.join(items)}")
    return paths


def pose_for_photo(pose: str | None, photo: str | Path, name: str | None = None) -> str | np.ndarray | None:
    """``pose`` (a --source-pose) for the photo ``photo``: where it is a keypoint file naming
    several photos (an annotation CSV, or what ``poseshift pose`` writes for a folder), the entry
    called ``name``, else the one named like ``photo`` (its file name, or its stem, as for a
    folder); any other pose as it is (a photo, a one-pose file), read later."""
    from poseshift.images import IMAGE_SUFFIXES
    from poseshift.pose.keypoints_io import KeypointFormatError, pick_row, read_named_poses

    if pose is None or Path(pose).suffix.lower() in IMAGE_SUFFIXES:
        if name is not None:
            raise ValueError(f"--pose-name {name!r} needs a keypoint file that names photos, not {pose}")
        return pose
    try:
        rows = read_named_poses(pose)
    except KeypointFormatError:  # OpenPose JSON, a plain list: one pose, or an error read_keypoints gives
        if name is not None:
            raise ValueError(f"--pose-name {name!r}: {pose} names no photos (one pose)") from None
        return pose
    if name is None and len(rows) == 1:
        return pose
    return pick_row(rows, name if name is not None else Path(photo).name, pose, "pose")
