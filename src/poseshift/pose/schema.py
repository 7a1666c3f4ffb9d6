"""The COCO-18 skeleton of OpenPose, the joint order of every keypoint file in this field.

Keypoints everywhere in poseshift are ``float32`` arrays of shape ``[18, 2]`` holding
``(x, y)`` in pixels of the image frame, with ``NaN`` for a joint that is missing
(not detected, hidden, or outside the frame). Left and right are the person's own.
"""
from __future__ import annotations

NUM_JOINTS = 18

JOINTS: tuple[str, ...] = (
    "nose", "neck",
    "r_shoulder", "r_elbow", "r_wrist",
    "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle",
    "l_hip", "l_knee", "l_ankle",
    "r_eye", "l_eye", "r_ear", "l_ear",
)
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(JOINTS)}

# Pairs (right, left) of the same body part.
LEFT_RIGHT_PAIRS: tuple[tuple[int, int], ...] = (
    (2, 5), (3, 6), (4, 7), (8, 11), (9, 12), (10, 13), (14, 15), (16, 17),
)


def _flip_permutation() -> tuple[int, ...]:
    perm = list(range(NUM_JOINTS))
    for r, l in LEFT_RIGHT_PAIRS:
        perm[r], perm[l] = l, r
    return tuple(perm)


# FLIP_PERM[i] is the joint whose data lands in slot i after a horizontal flip.
FLIP_PERM: tuple[int, ...] = _flip_permutation()

# The 17 limbs OpenPose draws for COCO-18.
LIMBS: tuple[tuple[int, int], ...] = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7),
    (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
    (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)

# OpenPose's colours, one per limb (RGB), so sheets look like the literature's.
LIMB_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170),
)

# BODY_25 -> COCO-18: BODY_25 inserts MidHip at 8 and adds feet after 18.
BODY25_TO_COCO18: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)
