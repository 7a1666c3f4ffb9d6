"""The full objective, eq. (8), split into the generator's terms and the two critics'.

    L = L_I(G, D_I, I_po, p_f) + lambda_P L_P(G, Phi, I_po, p_f)
      + L_I(G, D_I, I_pf, p_o) + lambda_P L_P(G, Phi, I_pf, p_o)
      + lambda_Id L_Id + lambda_P L_Phi(I, p_o)

G is applied twice (eq. 4): I_pf = G(I_po | p_f), then I^_po = G(I_pf | p_o) (:func:`render_cycle`).
Two additions of ours, both off in the ``paper`` preset, each act in one marked place: the share
of the way back's gradient that reaches the first pass (``loss.cycle_grad_scale``, in
:func:`render_cycle`) and a pixel colour term inside L_Id (``loss.lambda_colour``, in
:func:`identity_terms`). Shapes: images [B,3,H,W] in [-1,1], maps [B,18,H,W], masks [B,18] bool.
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
    patch_colour_loss,
    patch_style_loss,
    pose_loss,
)
from poseshift.nets import Networks
from poseshift.pose.heatmaps import belief_maps, visible

# loss.identity = "l1" (figure 5's ablation): the weight of L1(I_po, I^_po) in place of lambda_Id L_Id.
# The paper gives none; 10 is CycleGAN's weight for the same L1 cycle term (Zhu et al. 2017, eq. 3).
L1_WEIGHT = 10.0


@dataclass
class Batch:
    """What eq. (8) reads: real [B,3,H,W] in [-1,1]; maps_* [B,18,H,W]; vis_* [B,18] bool; kp_*
    [B,18,2] pixels (NaN missing), which a generator that warps the source needs (g_arch warp, flow).
    ``_o``: the real image's own pose p_o; ``_f``: the target pose p_f. ``sil_o`` [B,1,H,W]: the
    real image's person mask (data.silhouettes: photo), given to a warping G's first pass."""

    real: torch.Tensor
    maps_o: torch.Tensor
    maps_f: torch.Tensor
    vis_o: torch.Tensor
    vis_f: torch.Tensor
    kp_o: torch.Tensor | None = None
    kp_f: torch.Tensor | None = None
    sil_o: torch.Tensor | None = None

    @classmethod
    def from_keypoints(cls, real: torch.Tensor, kp_o: torch.Tensor, kp_f: torch.Tensor, sigma: float) -> Batch:
        """The batch of images ``real`` in poses ``kp_o`` asked into ``kp_f`` [B,18,2]: the belief
        maps of eq. (1) (sigma in pixels) drawn on ``real``'s device, and which joints are present."""
        h, w = real.shape[-2:]
        return cls(real, belief_maps(kp_o, h, w, sigma), belief_maps(kp_f, h, w, sigma), visible(kp_o),
                   visible(kp_f), kp_o, kp_f)


def scale_gradient(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``x`` unchanged forward; backward, its gradient times ``scale`` (0: none at all)."""
    if scale == 1.0:
        return x
    if scale == 0.0:
        return x.detach()
    return x.detach() + scale * (x - x.detach())


def render_cycle(G: torch.nn.Module, batch: Batch, grad_scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. (4)'s two passes -> (I_pf, I^_po). ``grad_scale`` (loss.cycle_grad_scale, ours; 1 in the
    paper) scales the way back's gradient into the first pass: 0 = I_pf enters it as a constant."""
    mask = {} if batch.sil_o is None else {"silhouette": batch.sil_o}  # a warping G's source mask (ours)
    fake = G(batch.real, batch.maps_f, batch.kp_o, batch.kp_f, **mask)  # I_pf = G(I_po | p_f)
    back = G(scale_gradient(fake, grad_scale), batch.maps_o, batch.kp_f, batch.kp_o)  # I^_po = G(I_pf | p_o)
    return fake, back


def identity_terms(Psi: torch.nn.Module, batch: Batch, fake: torch.Tensor, back: torch.Tensor,
                   cfg: LossConfig) -> dict[str, torch.Tensor]:
    """L_Id, eq. (7), as ``identity`` (with its parts ``content`` and ``style``), or figure 5's L1."""
    if cfg.identity == "l1":  # figure 5's ablation: L_Id replaced by L1(I_po, I^_po)
        return {"identity": l1_identity_loss(batch.real, back)}
    feat_real = Psi(batch.real)
    t = {"content": content_loss(feat_real, Psi(back)),  # eq. (4)
         "style": patch_style_loss(feat_real, Psi(fake), batch.maps_o, batch.maps_f, batch.vis_o, batch.vis_f)}
    t["identity"] = identity_loss(t["content"], t["style"], cfg.lambda_style)  # eq. (7)
    if cfg.lambda_colour:  # ours (loss.lambda_colour): eq. (6) on the pixels of I_pf, inside L_Id
        t["colour"] = patch_colour_loss(batch.real, fake, batch.maps_o, batch.maps_f, batch.vis_o, batch.vis_f)
        t["identity"] = t["identity"] + cfg.lambda_colour * t["colour"]
    return t


def identity_weight(cfg: LossConfig) -> float:
    """L_Id's weight in eq. (8): lambda_Id, or figure 5's L1 weight."""
    return L1_WEIGHT if cfg.identity == "l1" else cfg.lambda_id


def generator_terms(nets: Networks, batch: Batch, fake: torch.Tensor, back: torch.Tensor,
                    cfg: LossConfig) -> dict[str, torch.Tensor]:
    """The terms of eq. (8) that reach G, for the renders of :func:`render_cycle`, unweighted, and
    ``total`` (weighted) for G's step. D_I, Phi and Psi are read from ``nets``; G is not."""
    t = {
        "adv_f": lsgan_g_loss(nets.D(fake)),  # L_I(G, D_I, I_po, p_f), eq. (2)
        "adv_o": lsgan_g_loss(nets.D(back)),  # L_I(G, D_I, I_pf, p_o)
        "pose_f": pose_loss(nets.Phi(fake), batch.maps_f),  # L_P(G, Phi, I_po, p_f), eq. (3)
        "pose_o": pose_loss(nets.Phi(back), batch.maps_o),  # L_P(G, Phi, I_pf, p_o)
        **identity_terms(nets.Psi, batch, fake, back, cfg),  # L_Id, eq. (7)
    }
    t["total"] = (t["adv_f"] + t["adv_o"] + cfg.lambda_pose * (t["pose_f"] + t["pose_o"])
                  + identity_weight(cfg) * t["identity"])
    return t


def pose_regressor_loss(Phi: torch.nn.Module, batch: Batch) -> torch.Tensor:
    """L_Phi(I, p_o) = ||Phi(I_po) - p_o||^2 on real images, unweighted (eq. (8))."""
    return pose_loss(Phi(batch.real), batch.maps_o)


def discriminator_loss(D: torch.nn.Module, real: torch.Tensor, fakes: torch.Tensor) -> torch.Tensor:
    """D_I's side of eq. (2) with LSGAN; ``fakes`` come from the image buffer, detached."""
    return lsgan_d_loss(D(real), D(fakes.detach()))
