"""Render a ``Person`` in a ``Pose3D`` seen from a yaw: image, COCO-18 keypoints and person mask.

Every body part is a capsule, ellipse or convex polygon projected orthographically and painted back
to front by its depth (painter's algorithm). A keypoint is kept only if it lies in the frame, its
surface faces the camera where that matters (eyes, ears, nose) and the part painted last under it
is one the joint belongs to; otherwise it is NaN (hidden by the body or outside the frame).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from poseshift.synth import raster
from poseshift.synth.appearance import Person
from poseshift.synth.head import paint_head
from poseshift.synth.keypoints import visible_keypoints
from poseshift.synth.parts import (
    FOREARM,
    LOWER,
    SHIN,
    SHOE,
    THIGH,
    TORSO,
    UPPER_ARM,
    arm_item,
    capsule_item,
    polys_item,
    print_item,
)
from poseshift.synth.skeleton import Pose3D, Skeleton3D, forward_kinematics, rot_y


@dataclass
class Rendering:
    image: np.ndarray  # uint8 [S, S, 3]
    keypoints: np.ndarray  # float32 [18, 2] (x, y), NaN missing
    mask: np.ndarray  # bool [S, S]
    parts: np.ndarray  # uint8 [S, S] part ids (see PART_NAMES)
    alpha: np.ndarray  # float32 [S, S] in [0, 1], the person's anti-aliased coverage


class _View:
    """Turn body-frame points to world (yaw about Y) and project them to pixels."""

    def __init__(self, sk: Skeleton3D, body, yaw: float, size: int, zoom: float = 1.0):
        self.R = rot_y(yaw)
        self.size = size
        pts = {k: self.R @ v for k, v in sk.points.items()}
        self.w = pts
        ys = np.array([p[1] for p in pts.values()])
        top = max(ys.max() + 0.02, pts["head_top"][1])
        bottom = min(ys.min() - 0.02, 0.0)
        k = 0.85 * size / body.standing_height
        k = min(k, 0.92 * size / (top - bottom))
        self.k = k * zoom
        self.x0 = 0.5 * (pts["pelvis"][0] + pts["neck"][0])
        self.y_mid = 0.5 * (top + bottom)
        if zoom > 1.0:  # a closer crop: keep the top of the figure where it was, cut off the legs
            self.y_mid = top - (top - self.y_mid) * k / self.k
        self.p2 = {n: self.xy(p) for n, p in pts.items()}

    def xy(self, p: np.ndarray) -> np.ndarray:
        s = self.size
        return np.array(
            [(s - 1) / 2 + self.k * (p[0] - self.x0), (s - 1) / 2 - self.k * (p[1] - self.y_mid)]
        )

    def z(self, name: str) -> float:
        return float(self.w[name][2])

    def axis(self, frame: np.ndarray, i: int) -> np.ndarray:
        """World direction of column ``i`` of a body-frame rotation."""
        return self.R @ frame[:, i]


def _level(
    v: _View,
    sk: Skeleton3D,
    body,
    frac: float,
    half_w: float,
    frame: np.ndarray,
    depth: float = 1.0,
):
    """Left and right silhouette points of the torso cross-section at ``frac`` (0 neck, 1 pelvis,
    beyond 1 below the pelvis) of half-width ``half_w`` metres."""
    c3 = sk.points["neck"] + frac * (sk.points["pelvis"] - sk.points["neck"])
    c = v.xy(v.R @ c3)
    ax, az = v.axis(frame, 0), v.axis(frame, 2)
    hw = v.k * half_w * np.hypot(ax[0], depth * body.depth * az[0])
    spine = v.p2["pelvis"] - v.p2["neck"]
    spine = spine / (np.linalg.norm(spine) + 1e-9)
    perp = np.array([-spine[1], spine[0]])
    return c - hw * perp, c + hw * perp


def _torso_pieces(v: _View, sk: Skeleton3D, body, levels):
    pts = [_level(v, sk, body, *lv) for lv in levels]
    return [
        np.array([pts[i][0], pts[i][1], pts[i + 1][1], pts[i + 1][0]]) for i in range(len(pts) - 1)
    ]


def _legs(c: SimpleNamespace) -> None:
    """Thighs, shins and shoes."""
    cv, v, person, b, k, P = c.cv, c.v, c.person, c.b, c.k, c.P
    add, skin, lo_col = c.add, c.skin, c.lo_col
    lr = b.leg_r * k
    for side in "rl":
        hip, knee, ankle = P[f"{side}_hip"], P[f"{side}_knee"], P[f"{side}_ankle"]
        pant = 1.08 if person.lower_kind != "skirt" else 1.0
        if person.lower_kind == "trousers":
            c_th, c_sh = lo_col, lo_col
        elif person.lower_kind == "shorts":
            c_th, c_sh = (lo_col, skin, person.lower_len), skin
        else:
            c_th, c_sh = skin, skin
        th = (hip, knee, lr * pant, lr * 0.74 * pant)
        sh = (
            knee,
            ankle,
            lr * 0.7 * (pant if person.lower_kind == "trousers" else 1),
            lr * 0.46 * (1.15 if person.lower_kind == "trousers" else 1),
        )
        add(
            0.5 * (v.z(f"{side}_hip") + v.z(f"{side}_knee")),
            lambda th=th, c=c_th, p=THIGH[side]: capsule_item(cv, [th], [c], p),
        )
        add(
            0.5 * (v.z(f"{side}_knee") + v.z(f"{side}_ankle")),
            lambda sh=sh, c=c_sh, p=SHIN[side]: capsule_item(cv, [sh], [c], p),
        )
        shoe = (P[f"{side}_heel"], P[f"{side}_toe"], 0.05 * k, 0.042 * k)
        link = (ankle, P[f"{side}_heel"], lr * 0.46, 0.05 * k)
        add(
            0.5 * (v.z(f"{side}_heel") + v.z(f"{side}_toe")) + 0.001,
            lambda segs=[shoe, link], p=SHOE[side]: capsule_item(
                cv, segs, [person.shoes, person.shoes], p, 0.35
            ),
        )


def _lower(c: SimpleNamespace) -> None:
    """The top of trousers or shorts, or a skirt over both legs."""
    cv, v, sk, person, b, k = c.cv, c.v, c.sk, c.person, c.b, c.k
    add, lo_col, R_t, R_p, hw_s, hip_frac = c.add, c.lo_col, c.R_t, c.R_p, c.hw_s, c.hip_frac
    if person.lower_kind != "skirt":
        pieces = _torso_pieces(
            v, sk, b, [(0.78, hw_s * b.waist_w, R_t), (hip_frac, hw_s * b.hip_w, R_p)]
        )
        cl, cr = (
            v.xy(v.R @ (sk.points["r_hip"] + R_p @ np.array([0.45 * b.hip_hw, -0.07, 0]))),
            v.xy(v.R @ (sk.points["l_hip"] + R_p @ np.array([-0.45 * b.hip_hw, -0.07, 0]))),
        )
        lo_hip = pieces[0][2:]
        pieces.append(np.array([lo_hip[1], lo_hip[0], cr, cl]))
        add(
            v.z("pelvis") + 0.002,
            lambda pieces=pieces: polys_item(cv, pieces, lambda xs, ys: lo_col, LOWER),
        )
    else:
        top = _level(v, sk, b, 0.78, hw_s * b.waist_w, R_t)
        hipl = _level(v, sk, b, hip_frac, hw_s * b.hip_w * 1.05, R_p)
        hem_pts = []
        for side in "rl":
            h3, k3, a3 = (
                sk.points[f"{side}_hip"],
                sk.points[f"{side}_knee"],
                sk.points[f"{side}_ankle"],
            )
            dist = person.lower_len * b.thigh
            p3 = h3 + (k3 - h3) * min(dist / b.thigh, 1.0)
            if dist > b.thigh:
                p3 = k3 + (a3 - k3) * min((dist - b.thigh) / b.shin, 1.0)
            hem_pts.append(p3)
        mid = 0.5 * (hem_pts[0] + hem_pts[1])
        rad = max(
            0.5 * np.linalg.norm(hem_pts[0] - hem_pts[1]) + b.leg_r,
            hw_s * b.hip_w * (1.1 + 0.2 * person.lower_len),
        )
        c = v.xy(v.R @ mid)
        hem = [c - np.array([rad * k, 0]), c + np.array([rad * k, 0])]
        poly = [np.array([*top, *hipl]), np.array([*hipl, *hem])]
        # Over both legs: every thigh and shin is painted before the skirt.
        zmax = max(
            0.5 * (v.z(f"{sd}_{a}") + v.z(f"{sd}_{b_}"))
            for sd in "rl"
            for a, b_ in (("hip", "knee"), ("knee", "ankle"))
        )
        zmax = max(zmax, v.z("pelvis"))
        add(zmax + 0.003, lambda poly=poly: polys_item(cv, poly, lambda xs, ys: lo_col, LOWER))


def _torso(c: SimpleNamespace) -> None:
    """The upper garment, and its front print."""
    cv, v, sk, person, b, k = c.cv, c.v, c.sk, c.person, c.b, c.k
    P, add, R_t, R_p, hw_s, hip_frac = c.P, c.add, c.R_t, c.R_p, c.hw_s, c.hip_frac
    across, garment_fill = c.across, c.garment_fill
    hem_frac = 0.78 + person.hem * (hip_frac - 0.78) * 0.95
    levels = [
        (-0.02, hw_s * 0.42, R_t, 1.3),
        (0.06, hw_s * 1.02 * b.chest_w, R_t, 0.75),
        (0.3, hw_s * 0.92 * b.chest_w, R_t),
        (0.78, hw_s * b.waist_w, R_t),
        (hem_frac, hw_s * (b.waist_w + person.hem * (b.hip_w - b.waist_w)), R_p),
    ]
    pieces = _torso_pieces(v, sk, b, levels)
    mid_hw = 0.5 * np.linalg.norm(pieces[2][1] - pieces[2][0]) + 1e-3
    add(
        0.5 * (v.z("neck") + v.z("pelvis")) + 0.004,
        lambda pieces=pieces: polys_item(
            cv, pieces, garment_fill, TORSO, (P["neck"], P["pelvis"], mid_hw)
        ),
    )
    if person.pattern == "print":
        fz = v.axis(R_t, 2)
        if fz[2] > 0.2:
            c3 = (
                sk.points["neck"]
                + 0.33 * (sk.points["pelvis"] - sk.points["neck"])
                + R_t @ np.array([0, 0, hw_s * b.depth])
            )
            add(
                0.5 * (v.z("neck") + v.z("pelvis")) + 0.0045,
                lambda c=v.xy(v.R @ c3), f=float(fz[2]): print_item(  # noqa: B008 (binds now)
                    cv, person, c, f, hw_s * k, across
                ),
            )


def _arms(c: SimpleNamespace) -> None:
    """Upper arms, forearms and hands, with sleeves."""
    cv, v, person, b, k, P = c.cv, c.v, c.person, c.b, c.k, c.P
    add, skin, up_col, garment_fill = c.add, c.skin, c.up_col, c.garment_fill
    ar = b.arm_r * k
    for side in "rl":
        sl = person.sleeves
        sleeve = 1.12
        c_up = {"none": skin, "short": (up_col, skin, 0.45), "elbow": up_col, "long": up_col}[sl]
        c_fore = up_col if sl == "long" else skin
        up = (
            P[f"{side}_shoulder"],
            P[f"{side}_elbow"],
            ar * (sleeve if sl != "none" else 1.0),
            ar * 0.86,
        )
        fore = (
            P[f"{side}_elbow"],
            P[f"{side}_wrist"],
            ar * 0.8 * (sleeve if sl == "long" else 1),
            ar * 0.62,
        )
        hand = (P[f"{side}_wrist"], P[f"{side}_hand"], ar * 0.62, ar * 0.78)
        garment = sl != "none" and person.pattern in ("stripes", "checks", "dots")
        add(
            0.5 * (v.z(f"{side}_shoulder") + v.z(f"{side}_elbow")) + 0.012,
            lambda seg=up, c=c_up, p=UPPER_ARM[side], g=garment: arm_item(
                cv, [seg], [c], p, g and garment_fill
            ),
        )
        long_pat = garment and sl == "long"
        add(
            0.5 * (v.z(f"{side}_elbow") + v.z(f"{side}_hand")) + 0.012,
            lambda segs=[fore, hand], c=[c_fore, skin], p=FOREARM[side], g=long_pat: arm_item(
                cv, segs, c, p, g and garment_fill
            ),
        )


def render_full(
    person: Person,
    pose: Pose3D,
    yaw: float,
    size: int,
    background: str = "plain",
    rng: np.random.Generator | None = None,
    zoom: float = 1.0,
) -> Rendering:
    """Render and also return the part map (see :data:`PART_NAMES`) and the person's coverage."""
    rng = np.random.default_rng(0) if rng is None else rng
    b = person.body
    sk = forward_kinematics(b, pose)
    v = _View(sk, b, yaw, size, zoom)
    k, P = v.k, v.p2
    ground_y = v.xy(np.array([0.0, 0.0, 0.0]))[1]
    cv = raster.Canvas(raster.background(size, background, rng, ground_y))
    # Soft floor shadow.
    g = cv.grid(0, size - 1, ground_y - 0.05 * size, ground_y + 0.05 * size, 0)
    if g is not None:
        xs, ys = g
        cx = 0.5 * (P["r_ankle"][0] + P["l_ankle"][0])
        sdf, _, _ = raster.ellipse(xs, ys, (cx, ground_y), 0.22 * size, 0.03 * size)
        cv.paint(xs, ys, np.clip(-sdf / (0.03 * size), 0, 1) * 0.18, (0, 0, 0), 0)

    items: list[tuple[float, int, object]] = []

    def add(depth: float, fn) -> None:
        items.append((depth, len(items), fn))

    skin = np.asarray(person.skin, np.float32)
    up_col = np.asarray(person.upper, np.float32)
    lo_col = np.asarray(person.lower, np.float32)
    hair = np.asarray(person.hair, np.float32)
    R_t, R_p, R_h = sk.torso, sk.pelvis, sk.head
    spine_px = np.linalg.norm(P["pelvis"] - P["neck"]) + 1e-6
    across = (P["pelvis"] - P["neck"])[[1, 0]] * np.array([-1.0, 1.0]) / spine_px
    period = max(person.pattern_period * size, 2.0)

    def garment_fill(xs, ys):
        return raster.pattern_fill(
            person.pattern, xs, ys, P["neck"], across, period, person.upper, person.upper_alt
        )

    c = SimpleNamespace(
        cv=cv,
        v=v,
        sk=sk,
        person=person,
        b=b,
        k=k,
        P=P,
        add=add,
        skin=skin,
        up_col=up_col,
        lo_col=lo_col,
        hair=hair,
        R_t=R_t,
        R_p=R_p,
        R_h=R_h,
        hw_s=b.shoulder_hw,
        hip_frac=1.0 + 0.02 / b.torso_len,
        across=across,
        garment_fill=garment_fill,
    )
    for part in (_legs, _lower, _torso, paint_head, _arms):
        part(c)

    for _, _, fn in sorted(items, key=lambda it: (it[0], it[1])):
        fn()

    kp = visible_keypoints(v.p2, v.R @ sk.head, cv.part)
    return Rendering(cv.to_uint8(), kp, cv.part > 0, cv.part, cv.alpha)


def render(
    person: Person,
    pose: Pose3D,
    yaw: float,
    size: int,
    background: str = "plain",
    rng: np.random.Generator | None = None,
    zoom: float = 1.0,
):
    """Render ``person`` in ``pose`` turned by ``yaw`` radians (0 front, pi back, pi/2 right side).

    Returns ``(image uint8 [S, S, 3], keypoints float32 [18, 2] (x, y) NaN missing,
    mask bool [S, S])``.
    ``rng`` draws the background only; the person and pose are fixed by the arguments. The whole
    figure fills about 85% of the height at ``zoom`` 1; a larger ``zoom`` is a closer crop that
    keeps the head and cuts the legs off at the bottom edge.
    """
    r = render_full(person, pose, yaw, size, background, rng, zoom)
    return r.image, r.keypoints, r.mask
