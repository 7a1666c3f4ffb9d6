"""The ``poseshift`` command line's handling of the user's files: outputs that must not replace
anything unasked, the photos of folders, and a photo's entry in a keypoint file naming several."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from poseshift.files import new_output as new_output  # the command line's outputs


def image_paths(items: list[str]) -> list[Path]:
    """The photos named (:func:`poseshift.images.image_paths`; imported when needed, as torch is)."""
    from poseshift.images import image_paths as paths

    return paths(items)


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
