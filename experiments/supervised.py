"""The ablation's supervised baseline (not the paper's method): the same G trained on ground-truth
pairs (the data's pairs file) with L1 + lambda_Id x the content loss of eq. (4); no D, no Phi
(they are kept, untrained, in checkpoints). The package's Trainer with its items, batches and
step replaced: :class:`SupervisedTrainer` (``benchmarks/ablation.py``'s ``supervised`` rows).
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from poseshift.config import LossConfig
from poseshift.data import DataError, PoseImageFolder
from poseshift.images import to_unit
from poseshift.layouts import LayoutError, read_pairs
from poseshift.losses import content_loss, l1_identity_loss
from poseshift.nets import Networks
from poseshift.objective import Batch
from poseshift.training import Trainer
from poseshift.training.batches import TrainingItems, to_batch
from poseshift.training.step import Learner, lr_factor, update_average

__all__ = ["SupervisedTrainer", "PairBatch", "PairItems", "pair_indices", "supervised_terms", "supervised_step"]


def pair_indices(data: PoseImageFolder) -> np.ndarray:
    """Rows of ``DIR/pairs.csv`` whose two images are both in ``data`` -> [P, 2] indices."""
    try:
        path = data.layout.pairs_file("train")
    except LayoutError:
        raise DataError(f"{data.root}: no pairs file (the supervised baseline trains on ground-truth pairs)") from None
    index = {name: i for i, name in enumerate(data.names)}
    pairs = [(index[a], index[b]) for a, b in read_pairs(path) if a in index and b in index]
    if not pairs:
        raise DataError(f"{path}: no pair has both images in the training split")
    return np.asarray(pairs, dtype=np.int64)


class PairItems(Dataset):
    """Key -> the source, its pose, the ground truth and its pose, mirrored alike when flipped
    (the target-pose columns of the key are unused: the pair gives p_f)."""

    def __init__(self, images: TrainingItems, pairs: np.ndarray):
        self.images, self.pairs = images, pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, key: tuple[int, ...]) -> dict[str, torch.Tensor]:
        p, flip = key[0], key[1]
        a, b = (int(v) for v in self.pairs[p])
        src, tgt = self.images[(a, flip, a, 0)], self.images[(b, flip, b, 0)]
        return {"image": src["image"], "kp_o": src["kp_o"], "kp_f": tgt["kp_o"], "target": tgt["image"]}


@dataclass
class PairBatch(Batch):
    target: torch.Tensor | None = None  # the ground truth I_pf [B,3,H,W] in [-1,1]


def to_pair_batch(item: dict[str, torch.Tensor], device: torch.device, sigma: float,
                  channels_last: bool) -> PairBatch:
    batch = to_batch(item, device, sigma, channels_last)
    target = to_unit(item["target"].to(device, non_blocking=device.type == "cuda"))
    return PairBatch(**{f.name: getattr(batch, f.name) for f in fields(Batch)}, target=target)


def supervised_terms(nets: Networks, batch: PairBatch, cfg: LossConfig) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """G(I_po | p_f) against the ground-truth I_pf: L1 plus lambda_Id x the content loss of eq. (4)."""
    assert batch.target is not None, "the supervised objective needs ground-truth targets"
    fake = nets.G(batch.real, batch.maps_f, batch.kp_o, batch.kp_f)
    t = {"l1": l1_identity_loss(batch.target, fake),
         "content": content_loss(nets.Psi(batch.target), nets.Psi(fake))}
    t["total"] = t["l1"] + cfg.lambda_id * t["content"]
    return t, fake


def supervised_step(L: Learner, batch: PairBatch) -> dict[str, torch.Tensor]:
    """The package's step (poseshift.training.step.train_step) with G's update alone, on pairs."""
    t = L.cfg.train
    factor = lr_factor(L.state.step, L.epoch_steps, t.epochs, t.decay_after)
    for name, base in (("G", t.lr_g), ("D", t.lr_d), ("Phi", t.lr_d)):
        for group in L.opt[name].param_groups:
            group["lr"] = base * factor
    with L.autocast():
        terms, _ = supervised_terms(replace(L.nets, G=L.wrapped.G), batch, L.cfg.loss)
    L.opt["G"].zero_grad(set_to_none=True)
    terms["total"].backward()
    L.opt["G"].step()
    if L.G_ema is not None:
        L.state.ema_updates += 1
        update_average(L.G_ema, L.nets.G, t.g_ema_decay, L.state.ema_updates)
    L.state.step += 1
    zero = torch.zeros((), device=terms["total"].device)
    out = {k: zero for k in ("loss_D", "loss_adv", "loss_pose", "loss_style", "loss_Phi")}
    return {**out, "loss_G": terms["total"].detach().float(), "loss_content": terms["content"].detach().float(),
            "loss_identity": terms["l1"].detach().float()}


class SupervisedTrainer(Trainer):
    """A run of the supervised baseline in ``run_dir`` (the Trainer's arguments)."""

    def __init__(self, cfg, data_dir: str | Path, run_dir: str | Path, **kwargs):
        super().__init__(cfg, data_dir, run_dir, **kwargs)
        self.batches.convert = to_pair_batch

    def _items(self) -> Dataset:
        self.pairs = pair_indices(self.data)
        return PairItems(TrainingItems(self.data), self.pairs)

    def train_step(self, batch: PairBatch) -> dict[str, torch.Tensor]:
        return supervised_step(self.learner, batch)
