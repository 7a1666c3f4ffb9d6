"""A pose-guided warp: the source's own pixels moved body part by body part (not in the paper).

Siarohin et al. (CVPR 2018, "Deformable GANs") fit one affine transform per body part from the
part's joints in the source pose p_o to the same joints in the target pose p_f. This module does
that for ten parts and composites them in the target's layout:

    torso   neck, shoulders, hips   affine, least squares, pulled towards the similarity fit
    head    neck, nose, eyes, ears  similarity (a head does not shear)
    limbs   two joints each         along the limb: the length ratio; across it: the body's
            (upper arm, forearm,    scale ratio (so a foreshortened arm does not get thin)
             thigh, shin, x2)

Each part's soft mask is drawn in p_f's layout (a quadrilateral for the torso, a disc for the
head, a capsule for a limb), multiplied by the same part's mask in p_o's layout carried along the
warp (so a part takes no background from beside the source limb), and the parts are painted back
to front (torso, legs, arms, head) over a background of the source's border colour. A part is left
out (mask zero) when a joint it needs is missing in either pose; a missing hip is replaced by a
point below its shoulder in both poses, so an upper-body photo keeps its torso.

Everything is batched tensors on the input's device: one ``grid_sample`` call for all parts of all
samples, no Python loop over pixels or samples (the only loops run over the ten parts).
Keypoints are ``[B, 18, 2]`` (x, y) pixels of the image frame with NaN for missing joints, the
convention of :mod:`poseshift.pose.heatmaps`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from poseshift.pose.schema import NUM_JOINTS

__all__ = ["PARTS", "NUM_PARTS", "WarpResult", "part_warp", "warp_only", "border_colour"]

NOSE, NECK, R_SH, R_EL, R_WR, L_SH, L_EL, L_WR, R_HIP, R_KN, R_AN, L_HIP, L_KN, L_AN = range(14)
FACE = (0, 14, 15, 16, 17)

# (name, joints, limb radius in body units) in painting order, back to front.
LIMB_PARTS = (
    ("r_thigh", (R_HIP, R_KN), 0.24), ("r_shin", (R_KN, R_AN), 0.18),
    ("l_thigh", (L_HIP, L_KN), 0.24), ("l_shin", (L_KN, L_AN), 0.18),
    ("r_upper_arm", (R_SH, R_EL), 0.17), ("r_forearm", (R_EL, R_WR), 0.15),
    ("l_upper_arm", (L_SH, L_EL), 0.17), ("l_forearm", (L_EL, L_WR), 0.15),
)
PARTS: tuple[str, ...] = ("torso", *(p[0] for p in LIMB_PARTS), "head")
NUM_PARTS = len(PARTS)

# Not given anywhere; chosen by eye on deepfashion-mini's train pairs and kept fixed (a warp, not a model):
HIP_DROP = 1.5        # a missing hip sits this many shoulder widths below its shoulder
TORSO_MARGIN = 0.18   # the torso quad grows by this share of the shoulder width
AFFINE_PULL = 0.15    # ridge of the torso's affine fit towards its similarity fit (share of spread)
SOFT = 0.06           # soft edge of every mask, as a share of the part's radius (plus half a pixel)


@dataclass
class WarpResult:
    """warped [B,3,H,W]: the parts composited over the border colour; masks [B,P,H,W] in [0,1]
    (the parts' own masks, before painting); union [B,1,H,W]: where any part landed;
    parts [B,P,3,H,W]: each part's warped source."""

    warped: torch.Tensor
    masks: torch.Tensor
    union: torch.Tensor
    parts: torch.Tensor


def _present(kp: torch.Tensor) -> torch.Tensor:
    return ~torch.isnan(kp).any(-1)


def _with_virtual_hips(kp: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """Replace each hip missing in ``ok`` by a point HIP_DROP shoulder widths below its shoulder,
    perpendicular to the shoulder line, pointing down the image."""
    kp = kp.clone()
    across = kp[:, L_SH] - kp[:, R_SH]                              # [B, 2]
    down = torch.stack([-across[:, 1], across[:, 0]], -1)           # perpendicular
    down = torch.where((down[:, 1:] < 0), -down, down)              # pointing to larger y
    for hip, sh in ((R_HIP, R_SH), (L_HIP, L_SH)):
        virtual = kp[:, sh] + HIP_DROP * down
        kp[:, hip] = torch.where(ok[:, hip, None], kp[:, hip], virtual)
    return kp


def _body_unit(kp: torch.Tensor) -> torch.Tensor:
    """[B] a length that scales with the person: the shoulder width where both shoulders are
    present, else 0.6 x the neck-to-hip distance, else a tenth of the frame is used by the caller."""
    sw = (kp[:, L_SH] - kp[:, R_SH]).norm(dim=-1)
    hips = torch.nanmean(kp[:, [R_HIP, L_HIP]], dim=1)
    trunk = 0.6 * (hips - kp[:, NECK]).norm(dim=-1)
    return torch.where(torch.isnan(sw), trunk, sw)


def _similarity(p: torch.Tensor, q: torch.Tensor, w: torch.Tensor):
    """Weighted least-squares similarity q ~ M p + t for point sets [B, J, 2] (weights [B, J]).
    -> M [B,2,2], t [B,2], centroids of p and q, and p's centred spread sum w|p|^2 [B]."""
    ws = w.sum(-1, keepdim=True).clamp_min(1e-6)
    pm = (w[..., None] * p).sum(1) / ws
    qm = (w[..., None] * q).sum(1) / ws
    pc, qc = p - pm[:, None], q - qm[:, None]
    spread = (w * (pc ** 2).sum(-1)).sum(-1).clamp_min(1e-6)
    a = (w * (pc * qc).sum(-1)).sum(-1) / spread
    b = (w * (pc[..., 0] * qc[..., 1] - pc[..., 1] * qc[..., 0])).sum(-1) / spread
    m = torch.stack([torch.stack([a, -b], -1), torch.stack([b, a], -1)], -2)
    return m, qm - (m @ pm[..., None])[..., 0], pm, qm, spread


def _affine(p: torch.Tensor, q: torch.Tensor, w: torch.Tensor):
    """Weighted least-squares affine q ~ M p + t, with a ridge AFFINE_PULL x spread towards the
    similarity fit, so three nearly collinear joints give a sensible transform."""
    m_sim, _, pm, qm, spread = _similarity(p, q, w)
    pc, qc = p - pm[:, None], q - qm[:, None]
    lam = (AFFINE_PULL * spread / 2)[:, None, None]
    eye = torch.eye(2, dtype=p.dtype, device=p.device)
    qp = torch.einsum("bj,bjr,bjc->brc", w, qc, pc) + lam * m_sim
    pp = torch.einsum("bj,bjr,bjc->brc", w, pc, pc) + lam * eye
    m = qp @ torch.linalg.inv(pp)
    return m, qm - (m @ pm[..., None])[..., 0]


def _limb(a_t, b_t, a_s, b_s, scale):
    """Target -> source transform of a two-joint limb [B,2] each: along the limb the length ratio,
    across it ``scale`` [B] (source body unit / target body unit)."""
    u_t, u_s = b_t - a_t, b_s - a_s
    len_t = u_t.norm(dim=-1, keepdim=True).clamp_min(1.0)
    len_s = u_s.norm(dim=-1, keepdim=True).clamp_min(1.0)
    e_t, e_s = u_t / len_t, u_s / len_s
    n_t = torch.stack([-e_t[:, 1], e_t[:, 0]], -1)
    n_s = torch.stack([-e_s[:, 1], e_s[:, 0]], -1)
    m = (len_s / len_t)[..., None] * e_s[:, :, None] * e_t[:, None, :] \
        + scale[:, None, None] * n_s[:, :, None] * n_t[:, None, :]
    mid_t, mid_s = (a_t + b_t) / 2, (a_s + b_s) / 2
    return m, mid_s - (m @ mid_t[..., None])[..., 0]


def _soft(signed: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """Soft inside-ness from a signed distance (positive inside), edge width SOFT x radius."""
    return torch.sigmoid(signed / (SOFT * radius + 0.5))


def _capsule(px: torch.Tensor, a: torch.Tensor, b: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """px [H*W, 2], a b [B,2], r [B] -> [B, H*W] soft capsule around segment ab."""
    ab = b - a
    t = (((px[None] - a[:, None]) * ab[:, None]).sum(-1) / (ab ** 2).sum(-1, keepdim=True).clamp_min(1e-6))
    closest = a[:, None] + t.clamp(0, 1)[..., None] * ab[:, None]
    d = (px[None] - closest).norm(dim=-1)
    return _soft(r[:, None] - d, r[:, None])


def _quad(px: torch.Tensor, corners: torch.Tensor, margin: torch.Tensor) -> torch.Tensor:
    """px [H*W,2], corners [B,4,2] of a convex quadrilateral in order -> [B, H*W] soft inside."""
    nxt = corners.roll(-1, dims=1)
    edge = nxt - corners                                              # [B,4,2]
    area = (corners[..., 0] * nxt[..., 1] - nxt[..., 0] * corners[..., 1]).sum(-1)  # twice signed area
    inward = torch.stack([-edge[..., 1], edge[..., 0]], -1) * torch.sign(area)[:, None, None]
    inward = inward / inward.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    d = ((px[None, None] - corners[:, :, None]) * inward[:, :, None]).sum(-1)  # [B,4,H*W]
    return _soft(d.min(1).values + margin[:, None], margin[:, None] + 1.0)


def _part_geometry(kp: torch.Tensor, ok_both: torch.Tensor, px: torch.Tensor, size: int):
    """Masks [B,P,H*W] of every part in the layout of ``kp`` (hips already virtual where needed)."""
    unit = _body_unit(kp)
    unit = torch.where(torch.isnan(unit) | (unit < 2), torch.full_like(unit, 0.1 * size), unit)
    kp0 = torch.nan_to_num(kp, nan=0.0)
    masks = [_quad(px, kp0[:, [R_SH, L_SH, L_HIP, R_HIP]], TORSO_MARGIN * unit)]
    for _, (a, b), radius in LIMB_PARTS:
        masks.append(_capsule(px, kp0[:, a], kp0[:, b], radius * unit))
    face_ok = ok_both[:, list(FACE)].float()                                   # [B,5]
    centre = (face_ok[..., None] * kp0[:, list(FACE)]).sum(1) / face_ok.sum(1, keepdim=True).clamp_min(1)
    spread = ((kp0[:, list(FACE)] - centre[:, None]).norm(dim=-1) * face_ok).amax(1)
    neck_d = (centre - kp0[:, NECK]).norm(dim=-1)
    radius = torch.maximum(torch.maximum(1.4 * spread, 0.75 * neck_d), 0.3 * unit)
    d = (px[None] - centre[:, None]).norm(dim=-1)
    masks.append(_soft(radius[:, None] - d, radius[:, None]))
    return torch.stack(masks, 1), unit


def border_colour(image: torch.Tensor) -> torch.Tensor:
    """[B,3,H,W] -> [B,3] the per-channel median of the image's one-pixel border."""
    border = torch.cat([image[..., 0, :], image[..., -1, :], image[..., :, 0], image[..., :, -1]], -1)
    return border.median(dim=-1).values


def part_warp(image: torch.Tensor, kp_src: torch.Tensor, kp_tgt: torch.Tensor) -> WarpResult:
    """Warp ``image`` [B,3,H,W] (pose ``kp_src`` [B,18,2]) part by part into pose ``kp_tgt``.

    Both poses are in ``image``'s pixel frame (x, y), NaN for a missing joint. Differentiable
    in ``image`` (the transforms are fitted from keypoints and carry no gradient)."""
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"part_warp expects an image [B, 3, H, W], got {list(image.shape)}")
    for name, kp in (("kp_src", kp_src), ("kp_tgt", kp_tgt)):
        if kp.shape != (image.shape[0], NUM_JOINTS, 2):
            raise ValueError(f"part_warp expects {name} [{image.shape[0]}, {NUM_JOINTS}, 2], got {list(kp.shape)}")
    b, _, h, w = image.shape
    dev = image.device
    kp_s, kp_t = kp_src.to(dev, torch.float32), kp_tgt.to(dev, torch.float32)
    ok = _present(kp_s) & _present(kp_t)                                       # [B,18]
    shoulders = ok[:, R_SH] & ok[:, L_SH]
    kp_s, kp_t = _with_virtual_hips(kp_s, ok), _with_virtual_hips(kp_t, ok)
    ok_hips = ok.clone()
    ok_hips[:, [R_HIP, L_HIP]] = shoulders[:, None] | ok[:, [R_HIP, L_HIP]]
    s0, t0 = torch.nan_to_num(kp_s, nan=0.0), torch.nan_to_num(kp_t, nan=0.0)

    # Part transforms, target -> source: [B,P,2,2] and [B,P,2]; valid [B,P].
    torso_j = [NECK, R_SH, L_SH, R_HIP, L_HIP]
    wt = ok_hips[:, torso_j].float() * torch.tensor([1, 1, 1, 0.7, 0.7], device=dev)
    mats, shifts, valid = [], [], []
    m, t = _affine(t0[:, torso_j], s0[:, torso_j], wt)
    mats.append(m); shifts.append(t); valid.append(shoulders & ok_hips[:, R_HIP] & ok_hips[:, L_HIP])
    unit_s, unit_t = _body_unit(kp_s), _body_unit(kp_t)
    scale = torch.nan_to_num(unit_s / unit_t, nan=1.0, posinf=1.0).clamp(0.5, 2.0)
    for _, (ja, jb), _ in LIMB_PARTS:
        m, t = _limb(t0[:, ja], t0[:, jb], s0[:, ja], s0[:, jb], scale)
        mats.append(m); shifts.append(t); valid.append(ok_hips[:, ja] & ok_hips[:, jb])
    head_j = [NECK, *FACE]
    m, t, *_ = _similarity(t0[:, head_j], s0[:, head_j], ok[:, head_j].float())
    mats.append(m); shifts.append(t); valid.append(ok[:, list(FACE)].any(1) & (ok[:, head_j].sum(1) >= 2))
    mat, shift, valid = torch.stack(mats, 1), torch.stack(shifts, 1), torch.stack(valid, 1)
    eye = torch.eye(2, device=dev).expand_as(mat)
    good = valid & torch.isfinite(mat).flatten(2).all(-1) & torch.isfinite(shift).all(-1)
    mat = torch.where(good[..., None, None], mat, eye)
    shift = torch.where(good[..., None], shift, torch.zeros_like(shift))

    ys, xs = torch.meshgrid(torch.arange(h, device=dev, dtype=torch.float32),
                            torch.arange(w, device=dev, dtype=torch.float32), indexing="ij")
    px = torch.stack([xs, ys], -1).reshape(-1, 2)                              # [H*W, 2]
    src = torch.einsum("bprc,nc->bpnr", mat, px) + shift[:, :, None]            # [B,P,H*W,2]
    norm = torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)], device=dev)
    grid = (src * norm - 1).reshape(b * NUM_PARTS, h, w, 2)

    size = max(h, w)
    masks_t, _ = _part_geometry(kp_t, ok, px, size)                            # [B,P,H*W]
    masks_s, _ = _part_geometry(kp_s, ok, px, size)
    stack = torch.cat([image.float().repeat_interleave(NUM_PARTS, 0),
                       masks_s.reshape(b * NUM_PARTS, 1, h, w)], 1)            # the part's own mask rides along
    sampled = F.grid_sample(stack, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    sampled = sampled.reshape(b, NUM_PARTS, 4, h, w)
    parts = sampled[:, :, :3]
    carried = sampled[:, :, 3]                                                 # source mask of part k, warped
    masks = masks_t.reshape(b, NUM_PARTS, h, w) * carried * good[..., None, None].float()

    bg = border_colour(image.float())[:, :, None, None].expand(b, 3, h, w)
    out, empty = bg, torch.ones(b, 1, h, w, device=dev)
    for k in range(NUM_PARTS):                                                 # painter's order
        mk = masks[:, k : k + 1]
        out = out * (1 - mk) + parts[:, k] * mk
        empty = empty * (1 - mk)
    return WarpResult(out.to(image.dtype), masks.to(image.dtype), (1 - empty).to(image.dtype),
                      parts.to(image.dtype))


def warp_only(image: torch.Tensor, kp_src: torch.Tensor, kp_tgt: torch.Tensor) -> torch.Tensor:
    """The untrained floor of every table: the source warped part by part into the target pose
    over its border colour. [B,3,H,W] -> [B,3,H,W]."""
    return part_warp(image, kp_src, kp_tgt).warped


def target_region(kp_tgt: torch.Tensor, h: int, w: int, grow: float = 0.0) -> torch.Tensor:
    """[B,18,2] target pose -> [B,1,H,W] in [0,1]: where the person stands in the target pose,
    the union of every part's mask in p_f's layout whose joints p_f has (whatever the source
    shows), grown by ``grow`` x max(H, W) pixels (max-pool dilation). Used by
    ``model.warp_region`` to keep G's correction on and around the body."""
    dev = kp_tgt.device
    kp = kp_tgt.to(dev, torch.float32)
    ok = _present(kp)
    shoulders = ok[:, R_SH] & ok[:, L_SH]
    kp = _with_virtual_hips(kp, ok)
    ok_h = ok.clone()
    ok_h[:, [R_HIP, L_HIP]] = shoulders[:, None] | ok[:, [R_HIP, L_HIP]]
    valid = [shoulders & ok_h[:, R_HIP] & ok_h[:, L_HIP]]
    valid += [ok_h[:, a] & ok_h[:, b] for _, (a, b), _ in LIMB_PARTS]
    valid.append(ok[:, list(FACE)].any(1) & (ok[:, [NECK, *FACE]].sum(1) >= 2))
    ys, xs = torch.meshgrid(torch.arange(h, device=dev, dtype=torch.float32),
                            torch.arange(w, device=dev, dtype=torch.float32), indexing="ij")
    px = torch.stack([xs, ys], -1).reshape(-1, 2)
    masks, _ = _part_geometry(kp, ok, px, max(h, w))                           # [B,P,H*W]
    region = (masks * torch.stack(valid, 1)[..., None].float()).amax(1).reshape(-1, 1, h, w)
    region = ((region - 0.01) / 0.99).clamp_min(0)  # the sigmoid edges' far tails are exactly 0
    k = int(round(grow * max(h, w)))
    if k > 0:
        region = F.max_pool2d(region, 2 * k + 1, stride=1, padding=k)
    return region
