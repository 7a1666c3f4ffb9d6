"""Painting one body part: capsule limbs, convex-polygon garments, the head with its hair shell and
face, and the front print. Each function paints onto a :class:`raster.Canvas` over the part's own
small bounding box and writes its part id where it covers at least half a pixel.
"""

from __future__ import annotations

import numpy as np

from poseshift.synth import raster
from poseshift.synth.appearance import Person

# Part ids of the part map.
BG, TORSO, LOWER, NECK, HEAD, HAIR = 0, 1, 2, 3, 4, 5
UPPER_ARM = {"r": 6, "l": 8}
FOREARM = {"r": 7, "l": 9}
THIGH = {"r": 10, "l": 12}
SHIN = {"r": 11, "l": 13}
SHOE = {"r": 14, "l": 15}
EYE, MOUTH, EAR = 16, 17, 18
PART_NAMES = {
    BG: "background",
    TORSO: "torso",
    LOWER: "lower",
    NECK: "neck",
    HEAD: "head",
    HAIR: "hair",
    6: "r_upper_arm",
    7: "r_forearm",
    8: "l_upper_arm",
    9: "l_forearm",
    10: "r_thigh",
    11: "r_shin",
    12: "l_thigh",
    13: "l_shin",
    14: "r_shoe",
    15: "l_shoe",
    EYE: "eye",
    MOUTH: "mouth",
    EAR: "ear",
}
LIGHT = np.array([-0.35, 0.45, 0.82])
LIGHT /= np.linalg.norm(LIGHT)


def _is_split(c) -> bool:
    """A ``(colour below, colour above, t)`` split rather than one colour."""
    return isinstance(c, tuple) and len(c) == 3 and not np.isscalar(c[0])


def capsule_item(cv: raster.Canvas, segs, colors, part: int, shade_amt: float = 0.28):
    """Union of capsules ``segs`` [(a, b, ra, rb)] in one paint; ``colors[i]`` is a colour or a
    function ``t -> mask`` pair ``(c_lo, c_hi, t_split)`` splitting the capsule along its length."""
    boxes = np.array([raster.capsule_box(*s) for s in segs])
    g = cv.grid(boxes[:, 0].min(), boxes[:, 1].max(), boxes[:, 2].min(), boxes[:, 3].max())
    if g is None:
        return
    xs, ys = g
    if len(segs) == 1 and not _is_split(colors[0]):  # fast path: one flat-coloured capsule
        a, b, ra, rb = segs[0]
        sdf, _, n = raster.capsule(xs, ys, a, b, max(ra, 0.75), max(rb, 0.75))
        light = 1.0 - shade_amt * np.minimum(n, 1.0) ** 2
        color = np.asarray(colors[0], np.float32)
        cv.paint(xs, ys, raster.coverage(sdf), light[..., None] * color, part)
        return
    best_sdf, col, rn = None, None, None
    for (a, b, ra, rb), c in zip(segs, colors, strict=True):
        sdf, t, n = raster.capsule(xs, ys, a, b, max(ra, 0.75), max(rb, 0.75))
        if _is_split(c):
            lo, hi, split = c
            cc = np.where(
                (t < split)[..., None], np.asarray(lo, np.float32), np.asarray(hi, np.float32)
            )
        else:
            cc = np.broadcast_to(np.asarray(c, np.float32), sdf.shape + (3,))
        if best_sdf is None:
            best_sdf, col, rn = sdf, cc, n
        else:
            closer = sdf < best_sdf
            best_sdf = np.where(closer, sdf, best_sdf)
            col = np.where(closer[..., None], cc, col)
            rn = np.where(closer, n, rn)
    light = 1.0 - shade_amt * np.clip(rn, 0, 1) ** 2
    cv.paint(xs, ys, raster.coverage(best_sdf), col * light[..., None], part)


def polys_item(cv: raster.Canvas, polys, fill, part: int, axis_pts=None, rounding: float = 0.6):
    allp = np.concatenate(polys)
    g = cv.grid(*raster.poly_box(allp, 1.0))
    if g is None:
        return
    xs, ys = g
    sdf = None
    for p in polys:
        s = raster.polygon(xs, ys, p, rounding)
        sdf = s if sdf is None else np.minimum(sdf, s)
    col = fill(xs, ys)
    if axis_pts is not None:  # cylindrical shading across the torso
        a, b, hw = axis_pts
        _, _, n = raster.capsule(xs, ys, a, b, hw, hw)
        col = col * (1.0 - 0.22 * np.clip(n, 0, 1) ** 2)[..., None]
    else:
        col = np.broadcast_to(col, sdf.shape + (3,))
    cv.paint(xs, ys, raster.coverage(sdf), col, part)


def arm_item(cv, segs, colors, part, fill):
    """Capsules of an arm; with ``fill`` the garment pattern replaces the garment colour."""
    if not fill:
        return capsule_item(cv, segs, colors, part)
    boxes = np.array([raster.capsule_box(*s) for s in segs])
    g = cv.grid(boxes[:, 0].min(), boxes[:, 1].max(), boxes[:, 2].min(), boxes[:, 3].max())
    if g is None:
        return
    xs, ys = g
    pat = fill(xs, ys)
    best, col, rn = None, None, None
    for (a, b, ra, rb), c in zip(segs, colors, strict=True):
        sdf, t, n = raster.capsule(xs, ys, a, b, max(ra, 0.75), max(rb, 0.75))
        if _is_split(c):
            cc = np.where((t < c[2])[..., None], pat, np.asarray(c[1], np.float32))
        elif c is colors[-1] and len(segs) > 1:
            cc = np.broadcast_to(np.asarray(c, np.float32), sdf.shape + (3,))
        else:
            cc = np.broadcast_to(pat, sdf.shape + (3,))
        if best is None:
            best, col, rn = sdf, cc, n
        else:
            closer = sdf < best
            best, rn = np.where(closer, sdf, best), np.where(closer, n, rn)
            col = np.where(closer[..., None], cc, col)
    cv.paint(
        xs, ys, raster.coverage(best), col * (1.0 - 0.28 * np.clip(rn, 0, 1) ** 2)[..., None], part
    )


def ellipse_item(cv, c, rx, ry, color, part, alpha: float = 1.0):
    g = cv.grid(c[0] - rx, c[0] + rx, c[1] - ry, c[1] + ry)
    if g is None:
        return
    xs, ys = g
    sdf, _, _ = raster.ellipse(xs, ys, c, rx, ry)
    cv.paint(xs, ys, raster.coverage(sdf) * np.float32(alpha), color, part)


def print_item(cv, person: Person, c, facing: float, scale: float, across):
    """The front print: a motif on the chest, foreshortened with the turn of the torso."""
    rx, ry = 0.42 * scale * facing, 0.32 * scale
    g = cv.grid(c[0] - max(rx, ry), c[0] + max(rx, ry), c[1] - max(rx, ry), c[1] + max(rx, ry))
    if g is None:
        return
    xs, ys = g
    ang = float(np.arctan2(across[1], across[0]))
    if person.print_shape == "disc":
        sdf, _, _ = raster.ellipse(xs, ys, c, 0.8 * ry * facing, 0.8 * ry, ang)
    else:
        u, w = np.array([np.cos(ang), np.sin(ang)]), np.array([-np.sin(ang), np.cos(ang)])
        if person.print_shape == "bar":
            pts = [
                c + sx * rx * u + sy * 0.45 * ry * w
                for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))
            ]
        else:
            pts = [c + rx * 0.8 * u, c + ry * w, c - rx * 0.8 * u, c - ry * w]
        sdf = raster.polygon(xs, ys, np.array(pts))
    cv.paint(xs, ys, raster.coverage(sdf), person.upper_alt, TORSO)


def head_item(cv, person: Person, c, hr: float, hry: float, Rh: np.ndarray):
    """The head ellipse with skin, Lambert shading, and the hair shell where the hairline says."""
    shell = 1.03 if person.hair_style == "buzz" else 1.1
    g = cv.grid(c[0] - shell * hr, c[0] + shell * hr, c[1] - shell * hry, c[1] + shell * hry)
    if g is None:
        return
    xs, ys = g
    sdf_head, u, vv = raster.ellipse(xs, ys, c, hr, hry)
    sdf_shell, us, vs = raster.ellipse(
        xs, ys, c - np.array([0, 0.05 * hry]), shell * hr, shell * hry
    )
    nz = np.sqrt(np.clip(1.0 - us * us - vs * vs, 0.0, 1.0))
    # Camera-space normal of the shell (image y points down) -> the head's own frame.
    nx_h = Rh[0, 0] * us - Rh[1, 0] * vs + Rh[2, 0] * nz
    ny_h = Rh[0, 1] * us - Rh[1, 1] * vs + Rh[2, 1] * nz
    nz_h = Rh[0, 2] * us - Rh[1, 2] * vs + Rh[2, 2] * nz
    f = ny_h - 0.7 * nz_h
    if person.hair_style == "bob":
        f = f + 0.6 * np.abs(nx_h)
    elif person.hair_style in ("long", "ponytail"):
        f = f + 0.25 * np.abs(nx_h)
    hair_a = np.clip((f - person.hairline) * 6.0 + 0.5, 0.0, 1.0)
    if person.hair_style == "buzz":
        hair_a = hair_a * 0.85
    cov_head = raster.coverage(sdf_head)
    cov = np.maximum(cov_head, raster.coverage(sdf_shell) * hair_a)
    nzh = np.sqrt(np.clip(1.0 - u * u - vv * vv, 0.0, 1.0))
    lam = 0.72 + 0.28 * np.clip(LIGHT[0] * u - LIGHT[1] * vv + LIGHT[2] * nzh, 0, 1)
    skin = np.asarray(person.skin, np.float32)
    col = (
        skin * (1 - hair_a)[..., None] + np.asarray(person.hair, np.float32) * hair_a[..., None]
    ) * lam[..., None]
    cv.paint(xs, ys, cov, col, HEAD)
    region = cv.part[int(ys[0, 0]) : int(ys[-1, 0]) + 1, int(xs[0, 0]) : int(xs[0, -1]) + 1]
    region[(cov >= 0.5) & (hair_a >= 0.5)] = HAIR
