"""Which body part owns each pixel: signed distances to the parts' cores, shares in the manner of
skinning (each silhouette pixel goes with its nearest bones), and a silhouette drawn from the pose
alone for when no person mask is given.

A part's core is a segment with a radius: a limb's bone, the torso's spine (neck to mid-hip, as
wide as ``geometry.torso_width``), the head's centre. The signed distance of a pixel to a part is
its distance to the core less the radius (negative inside), in pixels; ``inf`` where the part's
joints are missing.
"""
from __future__ import annotations

import torch

from poseshift.warp.geometry import FACE, L_HIP, L_SH, LIMB_PARTS, NECK, R_HIP, R_SH, face_centre, torso_width

# Not given anywhere; chosen on deepfashion-mini's train pairs (body units):
SHARE_EDGE = 0.06    # how far past its nearest part a pixel still belongs to the next (overlap at joints)
REACH = 1.2          # a silhouette pixel further than this from every part's surface is not carried
SOFT = 0.02          # soft edge of a silhouette drawn from the pose (plus a third of a pixel)


WIDEN = 1.5  # a continued leg's capsule, x the limb's radius (trousers are wider than the bone's core)


def pixel_grid(h: int, w: int, device) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=torch.float32),
                            torch.arange(w, device=device, dtype=torch.float32), indexing="ij")
    return torch.stack([xs, ys], -1).reshape(-1, 2)


def segment_distance(px: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """px [N,2], a b [B,...,2] -> [B,...,N] distance of every pixel to each segment ab (any number
    of segments at once; x and y kept apart, so no [B,...,N,2] tensor is built)."""
    ab = b - a
    inv = 1.0 / (ab ** 2).sum(-1, keepdim=True).clamp_min(1e-6)
    dx = px[:, 0] - a[..., :1]                                                   # [B,...,N]
    dy = px[:, 1] - a[..., 1:]
    t = ((dx * ab[..., :1] + dy * ab[..., 1:]) * inv).clamp_(0, 1)
    return torch.hypot(dx - t * ab[..., :1], dy - t * ab[..., 1:])


def head_circle(kp: torch.Tensor, ok: torch.Tensor, unit: torch.Tensor):
    """-> centre [B,2] and radius [B] of the head: around the face's joints present, reaching the
    neck's side of the chin."""
    face_ok = ok[:, list(FACE)].float()
    kp0 = kp.nan_to_num(0.0)
    centre = face_centre(kp, ok)
    spread = ((kp0[:, list(FACE)] - centre[:, None]).norm(dim=-1) * face_ok).amax(1)
    neck_d = (centre - kp0[:, NECK]).norm(dim=-1) * ok[:, NECK]
    radius = torch.maximum(torch.maximum(1.3 * spread, 0.7 * neck_d), 0.28 * unit)
    return centre, radius


# The torso's core: the spine, widened by the quadrilateral's four edges (shoulders, hips, sides).
_TORSO_EDGES = ((R_SH, L_SH), (R_HIP, L_HIP), (R_SH, R_HIP), (L_SH, L_HIP))


def signed_distances(kp: torch.Tensor, ok: torch.Tensor, unit: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """[B,P,N]: each pixel's signed distance to each part of pose ``kp`` (virtual hips given).
    Every segment (spine, the torso's four edges, eight bones) is measured in one batched call."""
    kp0 = kp.nan_to_num(0.0)
    big = torch.tensor(float("inf"), device=kp.device)
    mid = (kp0[:, R_HIP] + kp0[:, L_HIP]) / 2
    first, second = (list(j) for j in zip(*_TORSO_EDGES, *(j for _, j, _, _, _ in LIMB_PARTS)))
    a = torch.cat([kp0[:, NECK, None], kp0[:, first]], 1)                        # [B,13,2]
    b = torch.cat([mid[:, None], kp0[:, second]], 1)
    seg = segment_distance(px, a, b)                                             # [B,13,N]
    u = unit[:, None]
    torso_ok = ok[:, NECK] & ok[:, R_HIP] & ok[:, L_HIP] & (ok[:, R_SH] | ok[:, L_SH])
    d = seg[:, 0] - torso_width(kp)[:, None] / 2
    # The shoulders and hips reach past a narrow spine's width: the torso covers its quadrilateral.
    for i, (ja, jb) in enumerate(_TORSO_EDGES):
        both = (ok[:, ja] & ok[:, jb])[:, None]
        d = torch.where(both, torch.minimum(d, seg[:, 1 + i] - 0.12 * u), d)
    dists = [torch.where(torso_ok[:, None], d, big)]
    for k, (_, (ja, jb), radius, _, _) in enumerate(LIMB_PARTS):
        d = seg[:, 1 + len(_TORSO_EDGES) + k] - radius * u
        dists.append(torch.where((ok[:, ja] & ok[:, jb])[:, None], d, big))
    centre, radius = head_circle(kp, ok, unit)
    d = torch.hypot(px[:, 0] - centre[:, :1], px[:, 1] - centre[:, 1:]) - radius[:, None]
    dists.append(torch.where(ok[:, list(FACE)].any(1)[:, None], d, big))
    return torch.stack(dists, 1)


def part_shares(sd: torch.Tensor, unit: torch.Tensor) -> torch.Tensor:
    """[B,P,N] in [0,1]: 1 for each pixel's nearest part and for every part whose core holds it,
    falling off over SHARE_EDGE body units for the parts just behind it (a joint's pixels belong to
    both its bones), 0 beyond REACH."""
    u = unit[:, None, None]
    nearest = sd.amin(1, keepdim=True)
    share = torch.exp(-(sd - nearest).nan_to_num(0.0, posinf=1e9) / (SHARE_EDGE * u))
    # A part also keeps what lies inside its own core where another part is nearer (the torso
    # behind an arm): the target's painting order decides what shows, and a part that moves
    # away leaves the photo's own pixels behind it, not a hole.
    share = torch.maximum(share, torch.sigmoid(-sd.clamp(max=1e9) / (SOFT * u + 0.35)))
    reach = torch.sigmoid((REACH * u - nearest.clamp(max=1e9)) / (SOFT * u + 0.35))
    return share * reach


def pose_silhouette(sd: torch.Tensor, unit: torch.Tensor) -> torch.Tensor:
    """[B,N] a person mask drawn from the pose alone: the union of the parts' soft shapes."""
    nearest = sd.amin(1).clamp(max=1e9)
    return torch.sigmoid(-nearest / (SOFT * unit[:, None] + 0.35))


def limb_capsules(kp: torch.Tensor, unit: torch.Tensor, px: torch.Tensor, limbs: range) -> torch.Tensor:
    """[B,len(limbs),N] in [0,1]: soft capsules around the bones of ``limbs`` (indices into
    LIMB_PARTS) of pose ``kp``, WIDEN x their radius (a leg drawn from a photo's torso share keeps
    to its own bone in the target)."""
    kp0 = kp.nan_to_num(0.0)
    a = kp0[:, [LIMB_PARTS[k][1][0] for k in limbs]]
    b = kp0[:, [LIMB_PARTS[k][1][1] for k in limbs]]
    radius = torch.tensor([LIMB_PARTS[k][2] for k in limbs], device=kp.device)
    u = unit[:, None, None]
    d = segment_distance(px, a, b) - WIDEN * radius[None, :, None] * u
    return torch.sigmoid(-d / (SOFT * u + 0.35))
