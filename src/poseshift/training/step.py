"""One training step (sections 4.3 and 5), top to bottom in :func:`train_step`.

On a batch of real images I_po with their poses p_o and random target poses p_f:
  0. the learning rates: section 5's schedule (:func:`lr_factor`), a pure function of the step;
  1. G  : I_pf = G(I_po | p_f) and I^_po = G(I_pf | p_o), then eq. (8)'s generator terms,
          with D_I and Phi frozen (Psi always is);
  2. Phi: lambda_P L_Phi on the real images (Phi is trained on real images only);
  3. D_I: LSGAN on the real images against renders drawn from the 50-image buffer;
  4. G_ema: the average of G's weights follows G (``train.g_ema_decay`` > 0; not in the paper).
During the first ``train.phi_warmup_steps`` (not in the paper) only 0 and 2 run.

The losses come back as tensors on the device: nothing here waits for the device. With several
processes the network being updated runs under DistributedDataParallel (``Learner.wrapped``),
which averages its gradients over the ranks; the frozen critics of G's update run as themselves.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch

from poseshift.config import ADAM_BETAS, Config
from poseshift.nets import Networks
from poseshift.objective import Batch, discriminator_loss, generator_terms, pose_regressor_loss, render_cycle
from poseshift.pool import ImagePool
from poseshift.training.state import RunState

__all__ = ["Learner", "lr_factor", "make_optimizers", "set_requires_grad", "train_step", "update_average"]

def lr_factor(step: int, steps_per_epoch: float, epochs: int, decay_after: int) -> float:
    """Section 5: constant for ``decay_after`` epochs, then linear decay to zero at ``epochs``.
    A pure function of the step (the epoch is fractional, and so may be ``steps_per_epoch``)."""
    epoch = step / max(1e-9, steps_per_epoch)
    if epoch < decay_after:
        return 1.0
    return max(0.0, 1.0 - (epoch - decay_after) / max(1e-9, epochs - decay_after))


def make_optimizers(nets: Networks, cfg: Config, device: torch.device) -> dict[str, torch.optim.Optimizer]:
    """Adam for G, D_I and Phi (section 5's rates: ``lr_d`` for both discriminators), fused where
    the device has it."""
    t = cfg.train
    fused = {"fused": True} if device.type == "cuda" else {}
    return {"G": torch.optim.Adam(nets.G.parameters(), lr=t.lr_g, betas=ADAM_BETAS, **fused),
            "D": torch.optim.Adam(nets.D.parameters(), lr=t.lr_d, betas=ADAM_BETAS, **fused),
            "Phi": torch.optim.Adam(nets.Phi.parameters(), lr=t.lr_d, betas=ADAM_BETAS, **fused)}


def set_requires_grad(module: torch.nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


@dataclass
class Learner:
    """Everything a step reads and changes. The Trainer builds it, checkpoints it and feeds it."""

    cfg: Config
    nets: Networks  # G, D_I, Phi and the frozen Psi: the modules that are saved and averaged
    # The same networks as the step calls them: G, D_I and Phi under DDP (several processes) and
    # torch.compile (train.compile) where those are on, else the very modules of ``nets``.
    wrapped: Networks
    opt: dict[str, torch.optim.Optimizer]  # Adam for "G", "D" and "Phi"
    pool: ImagePool  # D_I's buffer of earlier renders (section 5)
    G_ema: torch.nn.Module | None  # the average of G's weights (train.g_ema_decay > 0)
    state: RunState  # the step, the batches consumed, the G_ema updates
    bf16: bool  # autocast in bf16 (train.bf16, where the device runs it fast: devices.resolve_bf16)
    device: torch.device
    # Steps per epoch of the learning-rate schedule: the data's, or under train.schedule =
    # "budget" the run's step budget over train.epochs (set by Trainer.train).
    epoch_steps: float

    def autocast(self):
        if not self.bf16:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)


def _update(opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


@torch.no_grad()
def update_average(G_ema: torch.nn.Module, G: torch.nn.Module, decay: float, n: int) -> None:
    """G_ema <- d G_ema + (1 - d) G after the n-th G update, d = min(decay, (1 + n) / (10 + n)): the
    ramp keeps a short run's first steps out of the average (StyleGAN's G_ema; Yazici et al. 2019)."""
    d = min(decay, (1 + n) / (10 + n))
    for avg, cur in zip(G_ema.parameters(), G.parameters()):
        avg.lerp_(cur, 1.0 - d)
    for avg, cur in zip(G_ema.buffers(), G.buffers()):
        avg.copy_(cur)


def train_step(L: Learner, batch: Batch) -> dict[str, torch.Tensor]:
    """One step of eq. (8) on ``batch``; the losses, detached, on the device."""
    t, lc, nets, wrapped = L.cfg.train, L.cfg.loss, L.nets, L.wrapped
    # 0. This step's learning rates: section 5's base rates times the schedule's factor.
    factor = lr_factor(L.state.step, L.epoch_steps, t.epochs, t.decay_after)
    for name, base in (("G", t.lr_g), ("D", t.lr_d), ("Phi", t.lr_d)):
        for group in L.opt[name].param_groups:
            group["lr"] = base * factor

    if L.state.step < t.phi_warmup_steps:  # ours: Phi alone on real images until it finds joints
        with L.autocast():
            loss_phi = pose_regressor_loss(wrapped.Phi, batch)
        _update(L.opt["Phi"], lc.lambda_pose * loss_phi)
        L.state.step += 1
        return {"loss_Phi": loss_phi.detach().float()}

    # 1. G renders I_pf and I^_po and takes eq. (8)'s step; D_I and Phi act as fixed critics.
    set_requires_grad(nets.D, False)
    set_requires_grad(nets.Phi, False)
    with L.autocast():
        fake, back = render_cycle(wrapped.G, batch, lc.cycle_grad_scale)
        terms = generator_terms(nets, batch, fake, back, lc)
    _update(L.opt["G"], terms["total"])

    # 2. Phi on real images: lambda_P L_Phi(I, p_o).
    set_requires_grad(nets.Phi, True)
    with L.autocast():
        loss_phi = pose_regressor_loss(wrapped.Phi, batch)
    _update(L.opt["Phi"], lc.lambda_pose * loss_phi)

    # 3. D_I: real images against renders from the buffer (I_pf and I^_po are both renders).
    set_requires_grad(nets.D, True)
    fakes = L.pool.query(torch.cat([fake, back]).detach())
    with L.autocast():
        loss_d = discriminator_loss(wrapped.D, batch.real, fakes)
    _update(L.opt["D"], loss_d)

    # 4. The average of G's weights follows G (ours; inference, export and samples use it).
    if L.G_ema is not None:
        L.state.ema_updates += 1
        update_average(L.G_ema, nets.G, t.g_ema_decay, L.state.ema_updates)
    L.state.step += 1

    zero = torch.zeros((), device=loss_d.device)
    out = {"loss_G": terms["total"], "loss_D": loss_d, "loss_adv": terms["adv_f"] + terms["adv_o"],
           "loss_pose": terms["pose_f"] + terms["pose_o"], "loss_content": terms.get("content", zero),
           "loss_style": terms.get("style", zero), "loss_colour": terms.get("colour", zero),
           "loss_identity": terms["identity"], "loss_Phi": loss_phi}
    return {k: v.detach().float() for k, v in out.items()}
