"""A 3D skeleton: joint angles (``Pose3D``), a prior over them, and forward kinematics.

Body frame: X to the person's own left, Y up, Z forward (out of the chest). Angles in radians.
The camera looks along -Z of the world; ``yaw`` (applied by the renderer) turns the body about Y,
so yaw 0 is a front view, pi a back view and pi/2 shows the person's right side.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from poseshift.synth.appearance import Body

SIDES = (("r", -1.0), ("l", 1.0))  # the person's right is body -X


@dataclass(frozen=True)
class Pose3D:
    """Joint angles of one articulation (no global yaw: the renderer takes ``yaw`` separately)."""

    lean_fwd: float = 0.0  # torso forward bend
    lean_side: float = 0.0  # torso bend towards the person's left
    twist: float = 0.0  # upper body turned relative to the pelvis
    pelvis_tilt: float = 0.0  # pelvis roll (weight on one leg)
    head_yaw: float = 0.0
    head_pitch: float = 0.0  # positive nods down
    head_roll: float = 0.0
    r_sh_flex: float = 0.0  # arm raised forward
    r_sh_abd: float = 0.15  # arm raised sideways
    r_sh_rot: float = 0.0  # humeral internal rotation (turns the elbow bend inwards)
    r_elbow: float = 0.1
    l_sh_flex: float = 0.0
    l_sh_abd: float = 0.15
    l_sh_rot: float = 0.0
    l_elbow: float = 0.1
    r_hip_flex: float = 0.0  # thigh raised forward
    r_hip_abd: float = 0.03  # leg out sideways
    r_hip_rot: float = 0.0  # toes turned outwards
    r_knee: float = 0.0
    l_hip_flex: float = 0.0
    l_hip_abd: float = 0.03
    l_hip_rot: float = 0.0
    l_knee: float = 0.0

    def as_array(self) -> np.ndarray:
        return np.array([getattr(self, f.name) for f in fields(self)], dtype=np.float64)


def rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rot_z(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


_DOWN = np.array([0.0, -1.0, 0.0])


@dataclass
class Skeleton3D:
    """Named 3D points (body frame, sole on y = 0) and the torso, pelvis and head frames."""

    points: dict[str, np.ndarray]
    torso: np.ndarray  # [3, 3] columns: torso X, Y, Z axes
    pelvis: np.ndarray
    head: np.ndarray


def forward_kinematics(body: Body, pose: Pose3D) -> Skeleton3D:
    """Place every joint of ``body`` articulated by ``pose``; the lowest sole rests on y = 0."""
    b, p = body, pose
    pts: dict[str, np.ndarray] = {}
    R_p = rot_z(p.pelvis_tilt)
    R_t = R_p @ rot_y(p.twist) @ rot_x(p.lean_fwd) @ rot_z(-p.lean_side)
    pelvis = np.zeros(3)
    pts["pelvis"] = pelvis
    neck = pelvis + R_t @ np.array([0.0, b.torso_len, 0.0])
    pts["neck"] = neck
    R_h = R_t @ rot_y(p.head_yaw) @ rot_x(p.head_pitch) @ rot_z(-p.head_roll)
    r, ry = b.head_r, b.head_r * b.head_ry
    head_c = neck + R_h @ np.array([0.0, b.neck_len + ry * 0.95, 0.1 * r])
    pts["head"] = head_c
    pts["head_top"] = head_c + R_h @ np.array([0.0, ry, 0.0])
    pts["chin"] = head_c + R_h @ np.array([0.0, -ry * 0.85, 0.45 * r])
    pts["nose"] = head_c + R_h @ np.array([0.0, -0.12 * ry, 0.97 * r])
    pts["mouth"] = head_c + R_h @ np.array([0.0, -0.5 * ry, 0.84 * r])
    for side, s in SIDES:
        pts[f"{side}_eye"] = head_c + R_h @ np.array([s * 0.36 * r, 0.12 * ry, 0.88 * r])
        pts[f"{side}_ear"] = head_c + R_h @ np.array([s * 0.97 * r, 0.0, -0.08 * r])
        # Arm: shoulder rotation = abduction . flexion . humeral rotation, in the torso frame.
        sh = neck + R_t @ np.array([s * b.shoulder_hw, -0.035, 0.0])
        R_sh = (
            R_t
            @ rot_z(s * getattr(p, f"{side}_sh_abd"))
            @ rot_x(-getattr(p, f"{side}_sh_flex"))
            @ rot_y(-s * getattr(p, f"{side}_sh_rot"))
        )
        up_dir = R_sh @ _DOWN
        fore_dir = R_sh @ rot_x(-getattr(p, f"{side}_elbow")) @ _DOWN
        elbow = sh + b.upper_arm * up_dir
        wrist = elbow + b.forearm * fore_dir
        pts[f"{side}_shoulder"], pts[f"{side}_elbow"], pts[f"{side}_wrist"] = sh, elbow, wrist
        pts[f"{side}_hand"] = wrist + b.hand * fore_dir
        # Leg: hip rotation = abduction . flexion . rotation, in the pelvis frame; knee bends back.
        hip = pelvis + R_p @ np.array([s * b.hip_hw, -0.02, 0.0])
        R_hip = (
            R_p
            @ rot_z(s * getattr(p, f"{side}_hip_abd"))
            @ rot_x(-getattr(p, f"{side}_hip_flex"))
            @ rot_y(s * getattr(p, f"{side}_hip_rot"))
        )
        knee = hip + b.thigh * (R_hip @ _DOWN)
        ankle = knee + b.shin * (R_hip @ rot_x(getattr(p, f"{side}_knee")) @ _DOWN)
        foot_dir = rot_y(s * getattr(p, f"{side}_hip_rot")) @ np.array([0.0, 0.0, 1.0])
        pts[f"{side}_hip"], pts[f"{side}_knee"], pts[f"{side}_ankle"] = hip, knee, ankle
        pts[f"{side}_heel"] = ankle + np.array([0.0, -b.ankle_h * 0.55, 0.0]) - 0.035 * foot_dir
        pts[f"{side}_toe"] = (
            ankle + np.array([0.0, -b.ankle_h * 0.7, 0.0]) + (b.foot - 0.05) * foot_dir
        )
    sole = min(pts[k][1] for k in ("r_heel", "r_toe", "l_heel", "l_toe")) - b.ankle_h * 0.35
    lift = np.array([0.0, -sole, 0.0])
    pts = {k: v + lift for k, v in pts.items()}
    return Skeleton3D(points=pts, torso=R_t, pelvis=R_p, head=R_h)


# ----------------------------------------------------------------------------- the pose prior


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _arm(rng: np.random.Generator, mode: str) -> dict[str, float]:
    """Angles of one arm (flex, abd, rot, elbow) for a named arm mode."""
    d = np.deg2rad
    if mode == "down":
        return dict(
            flex=_u(rng, d(-15), d(20)),
            abd=_u(rng, d(4), d(22)),
            rot=_u(rng, d(-10), d(40)),
            elbow=_u(rng, d(0), d(35)),
        )
    if mode == "hip":  # hand on the hip
        return dict(
            flex=_u(rng, d(-25), d(0)),
            abd=_u(rng, d(35), d(55)),
            rot=_u(rng, d(70), d(95)),
            elbow=_u(rng, d(85), d(115)),
        )
    if mode == "raised":
        return dict(
            flex=_u(rng, d(-10), d(40)),
            abd=_u(rng, d(80), d(165)),
            rot=_u(rng, d(-20), d(20)),
            elbow=_u(rng, d(0), d(70)),
        )
    if mode == "forward":  # reaching forward or holding something
        return dict(
            flex=_u(rng, d(30), d(95)),
            abd=_u(rng, d(0), d(30)),
            rot=_u(rng, d(0), d(60)),
            elbow=_u(rng, d(10), d(100)),
        )
    if mode == "bent":  # forearm up in front of the chest
        return dict(
            flex=_u(rng, d(0), d(35)),
            abd=_u(rng, d(5), d(25)),
            rot=_u(rng, d(30), d(80)),
            elbow=_u(rng, d(70), d(135)),
        )
    # "free": anything a shoulder and elbow can do
    return dict(
        flex=_u(rng, d(-40), d(150)),
        abd=_u(rng, d(0), d(150)),
        rot=_u(rng, d(-30), d(90)),
        elbow=_u(rng, d(0), d(140)),
    )


_ARM_MODES = ("down", "hip", "raised", "forward", "bent", "free")
_ARM_P = (0.5, 0.12, 0.1, 0.1, 0.1, 0.08)


def sample_pose(rng: np.random.Generator) -> Pose3D:
    """A plausible articulation: standing, walking, contrapposto or free legs; mixed arm modes."""
    d = np.deg2rad
    kw: dict[str, float] = dict(
        lean_fwd=_u(rng, d(-6), d(10)),
        lean_side=_u(rng, d(-7), d(7)),
        twist=_u(rng, d(-20), d(20)),
        head_yaw=_u(rng, d(-30), d(30)),
        head_pitch=_u(rng, d(-12), d(18)),
        head_roll=_u(rng, d(-10), d(10)),
    )
    legs = rng.choice(4, p=[0.45, 0.3, 0.15, 0.1])
    if legs == 0:  # standing
        for side in "rl":
            kw.update(
                {
                    f"{side}_hip_flex": _u(rng, d(-6), d(8)),
                    f"{side}_hip_abd": _u(rng, d(0), d(10)),
                    f"{side}_hip_rot": _u(rng, d(-5), d(25)),
                    f"{side}_knee": _u(rng, d(0), d(10)),
                }
            )
    elif legs == 1:  # walking: one leg forward, the other back with its knee bent
        a = _u(rng, d(10), d(32)) * (1 if rng.random() < 0.5 else -1)
        front, back = ("r", "l") if a > 0 else ("l", "r")
        kw.update(
            {
                f"{front}_hip_flex": abs(a),
                f"{back}_hip_flex": -abs(a) * _u(rng, 0.5, 1.0),
                f"{front}_knee": _u(rng, d(0), d(20)),
                f"{back}_knee": _u(rng, d(10), d(45)),
                "r_hip_abd": _u(rng, d(0), d(5)),
                "l_hip_abd": _u(rng, d(0), d(5)),
                "r_hip_rot": _u(rng, d(0), d(15)),
                "l_hip_rot": _u(rng, d(0), d(15)),
            }
        )
    elif legs == 2:  # contrapposto: weight on one leg, the other bent and out
        free = "r" if rng.random() < 0.5 else "l"
        kw.update(
            {
                f"{free}_hip_flex": _u(rng, d(5), d(25)),
                f"{free}_knee": _u(rng, d(15), d(45)),
                f"{free}_hip_abd": _u(rng, d(2), d(18)),
                f"{free}_hip_rot": _u(rng, d(0), d(35)),
                "pelvis_tilt": _u(rng, d(2), d(6)) * (1 if free == "l" else -1),
            }
        )
    else:  # free: wide stance, a kick or a lunge
        for side in "rl":
            kw.update(
                {
                    f"{side}_hip_flex": _u(rng, d(-25), d(60)),
                    f"{side}_hip_abd": _u(rng, d(-5), d(35)),
                    f"{side}_hip_rot": _u(rng, d(-10), d(40)),
                    f"{side}_knee": _u(rng, d(0), d(80)),
                }
            )
    both_same = rng.random() < 0.35
    mode_r = _ARM_MODES[rng.choice(len(_ARM_MODES), p=_ARM_P)]
    mode_l = mode_r if both_same else _ARM_MODES[rng.choice(len(_ARM_MODES), p=_ARM_P)]
    for side, mode in (("r", mode_r), ("l", mode_l)):
        a = _arm(rng, mode)
        if legs == 1 and mode == "down":  # arms swing against the legs
            swing = -kw[f"{side}_hip_flex"] * 0.8
            a["flex"] = swing
        kw.update(
            {
                f"{side}_sh_flex": a["flex"],
                f"{side}_sh_abd": a["abd"],
                f"{side}_sh_rot": a["rot"],
                f"{side}_elbow": a["elbow"],
            }
        )
    return Pose3D(**kw)


def sample_yaw(rng: np.random.Generator) -> float:
    """A viewing yaw: mostly near-front, often side or back, sometimes anything (radians)."""
    k = rng.choice(4, p=[0.45, 0.22, 0.18, 0.15])
    centre = (0.0, np.pi / 2 * (1 if rng.random() < 0.5 else -1), np.pi, 0.0)[k]
    if k == 3:
        return float(rng.uniform(-np.pi, np.pi))
    return float(centre + rng.normal(0.0, np.deg2rad(14)))
