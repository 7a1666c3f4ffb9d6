"""Vectorised 2D rasterising: signed distance fields of capsules, ellipses and convex polygons over
small bounding boxes, anti-aliased by the distance (coverage = clip(0.5 - sdf, 0, 1)), composited
onto a float canvas with a part-id map beside it.

Pixel ``(row i, column j)`` has its centre at ``(x=j, y=i)``, so a keypoint at ``(x, y)`` lies in
pixel ``(round(y), round(x))``, the convention of the keypoint CSVs.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

F32 = np.float32


class Canvas:
    """An RGB float image in [0, 255], a uint8 part map (0 = background) and the person's float
    coverage ``alpha`` in [0, 1] (every paint with a part id composited over, anti-aliased)."""

    def __init__(self, background: np.ndarray):
        self.img = np.ascontiguousarray(background, dtype=F32)
        self.size = self.img.shape[0]
        self.part = np.zeros(self.img.shape[:2], dtype=np.uint8)
        self.alpha = np.zeros(self.img.shape[:2], dtype=F32)

    def grid(self, xmin: float, xmax: float, ymin: float, ymax: float, pad: float = 1.0):
        """Pixel-centre coordinates ``xs [1, w]``, ``ys [h, 1]`` of the clipped box, or None."""
        s = self.size
        x0, x1 = max(int(np.floor(xmin - pad)), 0), min(int(np.ceil(xmax + pad)) + 1, s)
        y0, y1 = max(int(np.floor(ymin - pad)), 0), min(int(np.ceil(ymax + pad)) + 1, s)
        if x0 >= x1 or y0 >= y1:
            return None
        return (np.arange(x0, x1, dtype=F32)[None, :], np.arange(y0, y1, dtype=F32)[:, None])

    def paint(self, xs: np.ndarray, ys: np.ndarray, cov: np.ndarray, color, part: int) -> None:
        """Blend ``color`` (``[3]`` or ``[h, w, 3]``) over the box with coverage ``cov [h, w]``."""
        x0, y0 = int(xs[0, 0]), int(ys[0, 0])
        sl = (slice(y0, y0 + ys.shape[0]), slice(x0, x0 + xs.shape[1]))
        region = self.img[sl]
        region += (np.asarray(color, dtype=F32) - region) * cov[..., None]
        if part:
            p = self.part[sl]
            p[cov >= 0.5] = part
            a = self.alpha[sl]
            a += (F32(1.0) - a) * cov

    def to_uint8(self) -> np.ndarray:
        return np.clip(self.img + 0.5, 0, 255).astype(np.uint8)


def coverage(sdf: np.ndarray) -> np.ndarray:
    return np.minimum(np.maximum(F32(0.5) - sdf, F32(0.0)), F32(1.0))


def capsule(xs, ys, a, b, ra: float, rb: float):
    """Tapered capsule from ``a`` to ``b`` (radii ``ra``, ``rb``): (sdf, t along it, |d| / r)."""
    ax, ay = F32(a[0]), F32(a[1])
    dx, dy = F32(b[0] - a[0]), F32(b[1] - a[1])
    px, py = xs - ax, ys - ay
    ll = dx * dx + dy * dy
    t = (
        np.clip((px * dx + py * dy) / ll, 0.0, 1.0)
        if ll > 1e-8
        else np.zeros(np.broadcast_shapes(px.shape, py.shape), F32)
    )
    qx, qy = px - t * dx, py - t * dy
    dist = np.sqrt(qx * qx + qy * qy)
    r = F32(ra) + t * F32(rb - ra)
    return dist - r, t, dist / r


def capsule_box(a, b, ra, rb):
    r = max(ra, rb)
    return (min(a[0], b[0]) - r, max(a[0], b[0]) + r, min(a[1], b[1]) - r, max(a[1], b[1]) + r)


def ellipse(xs, ys, c, rx: float, ry: float, angle: float = 0.0):
    """Approximate sdf of an ellipse (semi-axes ``rx``, ``ry``, turned by ``angle``); also its
    normalised coordinates (u, v) in [-1, 1] for shading."""
    ca, sa = F32(np.cos(angle)), F32(np.sin(angle))
    px, py = xs - F32(c[0]), ys - F32(c[1])
    u = (px * ca + py * sa) / F32(rx)
    v = (-px * sa + py * ca) / F32(ry)
    k = np.sqrt(u * u + v * v) + F32(1e-6)
    grad = np.sqrt((u / F32(rx)) ** 2 + (v / F32(ry)) ** 2) / k + F32(1e-6)
    return (k - 1.0) / grad, u, v


def convex_hull(points: np.ndarray) -> np.ndarray:
    """Counter-clockwise (in image coordinates) hull of a few 2D points (monotone chain)."""
    pts = sorted(map(tuple, np.asarray(points, dtype=np.float64)))
    if len(pts) <= 2:
        return np.array(pts)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list = []
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


def polygon(xs, ys, points: np.ndarray, rounding: float = 0.0):
    """Sdf of the convex hull of ``points`` (exact inside, a lower bound outside), rounded by
    ``rounding`` pixels."""
    hull = convex_hull(points)
    if len(hull) < 3:
        return np.full(np.broadcast_shapes(xs.shape, ys.shape), 1e3, F32)
    sdf = None
    n = len(hull)
    for i in range(n):
        p, q = hull[i], hull[(i + 1) % n]
        ex, ey = q[0] - p[0], q[1] - p[1]
        ln = np.hypot(ex, ey)
        if ln < 1e-9:
            continue
        # The hull runs counter-clockwise in (x, y) maths axes; its outward normal is (ey, -ex).
        nx, ny = F32(ey / ln), F32(-ex / ln)
        d = (xs - F32(p[0])) * nx + (ys - F32(p[1])) * ny
        sdf = d if sdf is None else np.maximum(sdf, d)
    return sdf - F32(rounding)


def poly_box(points: np.ndarray, pad: float = 0.0):
    p = np.asarray(points)
    return (p[:, 0].min() - pad, p[:, 0].max() + pad, p[:, 1].min() - pad, p[:, 1].max() + pad)


# ----------------------------------------------------------------------------- fills


def pattern_fill(kind: str, xs, ys, origin, across, period: float, base, alt):
    """Colour field of a garment pattern in the garment's own 2D frame (``across`` is a unit
    vector across the torso; the other axis runs down it). ``kind``: plain, stripes, checks, dots
    ("print" fills plain: its motif is drawn separately)."""
    base = np.asarray(base, F32)
    if kind in ("plain", "print"):
        return base
    px, py = xs - F32(origin[0]), ys - F32(origin[1])
    ux, uy = F32(across[0]), F32(across[1])
    a = (px * ux + py * uy) / F32(period)  # across
    b = (-px * uy + py * ux) / F32(period)  # down
    fb = b - np.floor(b)
    if kind == "stripes":
        m = fb < 0.5
    elif kind == "checks":
        fa = a - np.floor(a)
        m = (fa < 0.5) ^ (fb < 0.5)
    else:  # dots on a staggered grid
        row = np.floor(b)
        fa = a + 0.5 * (row % 2) - np.floor(a + 0.5 * (row % 2))
        m = (fa - 0.5) ** 2 + (fb - 0.5) ** 2 < 0.09
    m = np.broadcast_to(m, np.broadcast_shapes(px.shape, py.shape))
    return np.where(m[..., None], np.asarray(alt, F32), base)


def shade(color, amount):
    """``color`` times a per-pixel factor ``amount [h, w]`` (1 = full light)."""
    c = np.asarray(color, F32)
    return c * amount[..., None] if c.ndim == 1 else c * amount[..., None]


# ----------------------------------------------------------------------------- backgrounds


def background(size: int, kind: str, rng: np.random.Generator, floor_y: float) -> np.ndarray:
    """A ``[S, S, 3]`` float background. ``plain``: a light studio colour with a soft vertical
    gradient; ``textured``: a smooth random colour field with a wall pattern and a floor."""
    s = size
    ys = np.arange(s, dtype=F32)[:, None, None] / F32(s)
    if kind == "plain":
        base = np.array([rng.uniform(205, 250)] * 3, F32) + rng.normal(0, 5, 3).astype(F32)
        img = base[None, None, :] * (F32(1.0) - F32(0.06) * ys)
        return np.broadcast_to(img, (s, s, 3)).copy()
    if kind != "textured":
        raise ValueError(f"background must be 'plain' or 'textured', got {kind!r}")
    g = int(rng.integers(2, 5))
    # Muted colours: a random base tone with small per-cell variation, partly desaturated.
    tone = rng.uniform(60, 220, 3)
    grey = tone.mean()
    tone = grey + (tone - grey) * rng.uniform(0.2, 0.8)
    small = np.clip(tone + rng.normal(0, 22, (g, g, 3)), 0, 255).astype(np.uint8)
    img = np.asarray(Image.fromarray(small).resize((s, s), Image.BILINEAR), F32)
    xs = np.arange(s, dtype=F32)[None, :]
    y2 = np.arange(s, dtype=F32)[:, None]
    period = F32(s * rng.uniform(0.05, 0.2))
    style = int(rng.integers(4))
    if style == 0:  # vertical stripes
        m = ((xs / period) % 1.0 < 0.5) + 0 * y2
    elif style == 1:  # tiles
        m = ((xs / period) % 1.0 < 0.5) ^ ((y2 / period) % 1.0 < 0.5)
    elif style == 2:  # diagonal bands
        m = (((xs + y2) / period) % 1.0) < 0.5
    else:  # none: just the colour field
        m = np.zeros((s, s), bool)
    img = img * np.where(m, F32(rng.uniform(0.75, 0.92)), F32(1.0))[..., None]
    floor = y2[..., None] >= F32(floor_y - s * rng.uniform(0.02, 0.12))
    floor_col = (rng.uniform(60, 190) + rng.normal(0, 18, 3)).astype(F32)
    img = np.where(floor, img * F32(0.35) + floor_col * F32(0.65), img)
    return img.astype(F32)
