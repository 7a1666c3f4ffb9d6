"""The ablation's supervised baseline (not the paper's method): the same G trained on
ground-truth pairs (the data's pairs file) with L1 + lambda_Id x the content loss of eq. (4);
no D, no Phi (they are kept, untrained, in checkpoints). ``train.mode = supervised``."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from poseshift.data import pair_indices
from poseshift.objective import Batch, supervised_terms
from poseshift.training.batches import TrainingItems
from poseshift.training.loop import Trainer
from poseshift.training.step import Stepper

__all__ = ["SupervisedTrainer"]


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


class SupervisedStepper(Stepper):
    def train_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        with self.autocast():
            terms, _ = supervised_terms(self.nets.__class__(self.ddp["G"], self.nets.D, self.nets.Phi,
                                                            self.nets.Psi), batch, self.cfg.loss)
        self._update("G", terms["total"])
        zero = torch.zeros((), device=terms["total"].device)
        out = {k: zero for k in ("loss_D", "loss_adv", "loss_pose", "loss_style", "loss_Phi")}
        return {**out, "loss_G": terms["total"].detach().float(), "loss_content": terms["content"].detach().float(),
                "loss_identity": terms["l1"].detach().float()}


class SupervisedTrainer(Trainer):
    def _items(self) -> Dataset:
        self.pairs = pair_indices(self.data)
        return PairItems(TrainingItems(self.data), self.pairs)

    def _stepper(self, ddp: dict[str, torch.nn.Module]) -> Stepper:
        return SupervisedStepper(self.cfg, self.nets, ddp, self.opt, self.pool, self.device)
