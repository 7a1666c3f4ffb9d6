"""Simple stick-built people for tests and smoke runs: coloured capsules on a white ground.

Each figure has its own shirt, trousers and skin colour and a 2D pose drawn from a
small joint-angle prior; keypoints are exact (COCO-18, person's own left and right,
front views only). ``write_figures`` lays them out as a training folder
(``images/``, ``annotations.csv``, ``split.csv``, ``pairs.csv``).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from poseshift.pose.keypoints_io import write_annotations_csv

PALETTE = np.array([
    (200, 30, 30), (30, 90, 200), (30, 160, 60), (230, 160, 20), (130, 40, 160),
    (20, 160, 170), (220, 90, 150), (90, 60, 30), (60, 60, 60), (240, 220, 40),
], dtype=np.uint8)
SKINS = np.array([(241, 194, 160), (198, 134, 90), (141, 85, 54), (224, 172, 105)], dtype=np.uint8)


def sample_stick_pose(rng: np.random.Generator, size: int) -> np.ndarray:
    """A front-facing 2D pose [18,2] (x, y) in a size x size frame."""
    s = size / 64.0
    cx = size / 2 + rng.uniform(-4, 4) * s
    neck = np.array([cx, 16 * s])
    kp = np.full((18, 2), np.nan, np.float32)
    kp[1] = neck
    kp[0] = neck + (0, -6 * s)
    kp[14], kp[15] = kp[0] + (-2 * s, -1.5 * s), kp[0] + (2 * s, -1.5 * s)
    kp[16], kp[17] = kp[0] + (-3.5 * s, -0.5 * s), kp[0] + (3.5 * s, -0.5 * s)
    # The person faces the camera: their right side is on the image left.
    for sh, el, wr, side in ((2, 3, 4, -1), (5, 6, 7, 1)):
        kp[sh] = neck + (side * 8 * s, 1 * s)
        a1 = np.deg2rad(90 + side * rng.uniform(-20, 150))  # upper arm angle from +x axis
        a2 = a1 + np.deg2rad(side * rng.uniform(-90, 20))
        kp[el] = kp[sh] + 10 * s * np.array([np.cos(a1), np.sin(a1)])
        kp[wr] = kp[el] + 9 * s * np.array([np.cos(a2), np.sin(a2)])
    for hip, kn, an, side in ((8, 9, 10, -1), (11, 12, 13, 1)):
        kp[hip] = neck + (side * 5 * s, 20 * s)
        a1 = np.deg2rad(90 + side * rng.uniform(-15, 35))
        a2 = a1 + np.deg2rad(side * rng.uniform(-30, 10))
        kp[kn] = kp[hip] + 12 * s * np.array([np.cos(a1), np.sin(a1)])
        kp[an] = kp[kn] + 11 * s * np.array([np.cos(a2), np.sin(a2)])
    return kp


def render_figure(kp: np.ndarray, colours: dict[str, np.ndarray], size: int) -> np.ndarray:
    """Draw a figure: trousers, shirt (torso and upper arms), skin (forearms, head)."""
    im = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(im)
    w = max(2, round(size / 13))

    def limb(a: int, b: int, colour: np.ndarray, width: int = w) -> None:
        draw.line([tuple(kp[a]), tuple(kp[b])], fill=tuple(int(c) for c in colour), width=width)
        for j in (a, b):
            r = width / 2
            draw.ellipse([kp[j][0] - r, kp[j][1] - r, kp[j][0] + r, kp[j][1] + r], fill=tuple(int(c) for c in colour))

    for a, b in ((8, 9), (9, 10), (11, 12), (12, 13)):
        limb(a, b, colours["trousers"])
    torso = [tuple(kp[i]) for i in (2, 5, 11, 8)]
    draw.polygon(torso, fill=tuple(int(c) for c in colours["shirt"]))
    for a, b in ((2, 3), (5, 6)):
        limb(a, b, colours["shirt"])
    for a, b in ((3, 4), (6, 7)):
        limb(a, b, colours["skin"], max(2, w - 1))
    r = 5.5 * size / 64
    draw.ellipse([kp[0][0] - r, kp[0][1] - r, kp[0][0] + r, kp[0][1] + r], fill=tuple(int(c) for c in colours["skin"]))
    return np.asarray(im)


def sample_colours(rng: np.random.Generator) -> dict[str, np.ndarray]:
    shirt, trousers = rng.choice(len(PALETTE), size=2, replace=False)
    return {"shirt": PALETTE[shirt], "trousers": PALETTE[trousers], "skin": SKINS[rng.integers(len(SKINS))]}


def write_figures(out: str | Path, people: int = 12, poses_per_person: int = 3, size: int = 64,
                  seed: int = 0, test_fraction: float = 0.25) -> Path:
    """A training folder of ``people`` figures in ``poses_per_person`` poses each."""
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    annotations, splits, pairs = {}, [], []
    n_test = int(round(people * test_fraction))
    for p in range(people):
        colours = sample_colours(rng)
        person = f"figure{p:04d}"
        names = []
        for k in range(poses_per_person):
            kp = sample_stick_pose(rng, size)
            name = f"{person}_{k}.jpg"
            Image.fromarray(render_figure(kp, colours, size)).save(out / "images" / f"{person}_{k}.png")
            annotations[name] = kp
            splits.append((name, person, "test" if p >= people - n_test else "train"))
            names.append(name)
        pairs += [(names[k], names[k + 1]) for k in range(len(names) - 1)]
    write_annotations_csv(out / "annotations.csv", annotations)
    with (out / "split.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([("name", "person", "split"), *splits])
    with (out / "pairs.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([("from", "to"), *pairs])
    return out
