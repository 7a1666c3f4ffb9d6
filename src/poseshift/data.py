"""Training data: a folder of person images with COCO-18 keypoints, as the literature ships it.

    DIR/images/<stem>.png|.jpg    one image per row of the CSV (resolved by stem)
    DIR/annotations.csv           name:keypoints_y:keypoints_x (y first, -1 missing)
    DIR/split.csv (optional)      name,person,split; training keeps split == train

Each item is the image I_po fitted into the square training frame as [3,S,S] in [-1,1]
and its pose p_o as [18,2] (x, y) with NaN for missing joints. Flips are the trainer's
(``flip_batch``), drawn from its own seeded generator so that workers do not repeat them. Target poses p_f are
drawn by the trainer from ``dataset.poses`` (section 5: "randomly sampled from those in
the training set").
"""
from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from poseshift.frames import fit_to_frame
from poseshift.images import ImageError, read_image, resolve_by_stem, to_tensor
from poseshift.pose.heatmaps import flip_keypoints
from poseshift.pose.keypoints_io import read_annotations_csv

log = logging.getLogger(__name__)


class DataError(ValueError):
    """A training folder that cannot be used; the message names the file."""


def read_split(path: Path) -> dict[str, str]:
    """split.csv -> {name: split}."""
    try:
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror})") from None
    if rows and not {"name", "split"} <= set(rows[0]):
        raise DataError(f"{path}: expected columns name,person,split, got {','.join(rows[0])}")
    return {row["name"]: row["split"] for row in rows}


class PoseImageFolder(Dataset):
    """Images and their poses in a ``size`` x ``size`` frame."""

    def __init__(self, root: str | Path, size: int, split: str | None = "train", fit: str = "pad",
                 pad_value: int = 255):
        self.root = Path(root)
        ann = self.root / "annotations.csv"
        if not self.root.is_dir():
            raise DataError(f"{self.root}: data folder not found")
        if not ann.is_file():
            raise DataError(f"{self.root}: no annotations.csv (expected images/ and annotations.csv)")
        annotations = read_annotations_csv(ann)
        split_file = self.root / "split.csv"
        if split and split_file.is_file():
            splits = read_split(split_file)
            annotations = {k: v for k, v in annotations.items() if splits.get(k) == split}
        self.size, self.fit, self.pad_value = size, fit, pad_value
        self.paths: list[Path] = []
        self.names: list[str] = []
        poses = []
        self.skipped_no_joints = self.skipped_no_image = 0
        for name, kp in annotations.items():
            if np.isnan(kp).all():
                self.skipped_no_joints += 1
                continue
            path = resolve_by_stem(self.root / "images", name)
            if path is None:
                self.skipped_no_image += 1
                continue
            self.paths.append(path)
            self.names.append(name)
            poses.append(kp)
        if not self.paths:
            raise DataError(f"{ann}: no usable rows (split={split!r}; {self.skipped_no_image} without an "
                            f"image in {self.root / 'images'}, {self.skipped_no_joints} with no joints)")
        if self.skipped_no_image or self.skipped_no_joints:
            log.warning("%s: skipped %d rows without an image file and %d with every joint missing",
                        ann, self.skipped_no_image, self.skipped_no_joints)
        self._raw_poses = np.stack(poses).astype(np.float32)  # [N,18,2] in the source frames
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        # Poses in the training frame, for sampling targets p_f.
        self.poses = np.stack([self._load(i)[1] for i in range(len(self))])

    def __len__(self) -> int:
        return len(self.paths)

    def _load(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if i not in self._cache:
            try:
                image = read_image(self.paths[i])
            except ImageError as err:
                raise DataError(str(err)) from None
            framed, fit = fit_to_frame(image, self.size, self.size, self.fit, self.pad_value)
            self._cache[i] = (framed, fit.apply(self._raw_poses[i]))
        return self._cache[i]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        image, kp = self._load(i)
        return {"image": to_tensor(image), "keypoints": torch.from_numpy(np.ascontiguousarray(kp)),
                "index": torch.tensor(i)}


def flip_batch(images: torch.Tensor, keypoints: torch.Tensor, mask: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror the samples where ``mask`` [B] is True: images [B,3,H,W] along W, keypoints
    [B,18,2] mirrored with left and right swapped (DESIGN.md section 2)."""
    if not bool(mask.any()):
        return images, keypoints
    m = mask.to(images.device)
    images = torch.where(m[:, None, None, None], images.flip(-1), images)
    flipped = flip_keypoints(keypoints, images.shape[-1])
    keypoints = torch.where(m[:, None, None].to(keypoints.device), flipped, keypoints)
    return images, keypoints


def sample_target_poses(poses: np.ndarray, n: int, rng: np.random.Generator, size: int,
                        flip: bool) -> torch.Tensor:
    """Section 5: p_f drawn at random from the training poses (flipped at random when
    training uses flips, since the flipped images are training images too). -> [n,18,2]."""
    picks = poses[rng.integers(0, len(poses), size=n)].copy()
    if flip:
        mirror = rng.random(n) < 0.5
        if mirror.any():
            picks[mirror] = flip_keypoints(picks[mirror], size)
    return torch.from_numpy(picks)


def pair_indices(data: PoseImageFolder) -> np.ndarray:
    """Rows of ``DIR/pairs.csv`` whose two images are both in ``data`` -> [P, 2] indices."""
    path = data.root / "pairs.csv"
    if not path.is_file():
        raise DataError(f"{data.root}: no pairs.csv (the supervised baseline trains on ground-truth pairs)")
    index = {name: i for i, name in enumerate(data.names)}
    with path.open(newline="") as fh:
        rows = [(r["from"], r["to"]) for r in csv.DictReader(fh)]
    pairs = [(index[a], index[b]) for a, b in rows if a in index and b in index]
    if not pairs:
        raise DataError(f"{path}: no pair has both images in the training split")
    return np.asarray(pairs, dtype=np.int64)
