"""Built-in motions: COCO-18 keypoint sequences a photo can be animated along (``poseshift animate``).

``motion(name, frames, height, width, source)`` -> ``float32 [frames, 18, 2]`` (x, y) pixels of an
``height x width`` frame, NaN where a joint is hidden. The motions are the synthetic people's 3D
skeleton (:mod:`poseshift.synth.skeleton`) articulated frame by frame and projected
orthographically, as :mod:`poseshift.synth.render` does; which joints are hidden (behind the body,
a face turned away) comes from rendering a plain synthetic person in each pose, so the motions hide
joints exactly as the training data did.

* ``turn``: a standing person turns a full 360 degrees about the vertical axis (front, their right
  side, back, their left side; frame ``frames`` would be frame 0 again, so it loops).
* ``walk``: one walk cycle on the spot (legs and arms swing, the knees bend in the swing phase,
  the body bobs), seen three-quarter from the front so the swing shows in 2D; it loops too.

Placement: with ``source`` (the photo's own 18 keypoints) the motion is scaled and moved so that the
joints present in the source (elbows and wrists left out where enough others remain: arms move
too freely to measure a person by) have the same bounding box as the same joints of the motion's
neutral standing pose. Without one (or with too few present joints) the standing figure, sole to
the top of the head, fills 80% of the frame's height, centred.
"""
from __future__ import annotations

import numpy as np

from poseshift.pose.schema import JOINTS, NUM_JOINTS
from poseshift.synth.appearance import Body, Person
from poseshift.synth.render import render_full
from poseshift.synth.skeleton import Pose3D, forward_kinematics, rot_y

MOTIONS: tuple[str, ...] = ("turn", "walk")

FILL = 0.8  # share of the frame height the standing figure fills when no source is given
WALK_YAW = np.deg2rad(35.0)  # the walk is seen from the front, turned to the person's right side
_VIS_SIZE = 128  # the square size visibility is rendered at
_ARMS = (3, 4, 6, 7)  # elbows and wrists: not used to measure the source when others remain

_BODY = Body()
# A plain person, only rendered to learn which joints the body hides in each frame.
_PERSON = Person(
    body=_BODY, skin=(224, 172, 140), hair=(60, 40, 30), hair_style="short", hairline=0.1,
    upper=(40, 90, 200), upper_alt=(40, 90, 200), pattern="plain", print_shape="disc",
    pattern_period=0.04, sleeves="short", hem=0.3, lower=(50, 50, 60), lower_kind="trousers",
    lower_len=1.0, shoes=(25, 25, 28),
)
_STAND = Pose3D(r_sh_abd=0.2, l_sh_abd=0.2, r_elbow=0.15, l_elbow=0.15, r_hip_abd=0.05, l_hip_abd=0.05)


def _project(pose: Pose3D, yaw: float, visibility: bool = True) -> np.ndarray:
    """[18, 2] (x, y) in metres, x to the image right and y down (sole at y = 0), the pelvis turned
    about the vertical axis by ``yaw``; NaN where the rendered person hides the joint."""
    sk = forward_kinematics(_BODY, pose)
    R = rot_y(yaw)
    out = np.empty((NUM_JOINTS, 2), np.float64)
    for j, name in enumerate(JOINTS):
        p = R @ sk.points[name]
        out[j] = (p[0], -p[1])
    if visibility:
        seen = render_full(_PERSON, pose, yaw, _VIS_SIZE).keypoints
        out[np.isnan(seen).any(axis=1)] = np.nan
    return out


def _turn(frames: int) -> np.ndarray:
    return np.stack([_project(_STAND, 2 * np.pi * k / frames) for k in range(frames)])


def _walk_pose(phase: float) -> Pose3D:
    """The articulation at ``phase`` (radians) of a walk cycle; the right leg swings forward first."""
    d = np.deg2rad
    kw: dict[str, float] = dict(lean_fwd=d(3), head_pitch=d(3))
    for side, offset in (("r", 0.0), ("l", np.pi)):
        a = phase + offset
        hip = d(8) + d(22) * np.sin(a)  # -14 .. 30 degrees: thigh back in stance, forward in swing
        swing = max(0.0, float(np.cos(a)))  # the leg moves forward: swing phase, the knee folds
        kw.update({
            f"{side}_hip_flex": hip,
            f"{side}_hip_abd": d(3),
            f"{side}_hip_rot": d(5),
            f"{side}_knee": d(6) + d(52) * swing ** 2,
            # The arm swings against its own leg; the elbow bends more as it comes forward.
            f"{side}_sh_flex": -d(24) * np.sin(a),
            f"{side}_sh_abd": d(10),
            f"{side}_sh_rot": d(10),
            f"{side}_elbow": d(20) + d(18) * max(0.0, float(-np.sin(a))),
        })
    kw["twist"] = d(5) * np.sin(phase)  # shoulders counter-rotate against the pelvis
    kw["pelvis_tilt"] = d(2) * np.cos(2 * phase)
    return Pose3D(**kw)


def _walk(frames: int) -> np.ndarray:
    return np.stack([_project(_walk_pose(2 * np.pi * k / frames), WALK_YAW) for k in range(frames)])


_BUILDERS = {"turn": _turn, "walk": _walk}


def _box(kp: np.ndarray) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of the finite rows of ``kp``."""
    ok = kp[np.isfinite(kp).all(axis=1)]
    return float(ok[:, 0].min()), float(ok[:, 1].min()), float(ok[:, 0].max()), float(ok[:, 1].max())


def _fit_source(ref: np.ndarray, source: np.ndarray) -> tuple[float, np.ndarray, np.ndarray] | None:
    """(scale, reference centre, source centre) that put the standing ``ref`` (metres) on the
    ``source`` keypoints (pixels), or None where the source has too few joints to measure."""
    present = np.isfinite(source).all(axis=1)
    use = present.copy()
    use[list(_ARMS)] = False
    if use.sum() < 2:
        use = present
    if use.sum() < 2:
        return None
    rx0, ry0, rx1, ry1 = _box(ref[use])
    sx0, sy0, sx1, sy1 = _box(source[use])
    if ry1 - ry0 >= 0.3:  # metres: the box spans the body vertically (not only the shoulders)
        scale = (sy1 - sy0) / (ry1 - ry0)
    elif rx1 - rx0 >= 0.2:
        scale = (sx1 - sx0) / (rx1 - rx0)
    else:
        return None
    if not np.isfinite(scale) or scale <= 0:
        return None
    return scale, np.array([rx0 + rx1, ry0 + ry1]) / 2, np.array([sx0 + sx1, sy0 + sy1]) / 2


def motion(name: str, frames: int, height: int, width: int, source: np.ndarray | None = None) -> np.ndarray:
    """The built-in motion ``name`` (one of :data:`MOTIONS`) as ``float32 [frames, 18, 2]`` (x, y)
    pixels of a ``height x width`` frame, NaN where a joint is hidden; placed on ``source`` (the
    photo's ``[18, 2]`` keypoints) when given, else centred at 80% of the frame's height."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown motion {name!r}; choose one of: {', '.join(MOTIONS)}")
    if isinstance(frames, bool) or int(frames) != frames or frames < 1:
        raise ValueError(f"frames must be a whole number >= 1, got {frames!r}")
    if height < 1 or width < 1:
        raise ValueError(f"the frame must be at least 1x1 pixels, got {height}x{width}")
    seq = _BUILDERS[name](int(frames))  # metres
    ref = _project(_STAND, 0.0, visibility=False)
    fit = None
    if source is not None:
        src = np.asarray(source, dtype=np.float64)
        if src.shape != (NUM_JOINTS, 2):
            raise ValueError(f"source keypoints must have shape [{NUM_JOINTS}, 2], got {list(src.shape)}")
        fit = _fit_source(ref, src)
    if fit is None:
        tall = _BODY.standing_height
        scale = FILL * height / tall
        if np.isfinite(seq).any():  # keep every frame inside the width too
            x0, _, x1, _ = _box(seq.reshape(-1, 2))
            if x1 > x0:
                scale = min(scale, 0.95 * width / (x1 - x0))
        ref_c = np.array([0.5 * (ref[:, 0].min() + ref[:, 0].max()), -tall / 2])  # the figure's middle
        fit = scale, ref_c, np.array([(width - 1) / 2, (height - 1) / 2])
    scale, ref_c, src_c = fit
    return ((seq - ref_c) * scale + src_c).astype(np.float32)
