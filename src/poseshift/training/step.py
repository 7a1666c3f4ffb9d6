"""One training step (section 4.3 and 5): G's, Phi's and D_I's updates written out in plain sight.

Per step, on a batch of real images I_po with poses p_o and random target poses p_f:
  1. G  : minimise eq. (8)'s generator terms (D_I and Phi frozen; Psi always frozen).
  2. Phi: minimise lambda_P L_Phi on the real images (Phi is trained on real images only).
  3. D_I: LSGAN on real images against renders drawn from the 50-image buffer.

The losses come back as tensors on the device: nothing here waits for the device.
With several processes the updated network runs under DistributedDataParallel
(``ddp``), which averages its gradients over the ranks; the frozen critics run as themselves.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import replace

import torch

from poseshift.config import Config
from poseshift.devices import resolve_bf16
from poseshift.nets import Networks
from poseshift.objective import Batch, discriminator_loss, generator_terms, pose_regressor_loss
from poseshift.pool import ImagePool

__all__ = ["lr_factor", "Stepper", "set_requires_grad", "make_optimizers"]


def lr_factor(step: int, steps_per_epoch: float, epochs: int, decay_after: int) -> float:
    """Section 5: constant for ``decay_after`` epochs, then linear decay to zero at ``epochs``.
    A pure function of the step (the epoch is fractional, and so may be ``steps_per_epoch``)."""
    epoch = step / max(1e-9, steps_per_epoch)
    if epoch < decay_after:
        return 1.0
    return max(0.0, 1.0 - (epoch - decay_after) / max(1e-9, epochs - decay_after))


def set_requires_grad(module: torch.nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


def make_optimizers(nets: Networks, cfg: Config, device: torch.device) -> dict[str, torch.optim.Optimizer]:
    """Adam for G, D and Phi (section 5's rates; CycleGAN's betas), fused where the device has it."""
    t = cfg.train
    fused = {"fused": True} if device.type == "cuda" else {}
    betas = (t.beta1, t.beta2)
    return {"G": torch.optim.Adam(nets.G.parameters(), lr=t.lr_g, betas=betas, **fused),
            "D": torch.optim.Adam(nets.D.parameters(), lr=t.lr_d, betas=betas, **fused),
            "Phi": torch.optim.Adam(nets.Phi.parameters(), lr=t.lr_phi, betas=betas, **fused)}


class Stepper:
    """The updates of one step. ``nets`` are the networks themselves (checkpointed, averaged);
    ``ddp`` the same G, D and Phi as the step runs them (under DDP and/or torch.compile)."""

    def __init__(self, cfg: Config, nets: Networks, ddp: dict[str, torch.nn.Module],
                 opt: dict[str, torch.optim.Optimizer], pool: ImagePool, device: torch.device):
        self.cfg, self.nets, self.ddp, self.opt, self.pool, self.device = cfg, nets, ddp, opt, pool, device
        self.base_lr = {"G": cfg.train.lr_g, "D": cfg.train.lr_d, "Phi": cfg.train.lr_phi}
        # fp32, with a warning, where bf16 has no fast units (an AVX2 CPU: hundreds of times slower)
        self.bf16 = resolve_bf16(cfg.train.bf16, device, "train.bf16=true")

    def autocast(self):
        if not self.bf16:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def set_lr(self, factor: float) -> None:
        for name, opt in self.opt.items():
            for group in opt.param_groups:
                group["lr"] = self.base_lr[name] * factor

    def _update(self, name: str, loss: torch.Tensor) -> None:
        self.opt[name].zero_grad(set_to_none=True)
        loss.backward()
        self.opt[name].step()

    def phi_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Phi alone on real images (train.phi_warmup_steps): lambda_P L_Phi(I, p_o)."""
        lc = self.cfg.loss
        with self.autocast():
            loss_phi = pose_regressor_loss(replace(self.nets, Phi=self.ddp["Phi"]), batch, lc)
        self._update("Phi", lc.lambda_pose * loss_phi)
        return {"loss_Phi": loss_phi.detach()}

    def train_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        nets, lc = self.nets, self.cfg.loss
        # 1. G: D_I and Phi act as fixed critics for this update.
        set_requires_grad(nets.D, False)
        set_requires_grad(nets.Phi, False)
        with self.autocast():
            terms, fake, recovered = generator_terms(replace(nets, G=self.ddp["G"]), batch, lc)
        self._update("G", terms["total"])
        # 2. Phi on real images: lambda_P L_Phi(I, p_o).
        set_requires_grad(nets.Phi, True)
        with self.autocast():
            loss_phi = pose_regressor_loss(replace(nets, Phi=self.ddp["Phi"]), batch, lc)
        self._update("Phi", lc.lambda_pose * loss_phi)
        # 3. D_I: real against buffered renders (both I_pf and I^_po are renders).
        set_requires_grad(nets.D, True)
        fakes = self.pool.query(torch.cat([fake, recovered]).detach())
        with self.autocast():
            loss_d = discriminator_loss(replace(nets, D=self.ddp["D"]), batch.real, fakes)
        self._update("D", loss_d)
        zero = torch.zeros((), device=loss_d.device)
        out = {"loss_G": terms["total"], "loss_D": loss_d, "loss_adv": terms["adv_f"] + terms["adv_o"],
               "loss_pose": terms["pose_f"] + terms["pose_o"], "loss_content": terms.get("content", zero),
               "loss_style": terms.get("style", zero), "loss_colour": terms.get("colour", zero),
               "loss_identity": terms["identity"], "loss_Phi": loss_phi}
        return {k: v.detach().float() for k, v in out.items()}
