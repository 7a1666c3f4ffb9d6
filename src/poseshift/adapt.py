"""Adaptation to one photo (not in the paper): G fine-tuned on the user's photo alone.

Eq. (8) needs no pair, so it can be minimised on a single image: I_po rendered in a few target
poses and back, with the same terms that trained G (the adversarial and pose terms through the
checkpoint's own D_I and Phi, both frozen; L_Id through Psi). The target poses are the pose asked
for, the photo's own pose, and both mirrored. Only a copy of G changes: the checkpoint file and
the Reposer's own G are never touched.
"""
from __future__ import annotations

import copy

import torch

from poseshift.checkpoint import Checkpoint
from poseshift.config import ADAM_BETAS, Config
from poseshift.nets import Networks, build_discriminator, build_feature_net, build_pose_regressor
from poseshift.objective import Batch, generator_terms, identity_terms, identity_weight, render_cycle
from poseshift.pose.heatmaps import flip_keypoints, sigma_pixels

__all__ = ["Adapter"]


class Adapter:
    """The critics of a checkpoint, loaded once; ``adapt(G, image, kp_o, kp_f, steps)`` answers a
    fine-tuned copy of G for that photo. A checkpoint without D_I or Phi (an export of G alone)
    adapts with L_Id only and says so in :attr:`terms`."""

    def __init__(self, checkpoint: str, config: Config, device: torch.device):
        self.config, self.device = config, device
        ckpt = Checkpoint(checkpoint, prefixes=("D", "Phi"))
        d, phi = build_discriminator(config), build_pose_regressor(config)
        self.critics = bool(ckpt.module_state("D")) and bool(ckpt.module_state("Phi"))
        if self.critics:
            ckpt.load_module("D", d)
            ckpt.load_module("Phi", phi)
        psi = build_feature_net(config)
        for net in (d, phi, psi):
            net.eval().to(device).requires_grad_(False)
        self.nets = Networks(None, d, phi, psi)  # type: ignore[arg-type]
        self.terms = "eq. (8): adversarial, pose and identity" if self.critics else "L_Id only (no D_I or Phi in the file)"

    def batch(self, image: torch.Tensor, kp_o: torch.Tensor, kp_f: torch.Tensor) -> Batch:
        """The photo [1,3,S,S] four times, towards p_f, p_o and both mirrored."""
        s = image.shape[-1]
        targets = torch.cat([kp_f, flip_keypoints(kp_f, s), kp_o, flip_keypoints(kp_o, s)])
        real = image.expand(4, -1, -1, -1)
        sources = kp_o.expand(4, -1, -1)
        return Batch.from_keypoints(real, sources, targets, sigma_pixels(s, self.config.pose.sigma_frac))

    def adapt(self, generator: torch.nn.Module, image: torch.Tensor, kp_o: torch.Tensor, kp_f: torch.Tensor,
              steps: int, lr: float | None = None) -> torch.nn.Module:
        """A copy of ``generator`` after ``steps`` Adam steps of eq. (8)'s G terms on this photo."""
        if steps < 0:
            raise ValueError(f"--adapt must be >= 0 steps, got {steps}")
        g = copy.deepcopy(generator).to(self.device).train()
        if steps == 0:
            return g.eval()
        opt = torch.optim.Adam(g.parameters(), lr=lr or self.config.train.lr_g, betas=ADAM_BETAS)
        batch = self.batch(image.to(self.device), kp_o.to(self.device), kp_f.to(self.device))
        lc = self.config.loss
        for _ in range(steps):
            fake, back = render_cycle(g, batch, lc.cycle_grad_scale)
            if self.critics:
                loss = generator_terms(self.nets, batch, fake, back, lc)["total"]
            else:  # no D_I or Phi to ask: L_Id alone
                loss = identity_weight(lc) * identity_terms(self.nets.Psi, batch, fake, back, lc)["identity"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return g.eval()
