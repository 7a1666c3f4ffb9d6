"""Evaluate generated images of pose-transfer pairs with the metrics of :mod:`poseshift.metrics`.

Layout (the README's "Data" section):

* ``pairs_csv``: ``from,to`` image names (``x.jpg``); ``to`` is the ground truth;
* ``data_dir``: ``images/`` (a name resolves by stem to ``images/<stem>.png`` or ``.jpg``) and
  ``annotations.csv`` (target keypoints for ``mask_ssim`` and ``pckh`` and the sheet);
* ``generated_dir``: ``<from stem>___<to stem>.png`` per pair. Pairs without a generated image
  are skipped and counted as ``missing``; ``n`` is the number of evaluated pairs.

The JSON report holds, per metric, its numbers (``value`` first), its ``n`` and its exact
``settings``, or ``skipped`` with a one-line reason.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from poseshift.images import read_image, resolve_by_stem
from poseshift.layouts import open_layout, read_pairs, read_split
from poseshift.metrics import (
    DEFAULT_METRICS,
    MetricOptions,
    MetricSkipped,
    PairSample,
    create_metric,
    is_valid_metric,
    list_metrics,
)

__all__ = ["EvaluationOptions", "evaluate_pairs", "read_pairs", "generated_name", "make_sheet"]

SHEET_ROWS = 8


def sample_pairs(data: str | Path, n: int, split: str | None = "test", seed: int = 0) -> list[tuple[str, str]]:
    """At most ``n`` pairs of DATA/pairs.csv whose two images are both in ``split`` (by
    DATA/split.csv, where the dataset has one; ``None``: every pair), drawn with ``seed`` and kept
    in the file's order: the benchmarks' fixed test set (the ablation and patch_bias score the
    same pairs)."""
    data = Path(data)
    pairs = read_pairs(data / "pairs.csv")
    if split is not None and (data / "split.csv").is_file():
        splits = read_split(data / "split.csv")
        pairs = [(a, b) for a, b in pairs if splits.get(a) == split and splits.get(b) == split]
    return [pairs[i] for i in sorted(np.random.default_rng(seed).permutation(len(pairs))[:n])]


def _stem(name: str) -> str:
    return Path(name).stem


def generated_name(src: str, tgt: str) -> str:
    return f"{_stem(src)}___{_stem(tgt)}"


def _resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _keypoints_for(ann: Mapping[str, np.ndarray], name: str) -> np.ndarray | None:
    if name in ann:
        return ann[name]
    stem = _stem(name)
    for cand in (stem + ".jpg", stem + ".png", stem):
        if cand in ann:
            return ann[cand]
    return None


@dataclass
class EvaluationOptions:
    """How :func:`evaluate_pairs` scores a folder: everything besides the pairs and the folders.

    ``metrics``: names from :func:`poseshift.metrics.list_metrics` (default: all of
    ``DEFAULT_METRICS``; those that cannot run here are reported as skipped). ``detector``: a
    callable ``image uint8 [H, W, 3] -> [18, 2]`` for ``pckh``. ``peers``: folders of other
    systems' outputs (``{label: dir}`` or a list of dirs) shown as extra sheet columns.
    ``inception_weights``: torchvision's Inception-v3 file for ``fid`` (the papers' protocol),
    whose real set is ``real_split`` of the data folder, its statistics cached in ``stats_cache``.
    ``limit``: evaluate only the first ``limit`` pairs. ``pairs_source``: where a list of pairs
    came from, recorded in the report (the list itself is recorded too).
    """

    metrics: Sequence[str] | None = None
    sheet_png: str | Path | None = None
    peers: Mapping[str, str | Path] | Sequence[str | Path] | None = None
    progress: bool = True
    detector: Callable[[np.ndarray], np.ndarray] | None = None
    device: str = "auto"
    lpips_weights: str | Path | Sequence[str | Path] | None = None
    is_weights: str | Path | None = None
    fid_torchscript: str | Path | None = None
    inception_weights: str | Path | None = None
    stats_cache: str | Path | None = None
    real_split: str = "train"
    batch_size: int = 16
    limit: int | None = None
    pairs_source: str | None = None

    def metric_options(self, real: Sequence[Path], data_dir: Path) -> MetricOptions:
        """What the metrics are built from (:class:`poseshift.metrics.MetricOptions`)."""
        return MetricOptions(device=_resolve_device(self.device), detector=self.detector,
                             fid_torchscript=self.fid_torchscript, lpips_weights=self.lpips_weights,
                             is_weights=self.is_weights, batch_size=self.batch_size,
                             inception_weights=self.inception_weights, real_images=real,
                             stats_cache=self.stats_cache, progress=self.progress,
                             real_source=f"{len(real)} images of split {self.real_split!r} of {data_dir}")


def evaluate_pairs(
    pairs_csv: str | Path | Sequence[tuple[str, str]],
    data_dir: str | Path,
    generated_dir: str | Path,
    out_json: str | Path | None = None,
    options: EvaluationOptions | None = None,
) -> dict[str, Any]:
    """Evaluate ``generated_dir`` on the pairs of ``pairs_csv`` (a ``from,to`` file or a list of
    pairs) as ``options`` say (:class:`EvaluationOptions`; default: every metric); write the
    report to ``out_json`` (``None``: no file) and return it."""
    o = options if options is not None else EvaluationOptions()
    metrics, limit, batch_size = o.metrics, o.limit, o.batch_size
    t0 = time.time()
    data_dir = Path(data_dir)
    generated_dir = Path(generated_dir)
    if not generated_dir.is_dir():
        raise FileNotFoundError(f"generated images folder not found: {generated_dir}")
    names = list(DEFAULT_METRICS if metrics is None else metrics)
    for m in names:
        if not is_valid_metric(m):
            raise ValueError(f"unknown metric {m!r}; known: {', '.join(list_metrics())}")
    from_csv = isinstance(pairs_csv, (str, Path))
    pairs = read_pairs(pairs_csv) if from_csv else list(pairs_csv)
    if limit is not None:
        pairs = pairs[:limit]
    layout = open_layout(data_dir)  # ours or a published layout (poseshift.layouts)
    ann = layout.keypoints()

    real = layout.real_images(o.real_split) if o.inception_weights and "fid" in names else []
    opts = o.metric_options(real, data_dir)
    active: dict[str, Any] = {}
    entries: dict[str, dict[str, Any]] = {}
    for m in names:
        try:
            active[m] = create_metric(m, opts)
        except MetricSkipped as e:
            entries[m] = {"skipped": str(e)}

    missing: list[str] = []
    missing_gt: list[str] = []
    resized = 0
    sheet_rows: list[PairSample] = []
    batch: list[PairSample] = []
    n = 0

    def flush():
        for metric in active.values():
            metric.update(batch)
        batch.clear()

    try:
        from tqdm import tqdm
        bar = tqdm(total=len(pairs), desc="evaluate", unit="pair", disable=not o.progress)
    except ImportError:  # pragma: no cover
        bar = None
    for src, tgt in pairs:
        gen_path = resolve_by_stem(generated_dir, generated_name(src, tgt))
        gt_path = layout.image_path(tgt)
        if bar is not None:
            bar.update(1)
        if gen_path is None:
            missing.append(generated_name(src, tgt))
            continue
        if gt_path is None:
            missing_gt.append(tgt)
            continue
        gt = read_image(gt_path)
        gen = read_image(gen_path)
        if gen.shape != gt.shape:
            gen = np.asarray(Image.fromarray(gen).resize((gt.shape[1], gt.shape[0]), Image.BICUBIC))
            resized += 1
        src_path = layout.image_path(src)
        sample = PairSample(index=n, source_name=src, target_name=tgt,
                            source=read_image(src_path) if src_path is not None else None,
                            target=gt, generated=gen,
                            source_kp=_keypoints_for(ann, src), target_kp=_keypoints_for(ann, tgt))
        n += 1
        batch.append(sample)
        if len(sheet_rows) < SHEET_ROWS:
            sheet_rows.append(sample)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    if bar is not None:
        bar.close()

    for name, metric in active.items():
        values = metric.result()
        entries[name] = {**values, "n": metric.n, "settings": metric.settings}
    report: dict[str, Any] = {
        "pairs_csv": str(pairs_csv) if from_csv else o.pairs_source,
        "data_dir": str(data_dir),
        "generated_dir": str(generated_dir),
        "pairs": len(pairs),
        "n": n,
        "missing": len(missing),
        "missing_examples": missing[:10],
        "missing_ground_truth": len(missing_gt),
        "resized_to_ground_truth": resized,
        "device": opts.device,
        "metrics": {m: entries[m] for m in names},
    }
    if not from_csv:
        report["pair_list"] = [list(p) for p in pairs]
    if o.sheet_png is not None and sheet_rows:
        lost = set(entries.get("face_found", {}).get("lost_pairs", []))
        make_sheet(o.sheet_png, sheet_rows, o.peers, lost_faces=lost)
        report["sheet"] = str(o.sheet_png)
    report["seconds"] = round(time.time() - t0, 2)
    if out_json is not None:
        out = Path(out_json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2, default=_json_default) + "\n", encoding="utf-8")
    return report


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (np.ndarray, tuple)):
        return o.tolist() if isinstance(o, np.ndarray) else list(o)
    return str(o)


# ----------------------------------------------------------------------------- sheet

def _skeleton(kp: np.ndarray | None, h: int, w: int) -> np.ndarray:
    if kp is None:
        return np.zeros((h, w, 3), dtype=np.uint8)
    from poseshift.pose.draw import draw_skeleton
    return draw_skeleton(kp, h, w)


def _tile(img: np.ndarray | None, h: int, w: int) -> Image.Image:
    if img is None:
        return Image.new("RGB", (w, h), (128, 128, 128))
    im = Image.fromarray(np.asarray(img, dtype=np.uint8))
    return im if im.size == (w, h) else im.resize((w, h), Image.BICUBIC)


def make_sheet(path: str | Path, rows: Sequence[PairSample],
               peers: Mapping[str, str | Path] | Sequence[str | Path] | None = None,
               lost_faces: set[int] | frozenset[int] = frozenset()) -> Path:
    """Side-by-side PNG, one row per pair: source | target pose | generated | ground truth | peers.
    A row whose ``index`` is in ``lost_faces`` (the truth shows a face, the render none: the
    ``face_found`` metric) has its render framed in red, with "no face" written on it."""
    if peers is None:
        peer_items: list[tuple[str, Path]] = []
    elif isinstance(peers, Mapping):
        peer_items = [(str(k), Path(v)) for k, v in peers.items()]
    else:
        peer_items = [(Path(p).name, Path(p)) for p in peers]
    h, w = rows[0].target.shape[:2]
    labels = ["source", "target pose", "generated", "ground truth"] + [k for k, _ in peer_items]
    head = 14
    sheet = Image.new("RGB", (w * len(labels), head + h * len(rows)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for c, label in enumerate(labels):
        draw.text((c * w + 3, 1), label[: max(4, w // 6)], fill=(0, 0, 0))
    for r, s in enumerate(rows):
        tiles = [s.source, _skeleton(s.target_kp, h, w), s.generated, s.target]
        for _, folder in peer_items:
            p = resolve_by_stem(folder, generated_name(s.source_name, s.target_name))
            tiles.append(read_image(p) if p is not None else None)
        for c, t in enumerate(tiles):
            sheet.paste(_tile(t, h, w), (c * w, head + r * h))
        if s.index in lost_faces:
            x0, y0 = 2 * w, head + r * h
            draw.rectangle([x0, y0, x0 + w - 1, y0 + h - 1], outline=(230, 0, 0), width=3)
            draw.text((x0 + 5, y0 + 4), "no face", fill=(230, 0, 0))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out
