"""A synthetic person: body proportions and clothing, sampled from a seeded generator.

Lengths are in metres of a person about 1.7 m tall; the renderer scales every person to fill the
same share of the frame, so only ratios matter. Colours are RGB tuples of floats in [0, 255].
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

RGB = tuple[float, float, float]

HAIR_STYLES = ("short", "long", "bob", "ponytail", "bun", "buzz")
SLEEVES = ("none", "short", "elbow", "long")
PATTERNS = ("plain", "stripes", "checks", "dots", "print")
LOWER_KINDS = ("trousers", "shorts", "skirt")
PRINT_SHAPES = ("disc", "bar", "diamond")

# Anchors of a skin-tone ramp from light to dark (RGB).
_SKIN = np.array(
    [
        (250, 222, 198),
        (238, 196, 160),
        (222, 172, 125),
        (196, 138, 92),
        (150, 98, 62),
        (104, 66, 42),
        (74, 48, 32),
    ],
    dtype=np.float64,
)

_HAIR = {
    "black": (28, 24, 22),
    "dark_brown": (62, 40, 26),
    "brown": (112, 74, 44),
    "blonde": (214, 178, 110),
    "auburn": (146, 62, 30),
    "grey": (168, 166, 160),
}
_HAIR_P = {
    "black": 0.3,
    "dark_brown": 0.25,
    "brown": 0.2,
    "blonde": 0.13,
    "auburn": 0.07,
    "grey": 0.05,
}

# Garment colours: named staples, and random saturated colours the rest of the time.
_STAPLES = [
    (240, 240, 236),
    (30, 30, 34),
    (128, 128, 132),
    (32, 44, 90),
    (160, 30, 40),
    (196, 176, 140),
    (60, 90, 60),
    (90, 120, 170),
    (110, 60, 40),
]
_DENIM = [(52, 74, 120), (70, 100, 150), (40, 50, 80), (100, 130, 170)]
_SHOES = [(25, 25, 28), (240, 240, 240), (90, 55, 35), (150, 40, 40), (60, 60, 70), (200, 170, 120)]

EYE_COLOR: RGB = (20.0, 16.0, 30.0)
MOUTH_COLOR: RGB = (170.0, 62.0, 70.0)


@dataclass(frozen=True)
class Body:
    """Segment lengths (m), joint spacings and limb radii of one person."""

    head_r: float = 0.095  # horizontal semi-axis of the head ellipsoid
    head_ry: float = 1.2  # vertical semi-axis / head_r
    neck_len: float = 0.06  # neck joint (shoulder line) to the bottom of the head
    torso_len: float = 0.50  # pelvis (mid-hip) to neck joint
    shoulder_hw: float = 0.19  # neck to shoulder joint, sideways
    hip_hw: float = 0.10  # pelvis to hip joint, sideways
    upper_arm: float = 0.29
    forearm: float = 0.26
    hand: float = 0.09
    thigh: float = 0.44
    shin: float = 0.42
    ankle_h: float = 0.08  # ankle joint above the sole
    foot: float = 0.22
    arm_r: float = 0.045  # upper-arm radius; forearm and wrist taper from it
    leg_r: float = 0.075  # thigh radius at the hip
    chest_w: float = 1.0  # torso half-width at the chest / shoulder_hw
    waist_w: float = 0.72  # waist half-width / shoulder_hw
    hip_w: float = 0.85  # hip outline half-width / shoulder_hw
    depth: float = 0.6  # torso depth / width

    @property
    def standing_height(self) -> float:
        """Sole to the top of the head, standing straight."""
        return (
            self.ankle_h
            + self.shin
            + self.thigh
            + self.torso_len
            + self.neck_len
            + 2 * self.head_r * self.head_ry
        )


@dataclass(frozen=True)
class Person:
    """Appearance and proportions of one synthetic person."""

    body: Body
    skin: RGB
    hair: RGB
    hair_style: str  # one of HAIR_STYLES
    hairline: float  # higher -> less hair over the forehead (-0.2 .. 0.45)
    upper: RGB  # upper-garment colour
    upper_alt: RGB  # second colour of stripes, checks, dots or the front print
    pattern: str  # one of PATTERNS; "print" is seen only from the front
    print_shape: str  # one of PRINT_SHAPES
    pattern_period: float  # pattern period as a fraction of the frame height
    sleeves: str  # one of SLEEVES
    hem: float  # upper-garment hem: 0 at the waist, 1 at the hip joints
    lower: RGB  # lower-garment colour
    lower_kind: str  # one of LOWER_KINDS
    lower_len: float  # shorts: share of the thigh; skirt: hem from hip (0.3 .. 1.4 thighs)
    shoes: RGB

    @property
    def upper_colors(self) -> list[RGB]:
        """Every colour the upper garment shows somewhere."""
        return [self.upper] if self.pattern == "plain" else [self.upper, self.upper_alt]


def _clip(c) -> RGB:
    return tuple(float(v) for v in np.clip(np.asarray(c, dtype=np.float64), 0, 255))


def _jitter(rng: np.random.Generator, c, amount: float = 12.0) -> RGB:
    return _clip(np.asarray(c, dtype=np.float64) + rng.normal(0, amount, 3))


def _garment_color(rng: np.random.Generator) -> RGB:
    if rng.random() < 0.45:
        return _jitter(rng, _STAPLES[rng.integers(len(_STAPLES))], 10)
    h, s, v = rng.random(), rng.uniform(0.35, 0.9), rng.uniform(0.35, 0.95)
    return _clip(np.array(colorsys.hsv_to_rgb(h, s, v)) * 255)


def _distance(a: RGB, b: RGB) -> float:
    return float(np.linalg.norm(np.subtract(a, b)))


def _contrasting(rng: np.random.Generator, others: list[RGB], min_dist: float = 90.0) -> RGB:
    """A garment colour at least ``min_dist`` from every colour in ``others`` (best of 12 tries)."""
    best, best_d = None, -1.0
    for _ in range(12):
        c = _garment_color(rng)
        d = min(_distance(c, o) for o in others)
        if d >= min_dist:
            return c
        if d > best_d:
            best, best_d = c, d
    return best


def sample_body(rng: np.random.Generator) -> Body:
    """Body proportions: overall build, limb lengths and thickness vary independently a little."""
    femme = rng.random() < 0.5
    heavy = rng.uniform(0.85, 1.25)
    leg = rng.uniform(0.93, 1.08)
    arm = rng.uniform(0.95, 1.05)
    return Body(
        head_r=0.095 * rng.uniform(0.92, 1.08),
        head_ry=rng.uniform(1.12, 1.25),
        neck_len=rng.uniform(0.025, 0.05),
        torso_len=0.50 * rng.uniform(0.94, 1.06),
        shoulder_hw=(0.17 if femme else 0.195) * rng.uniform(0.93, 1.08),
        hip_hw=(0.105 if femme else 0.095) * rng.uniform(0.93, 1.08),
        upper_arm=0.29 * arm,
        forearm=0.26 * arm,
        hand=0.09 * arm,
        thigh=0.44 * leg,
        shin=0.42 * leg,
        arm_r=0.05 * heavy,
        leg_r=0.08 * heavy,
        chest_w=rng.uniform(0.98, 1.1),
        waist_w=(0.7 if femme else 0.8) * rng.uniform(0.9, 1.05) * min(heavy, 1.15),
        hip_w=(1.0 if femme else 0.85) * rng.uniform(0.93, 1.07),
        depth=rng.uniform(0.5, 0.7),
    )


def sample_person(rng: np.random.Generator) -> Person:
    """Sample a person: proportions, skin, hair (style, colour), upper and lower garments, shoes."""
    body = sample_body(rng)
    t = rng.random() * (len(_SKIN) - 1)
    i = int(t)
    skin = _jitter(rng, _SKIN[i] * (1 - (t - i)) + _SKIN[min(i + 1, len(_SKIN) - 1)] * (t - i), 5)
    names = list(_HAIR)
    hname = names[rng.choice(len(names), p=[_HAIR_P[n] for n in names])]
    hair = _jitter(rng, _HAIR[hname], 6)
    style = HAIR_STYLES[rng.choice(len(HAIR_STYLES), p=[0.32, 0.22, 0.14, 0.12, 0.08, 0.12])]
    hairline = float(rng.uniform(-0.15, 0.4)) if style != "buzz" else float(rng.uniform(0.2, 0.45))
    upper = _contrasting(rng, [skin, hair], 70)
    pattern = PATTERNS[rng.choice(len(PATTERNS), p=[0.36, 0.18, 0.14, 0.14, 0.18])]
    upper_alt = _contrasting(rng, [upper, skin], 100)
    kind = LOWER_KINDS[rng.choice(3, p=[0.55, 0.2, 0.25])]
    if kind == "trousers" and rng.random() < 0.5:
        lower = _jitter(rng, _DENIM[rng.integers(len(_DENIM))], 8)
        if min(_distance(lower, o) for o in (upper, upper_alt, skin)) < 60:
            lower = _contrasting(rng, [skin, upper, upper_alt], 70)
    else:
        lower = _contrasting(rng, [skin, upper, upper_alt], 70)
    lower_len = {
        "trousers": 1.0,
        "shorts": float(rng.uniform(0.3, 0.75)),
        "skirt": float(rng.uniform(0.45, 1.45)),
    }[kind]
    shoes = _jitter(rng, _SHOES[rng.integers(len(_SHOES))], 8)
    return Person(
        body=body,
        skin=skin,
        hair=hair,
        hair_style=style,
        hairline=hairline,
        upper=upper,
        upper_alt=upper_alt,
        pattern=pattern,
        print_shape=PRINT_SHAPES[rng.integers(len(PRINT_SHAPES))],
        pattern_period=float(rng.uniform(0.03, 0.055)),
        sleeves=SLEEVES[rng.choice(4, p=[0.15, 0.4, 0.1, 0.35])],
        hem=float(rng.uniform(0.0, 0.75)),
        lower=lower,
        lower_kind=kind,
        lower_len=lower_len,
        shoes=shoes,
    )
