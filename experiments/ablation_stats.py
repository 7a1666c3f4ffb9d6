"""The ablation table's statistics (benchmarks/ablation.py): per-pair rows combined over training
seeds, paired bootstrap intervals between rows, and the colour and silhouette columns computed
from renders of the synthetic people (figures on plain backgrounds)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from poseshift.images import read_image, resolve_by_stem


def run_name(name: str, seed: int) -> str:
    """A row's run folder (and renders folder) for one training seed: seed 0 keeps the row's name."""
    return name if seed == 0 else f"{name}_seed{seed}"


def mean_joint_error(errors: np.ndarray, counts: np.ndarray) -> float:
    """Mean error over all scored joints of all pairs (the table's pose error)."""
    return float((errors * counts).sum() / max(1.0, counts.sum()))


def paired_bootstrap(a: dict[str, np.ndarray], b: dict[str, np.ndarray], resamples: int = 2000,
                     seed: int = 0) -> dict[str, list[float]]:
    """95% intervals of (row a - row b) over the same resampled pairs: ``ssim`` (mean of per-pair
    values) and ``pose_error_px`` (joint-weighted as in the table)."""
    rng = np.random.default_rng(seed)
    n = len(a["ssim"])
    idx = rng.integers(0, n, size=(resamples, n))
    ssim = np.nanmean(a["ssim"][idx], axis=1) - np.nanmean(b["ssim"][idx], axis=1)

    def pose(row):
        return (row["err"][idx] * row["n"][idx]).sum(1) / np.maximum(row["n"][idx].sum(1), 1.0)

    diff = pose(a) - pose(b)
    return {"ssim": [float(np.percentile(ssim, 2.5)), float(np.percentile(ssim, 97.5))],
            "pose_error_px": [float(np.percentile(diff, 2.5)), float(np.percentile(diff, 97.5))]}


def combine_seeds(runs: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """One row's per-pair values over its training seeds: ssim averaged over the seeds that
    rendered the pair; the pose error joint-weighted over them, so that the combined row's
    table value is the mean over seeds of its joint-weighted error when every seed scored the
    same joints."""
    ssim = np.stack([r["ssim"] for r in runs])
    seen = ~np.isnan(ssim)
    ssim = np.where(seen.any(0), np.nansum(ssim, 0) / np.maximum(seen.sum(0), 1), np.nan)
    weighted = sum(r["err"] * r["n"] for r in runs)
    joints = sum(r["n"] for r in runs)
    return {"ssim": ssim, "err": weighted / np.maximum(joints, 1.0), "n": joints / len(runs)}


def foreground(image: np.ndarray, threshold: float = 40.0) -> np.ndarray:
    """Pixels farther than ``threshold`` (sum over RGB, 0-255) from the median border colour:
    the person on the synthetic set's plain backgrounds."""
    a = image.astype(np.float32)
    bg = np.median(np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]]), axis=0)
    return np.abs(a - bg).sum(-1) > threshold


def colour_histogram(pixels: np.ndarray, bins: int = 4) -> np.ndarray:
    """Normalised bins^3 RGB histogram of [N, 3] uint8 pixels."""
    idx = (pixels.astype(np.int64) * bins) // 256
    h = np.bincount((idx[:, 0] * bins + idx[:, 1]) * bins + idx[:, 2], minlength=bins ** 3).astype(np.float64)
    return h / max(1.0, h.sum())


def colour_identity(folder: Path, data: Path, pairs, offset: int = 37) -> float:
    """Does the render wear its own person's colours? Per pair, the overlap (sum of minima) of
    the colour histogram of the render's figure with that of the target's figure, minus its
    overlap with the target figure of another test pair (``offset`` pairs on, another person):
    about 0 when every person is rendered alike, ~0.49 for copying the source on the
    ablation's pairs. Figures are the pixels away from the background (``foreground``)."""
    def figure(path):
        image = read_image(path)
        return image[foreground(image)]

    targets = [figure(resolve_by_stem(data / "images", Path(t).stem)) for _, t in pairs]
    gaps = []
    for i, (src, tgt) in enumerate(pairs):
        path = resolve_by_stem(folder, f"{Path(src).stem}___{Path(tgt).stem}")
        j = (i + offset) % len(pairs)
        if path is None or j == i or Path(pairs[j][1]).stem.split("_")[0] == Path(tgt).stem.split("_")[0]:
            continue
        mine = figure(path)
        if len(mine) == 0 or len(targets[i]) == 0 or len(targets[j]) == 0:
            continue
        h = colour_histogram(mine)
        own, other = colour_histogram(targets[i]), colour_histogram(targets[j])
        gaps.append(np.minimum(h, own).sum() - np.minimum(h, other).sum())
    return float(np.mean(gaps)) if gaps else float("nan")


def silhouette_shift(folder: Path, data: Path, pairs) -> float:
    """Mean IoU(render, target silhouette) - IoU(render, source silhouette): negative when the
    body stays where it was (copying the source scores IoU(source, target) - 1), positive
    when it moves to the target pose."""
    def iou(a, b):
        return (a & b).sum() / max(1, (a | b).sum())

    shifts = []
    for src, tgt in pairs:
        path = resolve_by_stem(folder, f"{Path(src).stem}___{Path(tgt).stem}")
        if path is None:
            continue
        render = foreground(read_image(path))
        shifts.append(iou(render, foreground(read_image(resolve_by_stem(data / "images", Path(tgt).stem))))
                      - iou(render, foreground(read_image(resolve_by_stem(data / "images", Path(src).stem)))))
    return float(np.mean(shifts))


def mean_over_seeds(rows: list[dict], columns: list[str]) -> dict:
    """A row's table entry: each column's mean over its seeds (None where a seed has none, as
    KID without the FID Inception); the values of each seed are kept under ``per_seed``."""
    entry = {c: None if any(r.get(c) is None for r in rows) else float(np.mean([r[c] for r in rows]))
             for c in columns}
    entry.update(n=rows[0]["n"], seeds=len(rows))
    if len(rows) > 1:
        entry["per_seed"] = rows
    return entry
