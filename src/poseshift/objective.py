"""The full objective, eq. (8), split into the generator's terms and the two critics'.

    L = L_I(G, D_I, I_po, p_f) + lambda_P L_P(G, Phi, I_po, p_f)
      + L_I(G, D_I, I_pf, p_o) + lambda_P L_P(G, Phi, I_pf, p_o)
      + lambda_Id L_Id + lambda_P L_Phi(I, p_o)

G is applied twice: I_pf = G(I_po | p_f), then I^_po = G(I_pf | p_o) (section 4).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from poseshift.config import LossConfig
from poseshift.losses import (
    content_loss,
    identity_loss,
    l1_identity_loss,
    lsgan_d_loss,
    lsgan_g_loss,
    narrow_maps,
    patch_colour_loss,
    patch_style_loss,
    pose_loss,
)
from poseshift.nets import Networks


@dataclass
class Batch:
    """real [B,3,H,W] in [-1,1]; maps_* [B,18,H,W]; vis_* [B,18] bool; kp_* [B,18,2] pixels
    (NaN missing), which a generator that warps the source needs (model.g_arch = warp)."""

    real: torch.Tensor
    maps_o: torch.Tensor
    maps_f: torch.Tensor
    vis_o: torch.Tensor
    vis_f: torch.Tensor
    kp_o: torch.Tensor | None = None
    kp_f: torch.Tensor | None = None
    target: torch.Tensor | None = None  # ground truth I_pf, supervised baseline only


def render_cycle(nets: Networks, batch: Batch, noise_std: float = 0.0,
                 grad_scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    fake = nets.G(batch.real, batch.maps_f, batch.kp_o, batch.kp_f)  # I_pf = G(I_po | p_f)
    # loss.cycle_noise_std (not in the paper): Gaussian noise on I_pf before the second
    # pass, so that G cannot hide I_po in faint patterns of I_pf (Bashkirova et al. 2019).
    second = fake + noise_std * torch.randn_like(fake) if noise_std > 0 else fake
    # loss.cycle_grad_scale (1 in the paper): the way back's gradient into the first pass,
    # scaled (0 = cut). The forward value is unchanged.
    if grad_scale == 0.0:
        second = second.detach()
    elif grad_scale != 1.0:
        second = second.detach() + grad_scale * (second - second.detach())
    recovered = nets.G(second, batch.maps_o, batch.kp_f, batch.kp_o)  # I^_po = G(I_pf | p_o); I_pf is in p_f
    return fake, recovered


def generator_terms(nets: Networks, batch: Batch, cfg: LossConfig
                    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """The terms of eq. (8) that reach G, unweighted, plus ``total`` (weighted) for G's step.
    Returns (terms, I_pf, I^_po)."""
    fake, recovered = render_cycle(nets, batch, cfg.cycle_noise_std, cfg.cycle_grad_scale)
    t: dict[str, torch.Tensor] = {
        "adv_f": lsgan_g_loss(nets.D(fake)),
        "adv_o": lsgan_g_loss(nets.D(recovered)),
        "pose_f": pose_loss(nets.Phi(fake), batch.maps_f, cfg.pose_reduction),
        "pose_o": pose_loss(nets.Phi(recovered), batch.maps_o, cfg.pose_reduction),
    }
    if cfg.identity == "content_style":
        feat_real = nets.Psi(batch.real)
        t["content"] = content_loss(feat_real, nets.Psi(recovered))
        # loss.patch_sigma_scale: the patches' maps, narrower than eq. (1)'s if asked.
        pm_o, pm_f = (narrow_maps(m, cfg.patch_sigma_scale) for m in (batch.maps_o, batch.maps_f))
        t["style"] = patch_style_loss(feat_real, nets.Psi(fake), pm_o, pm_f, batch.vis_o, batch.vis_f)
        if cfg.lambda_colour:
            t["colour"] = patch_colour_loss(batch.real, fake, pm_o, pm_f, batch.vis_o, batch.vis_f)
        t["identity"] = identity_loss(t["content"], t["style"], cfg.lambda_style,
                                      t.get("colour"), cfg.lambda_colour)
        weight = cfg.lambda_id
    else:  # figure 5: L_Id replaced by L1, weighted by lambda_l1 (see LossConfig)
        t["identity"] = l1_identity_loss(batch.real, recovered)
        weight = cfg.lambda_l1
    t["total"] = (cfg.lambda_adv * (t["adv_f"] + t["adv_o"]) + cfg.lambda_pose * (t["pose_f"] + t["pose_o"])
                  + weight * t["identity"])
    return t, fake, recovered


def pose_regressor_loss(nets: Networks, batch: Batch, cfg: LossConfig) -> torch.Tensor:
    """L_Phi(I, p_o) = ||Phi(I_po) - p_o||^2 on real images, unweighted (eq. (8))."""
    return pose_loss(nets.Phi(batch.real), batch.maps_o, cfg.pose_reduction)


def discriminator_loss(nets: Networks, real: torch.Tensor, fakes: torch.Tensor) -> torch.Tensor:
    """D_I's side of eq. (2) with LSGAN; ``fakes`` come from the image buffer, detached."""
    return lsgan_d_loss(nets.D(real), nets.D(fakes.detach()))


def supervised_terms(nets: Networks, batch: Batch, cfg: LossConfig) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The supervised baseline of the ablation (not the paper's method): G(I_po | p_f)
    against the ground-truth I_pf with L1 plus lambda_Id x the content loss of eq. (4)."""
    assert batch.target is not None, "the supervised objective needs ground-truth targets"
    fake = nets.G(batch.real, batch.maps_f, batch.kp_o, batch.kp_f)
    t = {"l1": l1_identity_loss(batch.target, fake),
         "content": content_loss(nets.Psi(batch.target), nets.Psi(fake))}
    t["total"] = t["l1"] + cfg.lambda_id * t["content"]
    return t, fake
