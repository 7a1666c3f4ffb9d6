"""Training data: annotated person images in any layout of :mod:`poseshift.layouts`.

Each item is the image I_po fitted into the square training frame as [3,S,S] in [-1,1]
and its pose p_o as [18,2] (x, y) with NaN for missing joints. The poses in the frame
(``dataset.poses``, from which target poses p_f are drawn; section 5: "randomly sampled from
those in the training set") are fitted from the sizes in the image headers: start-up never
decodes the set. Images are decoded on first use, in the DataLoader's workers when training;
``cache=True`` keeps them decoded in memory (``data.cache``). Flips are the trainer's.
``silhouettes=True`` (``data.silhouettes: photo``) also gives each image's person mask, fitted
into the frame as the image is (:meth:`PoseImageFolder.framed_silhouette`), from the data's
silhouette cache (:func:`poseshift.silhouette.cache_for_data`): computed once per image by
:meth:`PoseImageFolder.prepare_silhouettes` before training, read in the workers after.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from poseshift.images import ImageError, image_size, read_image, read_mask, to_tensor
from poseshift.layouts import LayoutError, open_layout, read_split
from poseshift.letterbox import fit_to_frame, plan_fit

__all__ = ["DataError", "PoseImageFolder", "read_split"]

log = logging.getLogger(__name__)

DataError = LayoutError  # a training folder that cannot be used; the message names the file


class PoseImageFolder(Dataset):
    """Images and their poses in a ``size`` x ``size`` frame."""

    def __init__(self, root: str | Path, size: int, split: str | None = "train", fit: str = "pad",
                 pad_value: int = 255, cache: bool = False, silhouettes: bool = False):
        self.root = Path(root)
        self.silhouettes = silhouettes
        self.layout = open_layout(self.root)
        rows = self.layout.rows(split)
        self.size, self.fit, self.pad_value, self.cache = size, fit, pad_value, cache
        self.paths: list[Path] = []
        self.names: list[str] = []
        poses = []
        self.skipped_no_joints = self.skipped_no_image = 0
        self.frame_sizes: dict[tuple[int, int], int] = {}  # (h, w) -> images
        for row in rows:
            if np.isnan(row.keypoints).all():
                self.skipped_no_joints += 1
                continue
            if row.path is None:
                self.skipped_no_image += 1
                continue
            try:
                hw = image_size(row.path)
            except ImageError as err:
                raise DataError(str(err)) from None
            self.frame_sizes[hw] = self.frame_sizes.get(hw, 0) + 1
            self.paths.append(row.path)
            self.names.append(row.name)
            poses.append(plan_fit(*hw, size, size, fit).apply(row.keypoints))
        where = ", ".join(str(p) for p in self.layout.annotations.values())
        if not self.paths:
            raise DataError(f"{where}: no usable rows (split={split!r}; {self.skipped_no_image} without an "
                            f"image file, {self.skipped_no_joints} with no joints)")
        if self.skipped_no_image or self.skipped_no_joints:
            log.warning("%s: skipped %d rows without an image file and %d with every joint missing",
                        where, self.skipped_no_image, self.skipped_no_joints)
        self.poses = np.stack(poses).astype(np.float32)  # [N,18,2] in the training frame
        self._cache: dict[int, np.ndarray] = {}
        self._masks = None  # the silhouette cache, opened on first use (in each worker)
        self._mask_files: list[Path] | None = None  # each image's mask file (prepare_silhouettes)

    def __len__(self) -> int:
        return len(self.paths)

    def framed(self, i: int) -> np.ndarray:
        """Image ``i`` decoded and fitted into the frame: uint8 [S,S,3]."""
        if i in self._cache:
            return self._cache[i]
        try:
            image = read_image(self.paths[i])
        except ImageError as err:
            raise DataError(str(err)) from None
        framed, _ = fit_to_frame(image, self.size, self.size, self.fit, self.pad_value)
        if self.cache:
            self._cache[i] = framed
        return framed

    def framed_silhouette(self, i: int) -> np.ndarray:
        """Image ``i``'s person mask, fitted into the frame as the image is: uint8 [S,S], 255 the
        person, 0 the letterbox."""
        from poseshift.silhouette import cache_for_data

        stored = self._mask_files[i] if self._mask_files is not None else None
        mask = None
        if stored is not None and stored.is_file():       # found by prepare_silhouettes: no decoding
            try:
                mask = read_mask(stored)
            except (OSError, ValueError):
                mask = None
        if mask is None:
            if self._masks is None:
                self._masks = cache_for_data(self.root)
            try:
                image = read_image(self.paths[i])
            except ImageError as err:
                raise DataError(str(err)) from None
            mask = np.round(self._masks(image) * 255).astype(np.uint8)
        framed, _ = fit_to_frame(np.repeat(mask[..., None], 3, -1), self.size, self.size, self.fit, 0)
        return framed[..., 0]

    def prepare_silhouettes(self, progress: bool = True) -> int:
        """Compute the masks the cache lacks, here (once, before the workers read them), and note
        each image's mask file; -> how many were computed. The segmenter is closed after: the
        workers only read files."""
        from tqdm import tqdm

        from poseshift.silhouette import cache_for_data

        cache = cache_for_data(self.root)
        files = []
        try:
            for path in tqdm(self.paths, desc="silhouettes", unit="image", disable=not progress):
                try:
                    image = read_image(path)
                except ImageError as err:
                    raise DataError(str(err)) from None
                cache(image)
                files.append(cache.path_for(image))
        finally:
            cache.close()
        self._mask_files = files
        return cache.computed

    def __getstate__(self) -> dict:
        """What a DataLoader worker gets: no open segmenter (it cannot be pickled; each worker opens
        its own cache where it needs one)."""
        state = self.__dict__.copy()
        state["_masks"] = None
        return state

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"image": to_tensor(self.framed(i)), "keypoints": torch.from_numpy(self.poses[i].copy()),
                "index": torch.tensor(i)}
