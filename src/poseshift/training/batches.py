"""The batch source: which samples each step sees, decoded in DataLoader workers.

The global batches are a pure function of ``(train.seed, batch number)`` (:class:`BatchPlan`):
epoch ``e`` shuffles the images with ``default_rng([seed, e])`` and draws, per image, its flip,
its target pose p_f (section 5: "randomly sampled from those in the training set") and that
pose's flip. A checkpoint therefore only needs the number of batches consumed to resume
exactly, with any number of workers. Under torchrun each rank takes its slice of every global
batch, so N processes see the same samples as one process with the whole batch.

Workers decode, fit to the frame and flip (:class:`TrainingItems`); the main process moves the
uint8 batch to the device (pinned, non-blocking) and draws the belief maps there.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from poseshift.data import PoseImageFolder
from poseshift.images import to_unit
from poseshift.objective import Batch
from poseshift.pose.heatmaps import flip_pose
from poseshift.training.distributed import World
from poseshift.warp import pose_mask

__all__ = ["BatchPlan", "TrainingItems", "BatchSource", "to_batch"]

# The columns of a plan's key: source index, source flip, target-pose index, target flip.
SRC, FLIP, TGT, TFLIP = range(4)


@dataclass(frozen=True)
class BatchPlan:
    """Global batch ``b`` -> keys [batch, 4] (see the module docstring). ``units``: images in an
    epoch (or whatever items an experiment trains on); ``poses``: how many target poses to draw from."""

    units: int
    batch: int
    seed: int
    flip: str  # train.flip: "none", "mirror" (left-right) or "all" (the paper's three flips)
    poses: int

    @property
    def per_epoch(self) -> int:
        return max(1, self.units // self.batch)

    def epoch_keys(self, epoch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, epoch])
        keys = np.zeros((self.units, 4), dtype=np.int64)
        keys[:, SRC] = rng.permutation(self.units)
        keys[:, TGT] = rng.integers(0, self.poses, size=self.units)
        if self.flip == "mirror":  # 1: left-right
            keys[:, FLIP] = rng.random(self.units) < 0.5
            keys[:, TFLIP] = rng.random(self.units) < 0.5
        elif self.flip == "all":  # 0-3, poseshift.pose.heatmaps.flip_pose: none, left-right, upside down, both
            keys[:, FLIP] = rng.integers(0, 4, size=self.units)
            keys[:, TFLIP] = rng.integers(0, 4, size=self.units)
        return keys

    def keys(self, b: int) -> np.ndarray:
        epoch, pos = divmod(b, self.per_epoch)
        return self.epoch_keys(epoch)[pos * self.batch:(pos + 1) * self.batch]


class RankBatches:
    """The batch sampler of one rank: its slice of each global batch from ``start`` on, forever."""

    def __init__(self, plan: BatchPlan, world: World, start: int):
        self.plan, self.world, self.start = plan, world, start

    def __iter__(self) -> Iterator[list[tuple[int, ...]]]:
        per = self.plan.batch // self.world.size
        b, epoch, keys = self.start, None, None
        while True:
            e, pos = divmod(b, self.plan.per_epoch)
            if e != epoch:
                epoch, keys = e, self.plan.epoch_keys(e)
            rows = keys[pos * self.plan.batch:(pos + 1) * self.plan.batch]
            yield [tuple(int(v) for v in row) for row in rows[self.world.rank * per:(self.world.rank + 1) * per]]
            b += 1


def _flip_image(image: np.ndarray, mode: int) -> np.ndarray:
    """[H, W, 3] flipped as ``flip_pose`` flips its keypoints: bit 1 left-right, bit 2 upside down."""
    if mode & 1:
        image = image[:, ::-1]
    if mode & 2:
        image = image[::-1]
    return np.ascontiguousarray(image)


class TrainingItems(Dataset):
    """Key -> ``image`` uint8 [3,S,S] (flipped where asked), its pose ``kp_o`` and the target pose
    ``kp_f`` [18,2]; with the data's silhouettes, ``sil`` uint8 [1,S,S] flipped as the image.
    Runs in the workers."""

    def __init__(self, data: PoseImageFolder):
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, key: tuple[int, ...]) -> dict[str, torch.Tensor]:
        i, flip, j, tflip = key
        image, kp = self.data.framed(i), self.data.poses[i]
        sil = self.data.framed_silhouette(i) if self.data.silhouettes else None
        size = self.data.size
        if flip:
            image, kp = _flip_image(image, flip), flip_pose(kp, flip, size, size)
            sil = None if sil is None else _flip_image(sil, flip)
        target = self.data.poses[j]
        if tflip:
            target = flip_pose(target, tflip, size, size)
        item = {"image": torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))),
                "kp_o": torch.from_numpy(np.array(kp, dtype=np.float32)),
                "kp_f": torch.from_numpy(np.array(target, dtype=np.float32))}
        if sil is not None:
            item["sil"] = torch.from_numpy(np.ascontiguousarray(sil))[None]
        return item


def to_batch(item: dict[str, torch.Tensor], device: torch.device, sigma: float, channels_last: bool) -> Batch:
    """A collated batch of :class:`TrainingItems` on ``device``, with its belief maps (eq. 1)."""
    nb = device.type == "cuda"
    real = to_unit(item["image"].to(device, non_blocking=nb))
    if channels_last:
        real = real.contiguous(memory_format=torch.channels_last)
    kp_o, kp_f = item["kp_o"].to(device, non_blocking=nb), item["kp_f"].to(device, non_blocking=nb)
    batch = Batch.from_keypoints(real, kp_o, kp_f, sigma)
    if "sil" in item:
        # An image where the segmenter found nobody keeps the mask drawn from its pose.
        sil = item["sil"].to(device, non_blocking=nb).float() / 255.0
        found = sil.flatten(1).amax(1) >= 0.5
        batch.sil_o = torch.where(found[:, None, None, None], sil, pose_mask(kp_o, *sil.shape[-2:]))
    return batch


class BatchSource:
    """Batches for this rank, in plan order, from a DataLoader with ``workers`` processes.
    ``consumed`` (global batches taken) is all a checkpoint needs to resume the stream. ``convert``
    turns a collated item into the step's batch (:func:`to_batch`; an experiment may give its own)."""

    def __init__(self, items: Dataset, plan: BatchPlan, world: World, device: torch.device, sigma: float,
                 channels_last: bool = False, workers: int = 0, prefetch: int = 2, consumed: int = 0,
                 convert: Callable[..., Batch] = to_batch):
        if plan.batch % world.size:
            raise ValueError(f"train.batch_size={plan.batch} is the global batch and must divide among "
                             f"{world.size} processes")
        self.items, self.plan, self.world, self.device = items, plan, world, device
        self.sigma, self.channels_last = sigma, channels_last
        self.workers, self.prefetch = workers, prefetch
        self.consumed, self.convert = consumed, convert
        self._it: Iterator | None = None

    def _loader(self) -> Iterator:
        extra = {"prefetch_factor": self.prefetch, "persistent_workers": False} if self.workers else {}
        # Its own generator: the items are a pure function of the plan, and drawing the workers'
        # base seed from torch's global generator would shift it on every resume.
        loader = DataLoader(self.items, batch_sampler=RankBatches(self.plan, self.world, self.consumed),
                            num_workers=self.workers, pin_memory=self.device.type == "cuda",
                            generator=torch.Generator().manual_seed(self.plan.seed), **extra)
        return iter(loader)

    def next(self) -> Batch:
        if self._it is None:
            self._it = self._loader()
        item = next(self._it)
        self.consumed += 1
        return self.convert(item, self.device, self.sigma, self.channels_last)

    def close(self) -> None:
        """Stop the workers (a later ``next`` starts new ones at the same place)."""
        self._it = None
