"""The synthetic person's neck, head (hair, face) and ears, painted into a render's canvas
(poseshift.synth.render calls it with the render's state)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from poseshift.synth.appearance import EYE_COLOR, MOUTH_COLOR
from poseshift.synth.keypoints import EYE_MIN, EYE_NORMALS, NOSE_MIN
from poseshift.synth.parts import EAR, EYE, HAIR, HEAD, MOUTH, NECK, capsule_item, ellipse_item, head_item


def paint_head(c: SimpleNamespace) -> None:
    """Neck, head with hair and face, ears, and long hair."""
    cv, v, sk, person, b, k = c.cv, c.v, c.sk, c.person, c.b, c.k
    P, add, skin, hair, R_t, R_h = c.P, c.add, c.skin, c.hair, c.R_t, c.R_h
    hr, hry = b.head_r * k, b.head_r * b.head_ry * k
    add(
        v.z("neck") - 0.02,
        lambda: capsule_item(
            cv,
            [(P["neck"], 0.45 * P["neck"] + 0.55 * P["head"], 0.5 * hr, 0.45 * hr)],
            [skin],
            NECK,
            0.2,
        ),
    )
    Rh = v.R @ R_h
    fwd = Rh[:, 2]
    style = person.hair_style
    if style in ("long", "bob"):
        down = 1.9 if style == "long" else 0.9
        hc, r0, ry0 = sk.points["head"], b.head_r, b.head_r * b.head_ry
        segs = []
        for sx in (-1.0, 1.0):  # two locks beside the face and neck
            c3 = hc + R_h @ np.array([sx * 0.6 * r0, -0.1 * r0, -0.25 * r0])
            e3 = hc + R_t @ np.array([sx * 0.75 * r0, -down * ry0, -0.45 * r0])
            segs.append((v.xy(v.R @ c3), v.xy(v.R @ e3), 0.5 * hr, 0.5 * hr))
        if fwd[2] < 0.3:  # the back of the hair, seen only from behind or the side
            c3 = hc + R_h @ np.array([0, -0.1 * r0, -0.35 * r0])
            e3 = hc + R_t @ np.array([0, -down * ry0, -0.6 * r0])
            segs.append((v.xy(v.R @ c3), v.xy(v.R @ e3), 0.95 * hr, 1.05 * hr))
        # Behind the head: after it in a back view, before it in front and side views.
        zh = v.z("head") - b.head_r * (0.5 * fwd[2] + 0.3 * (1 - abs(fwd[2])))
        add(zh, lambda segs=segs: capsule_item(cv, segs, [hair] * len(segs), HAIR, 0.3))
    if style in ("ponytail", "bun"):
        if style == "bun":
            a3 = (
                sk.points["head"]
                + R_h @ np.array([0, 0.7, -0.75]) * np.array([1, b.head_ry, 1]) * b.head_r
            )
            seg = (v.xy(v.R @ a3), v.xy(v.R @ a3), 0.45 * hr, 0.45 * hr)
        else:
            a3 = sk.points["head"] + R_h @ np.array([0, 0.35 * b.head_ry, -1.0]) * b.head_r
            e3 = a3 + R_h @ np.array([0, -1.6 * b.head_ry, -0.45]) * b.head_r
            seg = (v.xy(v.R @ a3), v.xy(v.R @ e3), 0.3 * hr, 0.22 * hr)
        add(float((v.R @ a3)[2]), lambda seg=seg: capsule_item(cv, [seg], [hair], HAIR, 0.3))
    for side, s in (("r", -1.0), ("l", 1.0)):
        n_ear = Rh @ np.array([s, 0.0, 0.35])
        if style not in ("long", "bob") and n_ear[2] > -0.2:
            add(
                v.z(f"{side}_ear"),
                lambda c=P[f"{side}_ear"]: ellipse_item(
                    cv, c, 0.2 * hr, 0.33 * hry, skin * 0.93, EAR
                ),
            )
    add(v.z("head"), lambda: head_item(cv, person, P["head"], hr, hry, Rh))
    if fwd[2] > NOSE_MIN:  # nose, a bump that shows in profile
        add(
            v.z("head") + 1e-4,
            lambda: ellipse_item(cv, P["nose"], 0.16 * hr, 0.2 * hry, skin * 0.97, HEAD),
        )
    zf = v.z("head") + 2e-4
    for side in "rl":
        n_eye = Rh @ EYE_NORMALS[side]
        if n_eye[2] > EYE_MIN:
            add(
                zf,
                lambda c=P[f"{side}_eye"], f=float(n_eye[2]): ellipse_item(
                    cv,
                    c,
                    max(0.13 * hr * f, 0.5),
                    max(0.15 * hry, 0.55),
                    EYE_COLOR,
                    EYE,
                    alpha=min((f - EYE_MIN) / 0.15, 1.0),
                ),
            )
    if fwd[2] > 0.35:
        add(
            zf,
            lambda f=float(fwd[2]): ellipse_item(
                cv,
                P["mouth"],
                max(0.3 * hr * f, 0.6),
                max(0.08 * hry, 0.45),
                MOUTH_COLOR,
                MOUTH,
                alpha=min((f - 0.35) / 0.2, 1.0),
            ),
        )
