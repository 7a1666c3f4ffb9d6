"""The folder layouts that ``--data`` reads, detected from the files present.

``poseshift`` (ours, what ``prepare``, ``synth`` and ``../shared/data`` write)::

    DIR/images/<stem>.png|.jpg   DIR/annotations.csv   DIR/split.csv (optional)   DIR/pairs.csv

``deepfashion`` (as PATN, GFLA and DPTN ship DeepFashion, 256x176; the split is the folder)::

    DIR/train/  DIR/test/
    DIR/fasion-resize-annotation-{train,test}.csv   DIR/fasion-resize-pairs-{train,test}.csv

``market`` (Market-1501 the same way, 128x64)::

    DIR/train/  DIR/test/   DIR/market-annotation-{train,test}.csv   DIR/market-pairs-{train,test}.csv

The annotation CSVs are the literature's ``name:keypoints_y:keypoints_x`` (y first, -1 missing)
and the pairs CSVs ``from,to`` in all three. "fasion" is the literature's spelling.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from poseshift.images import resolve_by_stem
from poseshift.pose.keypoints_io import read_annotations_csv

__all__ = ["Layout", "LayoutError", "PUBLISHED", "describe", "open_layout", "read_pairs", "read_split", "Row"]

SPLITS = ("train", "test")
# Published layouts: name -> the prefix of their annotation and pairs files.
PUBLISHED = {"deepfashion": "fasion-resize", "market": "market"}


class LayoutError(ValueError):
    """A data folder that cannot be read; the message names the folder or file."""


def read_split(path: Path) -> dict[str, str]:
    """split.csv -> {name: split}."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as err:
        raise LayoutError(f"{path}: cannot read ({err.strerror})") from None
    except (csv.Error, UnicodeDecodeError) as err:
        raise LayoutError(f"{path}: not a readable CSV ({str(err).splitlines()[0][:80]})") from None
    if rows and not {"name", "split"} <= set(rows[0]):
        got = ",".join(str(k) for k in rows[0] if isinstance(k, str))[:80]
        raise LayoutError(f"{path}: expected columns name,person,split, got {got!r}")
    return {row["name"]: row["split"] for row in rows if isinstance(row.get("name"), str)
            and isinstance(row.get("split"), str)}


def read_pairs(path: str | Path) -> list[tuple[str, str]]:
    """``from,to`` rows of a pairs CSV."""
    try:
        return _read_pairs(path)
    except (csv.Error, UnicodeDecodeError) as err:
        raise LayoutError(f"{path}: not a readable CSV ({str(err).splitlines()[0][:80]})") from None


def _read_pairs(path: str | Path) -> list[tuple[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = [c.strip() for c in reader.fieldnames or []]
        if "from" not in fields or "to" not in fields:
            raise ValueError(f"{path}: expected a header 'from,to', got {','.join(fields)!r}")
        rows = []
        for row in reader:
            row = {k.strip(): (v if isinstance(v, str) else "").strip() for k, v in row.items() if k}
            if row.get("from") and row.get("to"):
                rows.append((row["from"], row["to"]))
    return rows


@dataclass(frozen=True)
class Row:
    """One annotated image: its name in the CSV, its file (None when absent), its pose
    [18,2] (x, y, NaN missing) in the image's own pixels and its split (None: no split)."""

    name: str
    path: Path | None
    keypoints: np.ndarray
    split: str | None


@dataclass
class Layout:
    """A data folder: which layout, and where its annotations, images and pairs are."""

    kind: str
    root: Path
    annotations: dict[str | None, Path]  # split -> annotation CSV (None: one file for all)
    image_dirs: dict[str | None, Path]  # split -> image folder
    pairs: dict[str | None, Path] = field(default_factory=dict)  # split -> pairs CSV
    split_file: Path | None = None  # ours: split.csv

    def rows(self, split: str | None = None) -> list[Row]:
        """The annotated images of ``split`` (None: all), in file order."""
        out: list[Row] = []
        if self.kind == "poseshift":
            ann = read_annotations_csv(self.annotations[None])
            splits = read_split(self.split_file) if self.split_file is not None else {}
            for name, kp in ann.items():
                s = splits.get(name)
                if split is not None and splits and s != split:
                    continue
                out.append(Row(name, resolve_by_stem(self.image_dirs[None], name), kp, s))
            return out
        for s in SPLITS if split is None else (split,):
            if s not in self.annotations:
                raise LayoutError(f"{self.root}: no annotations for split {s!r} "
                                  f"(expected {PUBLISHED[self.kind]}-annotation-{s}.csv)")
            for name, kp in read_annotations_csv(self.annotations[s]).items():
                out.append(Row(name, resolve_by_stem(self.image_dirs[s], name), kp, s))
        return out

    def keypoints(self) -> dict[str, np.ndarray]:
        """Every annotated image's pose, by name, across splits."""
        return {r.name: r.keypoints for r in self.rows(None)}

    def image_path(self, name: str) -> Path | None:
        """The file of the image called ``name`` in any split (resolved by stem)."""
        for folder in self.image_dirs.values():
            path = resolve_by_stem(folder, name)
            if path is not None:
                return path
        return None

    def real_images(self, split: str = "train") -> list[Path]:
        """The image files of ``split``, the real set of the papers' FID: a published layout's
        whole ``train/`` folder (as the peers glob it); ours: the images of that split in
        split.csv, or every image where there is no split.csv."""
        from poseshift.images import IMAGE_SUFFIXES

        if self.kind == "poseshift" and self.split_file is not None:
            return sorted({r.path for r in self.rows(split) if r.path is not None})
        folder = self.image_dirs.get(None if self.kind == "poseshift" else split)
        if folder is None or not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())

    def pairs_file(self, split: str | None = None) -> Path:
        """The pairs CSV of ``split`` (ours: pairs.csv, whatever the split)."""
        key = None if self.kind == "poseshift" else split or "test"
        if key not in self.pairs:
            raise LayoutError(f"{self.root}: no pairs file for split {split!r}")
        return self.pairs[key]


def open_layout(root: str | Path) -> Layout:
    """Detect the layout of ``root`` from the files it holds."""
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"{root}: data folder not found")
    if (root / "annotations.csv").is_file():
        split = root / "split.csv"
        pairs = {None: root / "pairs.csv"} if (root / "pairs.csv").is_file() else {}
        return Layout("poseshift", root, {None: root / "annotations.csv"}, {None: root / "images"}, pairs,
                      split if split.is_file() else None)
    for kind, prefix in PUBLISHED.items():
        ann = {s: root / f"{prefix}-annotation-{s}.csv" for s in SPLITS}
        ann = {s: p for s, p in ann.items() if p.is_file()}
        if not ann:
            continue
        missing = [f"{s}/" for s in ann if not (root / s).is_dir()]
        if missing:
            raise LayoutError(f"{root}: {kind} layout ({ann[next(iter(ann))].name}) without its image "
                              f"folder {', '.join(missing)}")
        pairs = {s: root / f"{prefix}-pairs-{s}.csv" for s in SPLITS}
        return Layout(kind, root, ann, {s: root / s for s in ann},
                      {s: p for s, p in pairs.items() if p.is_file()})
    raise LayoutError(f"{root}: no annotations found (expected images/ and annotations.csv, or a published "
                      "layout: train/, test/ and fasion-resize-annotation-*.csv or market-annotation-*.csv)")


def _image_count(folder: Path) -> int:
    from poseshift.images import IMAGE_SUFFIXES

    return sum(1 for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else 0


def describe(root: str | Path) -> str:
    """What ``poseshift data DIR`` prints: the layout found and, per split, the image files, the
    annotation rows, the rows without an image, the rows with no joints, the frame sizes and the
    pairs (sizes from the image headers; nothing is decoded)."""
    from poseshift.images import ImageError, image_size

    layout = open_layout(root)
    lines = [f"{layout.root}: {layout.kind} layout"]
    splits = [None] if layout.kind == "poseshift" and layout.split_file is None else (
        sorted({r.split for r in layout.rows(None)} - {None}) if layout.kind == "poseshift" else list(layout.annotations))
    for split in splits:
        rows = layout.rows(split)
        no_image = sum(r.path is None for r in rows)
        no_joints = sum(bool(np.isnan(r.keypoints).all()) for r in rows)
        sizes: dict[str, int] = {}
        for r in rows:
            if r.path is not None:
                try:
                    h, w = image_size(r.path)
                    key = f"{w}x{h}"
                except ImageError:
                    key = "unreadable"
                sizes[key] = sizes.get(key, 0) + 1
        folder = layout.image_dirs[None if layout.kind == "poseshift" else split]
        head = "all" if split is None else split
        ann = layout.annotations[None if layout.kind == "poseshift" else split]
        lines.append(f"  {head}: {_image_count(folder)} images in {folder.name}/, {len(rows)} rows in {ann.name}, "
                     f"{no_image} rows without an image, {no_joints} rows with no joints")
        lines.append("    frames (w x h): " + (", ".join(f"{k} ({n})" for k, n in sorted(sizes.items(), key=lambda kv: -kv[1]))
                                              or "none"))
        pairs = layout.pairs.get(None if layout.kind == "poseshift" else split)
        if pairs is not None and (layout.kind != "poseshift" or split == splits[-1]):
            lines.append(f"    pairs: {len(read_pairs(pairs))} in {pairs.name}")
    return "\n".join(lines)
