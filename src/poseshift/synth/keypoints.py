"""Which COCO-18 keypoints a rendering shows.

A joint is kept when it lies in the frame, its surface faces the camera where that matters (eyes
and ears by their outward normals, the nose unless the head is turned away), and the part painted
last under it is one the joint belongs to (so a joint hidden behind the body is missing).
"""

from __future__ import annotations

import numpy as np

from poseshift.pose.schema import JOINTS, NUM_JOINTS
from poseshift.synth.parts import (
    EAR,
    EYE,
    FOREARM,
    HAIR,
    HEAD,
    LOWER,
    MOUTH,
    NECK,
    SHIN,
    SHOE,
    THIGH,
    TORSO,
    UPPER_ARM,
)

# Outward normals of the eyes in the head frame, and the facing thresholds (z of the normal).
EYE_NORMALS = {
    "r": np.array([-0.45, 0.1, 1.0]) / 1.1,
    "l": np.array([0.45, 0.1, 1.0]) / 1.1,
}
EYE_MIN = 0.15
NOSE_MIN = -0.15


def _allowed_parts() -> list[frozenset[int]]:
    """For each COCO-18 joint, the parts it may be seen on."""
    out = []
    for name in JOINTS:
        side = name[0]
        if name == "nose":
            s = {HEAD, EYE, MOUTH}
        elif name == "neck":  # the base of the neck, between the shoulders
            s = {TORSO, NECK, HEAD, HAIR, UPPER_ARM["r"], UPPER_ARM["l"]}
        elif name.endswith("eye"):
            s = {HEAD, EYE}
        elif name.endswith("ear"):
            s = {HEAD, HAIR, EAR}
        elif name.endswith("shoulder"):
            s = {TORSO, UPPER_ARM[side]}
        elif name.endswith("elbow"):
            s = {UPPER_ARM[side], FOREARM[side]}
        elif name.endswith("wrist"):
            s = {FOREARM[side]}
        elif name.endswith("hip"):
            s = {TORSO, LOWER, THIGH[side]}
        elif name.endswith("knee"):
            s = {LOWER, THIGH[side], SHIN[side]}
        else:  # ankle
            s = {LOWER, SHIN[side], SHOE[side]}
        out.append(frozenset(s))
    return out


ALLOWED_PARTS = _allowed_parts()
_KP_POINTS = (
    "nose",
    "neck",
    "r_shoulder",
    "r_elbow",
    "r_wrist",
    "l_shoulder",
    "l_elbow",
    "l_wrist",
    "r_hip",
    "r_knee",
    "r_ankle",
    "l_hip",
    "l_knee",
    "l_ankle",
    "r_eye",
    "l_eye",
    "r_ear",
    "l_ear",
)


def facing(Rh: np.ndarray) -> dict[str, bool]:
    """Which face points turn towards the camera, for the head's world rotation ``Rh``."""
    return {
        "nose": bool((Rh @ np.array([0, 0, 1.0]))[2] > NOSE_MIN),
        "r_eye": bool((Rh @ EYE_NORMALS["r"])[2] > EYE_MIN),
        "l_eye": bool((Rh @ EYE_NORMALS["l"])[2] > EYE_MIN),
        "r_ear": bool((Rh @ np.array([-1.0, 0, 0.35]))[2] > 0.0),
        "l_ear": bool((Rh @ np.array([1.0, 0, 0.35]))[2] > 0.0),
    }


def visible_keypoints(
    points: dict[str, np.ndarray], Rh: np.ndarray, part: np.ndarray
) -> np.ndarray:
    """COCO-18 ``float32 [18, 2]`` (x, y) from projected ``points``; NaN where a joint is outside
    the frame, turned away (face points) or painted over by a part it does not belong to."""
    s = part.shape[0]
    kp = np.full((NUM_JOINTS, 2), np.nan, np.float32)
    faces = facing(Rh)
    for j, name in enumerate(_KP_POINTS):
        x, y = points[name]
        c, r = int(round(x)), int(round(y))
        if not (0 <= c < s and 0 <= r < s) or not faces.get(name, True):
            continue
        if part[r, c] in ALLOWED_PARTS[j]:
            kp[j] = (x, y)
    return kp
