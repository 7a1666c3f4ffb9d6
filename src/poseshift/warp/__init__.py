"""A pose-guided warp: the source's own pixels moved body part by body part (not in the paper).

Siarohin et al. (CVPR 2018, "Deformable GANs") move each body part of the source by its own
transform, fitted from the part's joints in the source pose p_o and the target pose p_f. This
package does that for ten parts (torso, head, upper arm, forearm, thigh and shin on each side)
and composites them in the target's layout:

- **Geometry** (:mod:`.geometry`). A body unit that survives a side view (the larger of the
  shoulder width and a share of the neck-to-hip length). Limbs map along their bone by the length
  ratio and across it by the body's scale ratio; the torso maps along its spine, keeping a
  plausible width when seen from the side; the head by a similarity. A limb the source lacks or
  hides (far shorter than its mirror) is taken from its mirror limb, as Deformable GAN does; a
  leg the photo cuts off is continued from the run of it the photo shows. Front to back, the
  body is mirrored about its own axis, and a back view's head shows the source's hair, no face.
- **Parts from the silhouette** (:mod:`.masks`). Every pixel of the source's person mask goes with
  its nearest parts, in the manner of skinning, so hair, loose garments and skirts travel with
  the part beside them instead of being cut at a capsule's edge. Without a mask, one is drawn
  from the pose.
- **Occlusion**: parts are painted back to front in an order decided per sample from the target's
  facing direction (:func:`.geometry.depth_order`).
- **Background** (:mod:`.background`): the source's own, the person removed and the hole filled.

Everything is batched tensors on the input's device: one ``grid_sample`` call for all parts of all
samples; the only Python loops run over the ten parts. Keypoints are ``[B, 18, 2]`` (x, y) pixels
of the image frame with NaN for missing joints (:mod:`poseshift.pose.heatmaps`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from poseshift.pose.schema import NUM_JOINTS
from poseshift.warp.background import border_colour, fill_background, inpaint_background
from poseshift.warp.geometry import (
    HEAD,
    L_HIP,
    L_SH,
    NUM_PARTS,
    PARTS,
    R_HIP,
    R_SH,
    body_unit,
    depth_order,
    fold_head,
    head_fold,
    part_transforms,
    present,
    with_virtual_hips,
)
from poseshift.warp.masks import limb_capsules, part_shares, pixel_grid, pose_silhouette, signed_distances

__all__ = ["PARTS", "NUM_PARTS", "HEAD_PART", "WarpResult", "SourceParts", "source_parts", "part_warp", "warp_only",
           "border_colour", "fill_background", "inpaint_background", "pose_mask", "compose"]


@dataclass
class WarpResult:
    """warped [B,3,H,W]: the parts composited over the background; masks [B,P,H,W] in [0,1]
    (each part's carried mask in the target, before painting); union [B,1,H,W]: where any part
    landed (the target's silhouette); field
    [B,H,W,2]: where each target pixel samples the source (grid_sample's coordinates); background
    [B,3,H,W]: the source's scene without the person; reach [B,1,H,W] in [0,1]: where some part
    lands, whether or not it brings the person's pixels (the target's body and a margin around it).
    A photo warped at a working resolution (poseshift.warp.photo) has no ``masks`` but the head's.
    ``warped`` = compose(image, field, union, background)."""

    warped: torch.Tensor
    masks: torch.Tensor
    union: torch.Tensor
    field: torch.Tensor
    background: torch.Tensor
    reach: torch.Tensor | None = None
    head: torch.Tensor | None = None  # [B,1,H,W] the head's region (see part_warp)
    body: torch.Tensor | None = None  # [B,1,H,W] the target's body drawn from its pose

    def head_mask(self) -> torch.Tensor:
        """[B,1,H,W]: the head's region (``head``; else where the head lands, ``masks[:, HEAD_PART]``)."""
        return self.head if self.head is not None else self.masks[:, HEAD_PART:HEAD_PART + 1]


HEAD_PART = HEAD  # the head's index among PARTS (masks[:, HEAD_PART] is where the head lands)
# Not given anywhere: the head's region reaches this many body units past the target's head
# circle (hair beside a face; nets/warping.py leaves the region to the warp).
HEAD_MARGIN = 0.25


def compose(image: torch.Tensor, field: torch.Tensor, cover: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """The source sampled along ``field`` [B,H,W,2] (grid_sample's [-1, 1] coordinates) where the
    person is (``cover`` [B,1,H,W]), the background elsewhere: the warp's answer, and the learned
    generator's at any resolution."""
    sampled = F.grid_sample(image, field, mode="bilinear", padding_mode="border", align_corners=True)
    return cover * sampled + (1 - cover) * background


def _check(image, kp_src, kp_tgt, silhouette, background):
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"part_warp expects an image [B, 3, H, W], got {list(image.shape)}")
    b, _, h, w = image.shape
    for name, kp in (("kp_src", kp_src), ("kp_tgt", kp_tgt)):
        if kp.shape != (b, NUM_JOINTS, 2):
            raise ValueError(f"part_warp expects {name} [{b}, {NUM_JOINTS}, 2], got {list(kp.shape)}")
    if silhouette is not None and silhouette.shape != (b, 1, h, w):
        raise ValueError(f"part_warp expects a silhouette [{b}, 1, {h}, {w}], got {list(silhouette.shape)}")
    if background is not None and background.shape != image.shape:
        raise ValueError(f"part_warp expects a background {list(image.shape)}, got {list(background.shape)}")


@dataclass
class SourceParts:
    """What the warp needs of the source alone, at one resolution: each part's share of every
    pixel (``shares`` [B,P,N], before a hidden limb takes its mirror's) and the person mask
    (``sil`` [B,N]). It depends on the source photo and pose only, so a render of one photo in many
    poses (animate, the web page) computes it once (``source_parts``)."""

    shares: torch.Tensor
    sil: torch.Tensor
    size: tuple[int, int]


def _poses(kp: torch.Tensor, dev, size: int):
    kp = kp.to(dev, torch.float32)
    ok = present(kp)
    return with_virtual_hips(kp, ok, size), _with_hips(ok)


def source_parts(kp_src: torch.Tensor, h: int, w: int, silhouette: torch.Tensor | None = None) -> SourceParts:
    """The source's part shares and person mask in an H x W frame (see SourceParts)."""
    dev, b = kp_src.device, kp_src.shape[0]
    kp_s, ok_s = _poses(kp_src, dev, max(h, w))
    unit_s = body_unit(kp_s, max(h, w))
    sd = signed_distances(kp_s, ok_s, unit_s, pixel_grid(h, w, dev))           # [B,P,N]
    sil = pose_silhouette(sd, unit_s) if silhouette is None else silhouette.to(dev, torch.float32).reshape(b, -1)
    return SourceParts(part_shares(sd, unit_s), sil, (h, w))


def part_warp(image: torch.Tensor, kp_src: torch.Tensor, kp_tgt: torch.Tensor,
              silhouette: torch.Tensor | None = None, background: torch.Tensor | None = None,
              source: SourceParts | None = None) -> WarpResult:
    """Warp ``image`` [B,3,H,W] (pose ``kp_src`` [B,18,2]) part by part into pose ``kp_tgt``.

    ``silhouette`` [B,1,H,W] in [0,1]: the source's person mask (drawn from the pose when None).
    ``background`` [B,3,H,W]: the source's scene without the person (filled from the image around
    the silhouette when None). Both poses are in ``image``'s pixel frame, NaN for a missing joint.
    ``source``: ``source_parts(kp_src, H, W, silhouette)`` computed before (the same answer, faster
    for one photo in many poses). Differentiable in ``image`` (the transforms come from keypoints
    and carry no gradient)."""
    _check(image, kp_src, kp_tgt, silhouette, background)
    b, _, h, w = image.shape
    dev, size = image.device, max(h, w)
    kp_s, ok_s = _poses(kp_src, dev, size)
    kp_t, ok_t = _poses(kp_tgt, dev, size)
    units = (body_unit(kp_s, size), body_unit(kp_t, size))                      # once for all below
    unit_t = units[1]
    mat, shift, valid, src_part, continued = part_transforms(kp_s, kp_t, ok_s, ok_t, size, (h, w),
                                                             present(kp_src.to(dev)), units)
    if source is None:
        source = source_parts(kp_src.to(dev), h, w, silhouette)
    elif source.size != (h, w) or source.shares.shape[0] != b:
        raise ValueError(f"part_warp: source parts for {source.shares.shape[0]} x {source.size}, "
                         f"the image is {b} x {(h, w)}")
    sil, rows = source.sil, torch.arange(b, device=dev)[:, None]
    shares = source.shares[rows, src_part]                                     # hidden limb: its mirror's

    px = pixel_grid(h, w, dev)                                                 # [N, 2]
    src = torch.einsum("bprc,nc->bpnr", mat, px) + shift[:, :, None]            # [B,P,N,2]
    src[:, HEAD] = fold_head(src[:, HEAD], *head_fold(kp_s, kp_t, ok_s))  # a back view: no face
    norm = torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)], device=dev)
    grid = (src * norm - 1).reshape(b * NUM_PARTS, h, w, 2)
    stack = torch.empty(b, NUM_PARTS, 2, h * w, device=dev)
    stack[:, :, 0], stack[:, :, 1] = shares, sil[:, None]
    sampled = F.grid_sample(stack.view(b * NUM_PARTS, 2, h, w), grid, mode="bilinear", padding_mode="zeros",
                            align_corners=True).reshape(b, NUM_PARTS, 2, h, w)
    share, carried = sampled[:, :, 0] * valid[..., None, None].float(), sampled[:, :, 1]
    # A leg continued from the photo's run of leg (the torso's or the thigh's share) keeps to its
    # own bone. Skipped when no leg is continued, except while tracing (one graph for every pose).
    legs = continued[:, 1:5, None, None]
    if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() or bool(legs.any()):
        cap = limb_capsules(kp_t, unit_t, px, range(4)).view(b, 4, h, w)
        share[:, 1:5] = torch.where(legs, share[:, 1:5] * cap, share[:, 1:5])
    # A part hides what is behind it where it brings the person's pixels (half-opaque already hides).
    masks = share * (2 * carried).clamp(max=1)

    if background is None:
        background = fill_background(image.float(), sil.reshape(b, 1, h, w))
    # Painted front to back: each part shows where no part in front of it hides it. One sampling
    # field: each pixel samples the source where the part that shows most puts it; how much of
    # the person is there is the silhouette the showing parts carry.
    order = depth_order(kp_t, unit_t).argsort(1, descending=True)     # [B,P] front first
    m_o, carried_o = masks[rows, order], carried[rows, order]                  # [B,P,H,W]
    shows, through = torch.empty_like(m_o), torch.ones_like(m_o[:, :1])
    for i in range(NUM_PARTS):                                                 # what shows past parts 0..i-1
        shows[:, i:i + 1] = m_o[:, i:i + 1] * through
        through = through * (1 - m_o[:, i:i + 1])
    person = (shows * carried_o).sum(1, keepdim=True)
    best, first = shows.max(1)                                                 # the first part that shows most
    part = order.gather(1, first.view(b, -1)).view(b, 1, h, w, 1).expand(b, 1, h, w, 2)
    picked = grid.reshape(b, NUM_PARTS, h, w, 2).gather(1, part)[:, 0]
    identity = (px * norm - 1).reshape(1, h, w, 2)                           # where no part lands
    # A part showing less than SHOWN_FLOOR counts as none: below it a pixel's part is decided by
    # rounding (onnxruntime and PyTorch disagree about a 1e-9 share), and nothing of it shows.
    field = torch.where((best > SHOWN_FLOOR)[..., None], picked, identity)
    # The carried silhouette of the parts that show, as a mean over them (so a soft edge stays as
    # soft as the photo's; the floor keeps a faint part's few pixels from being blown up).
    reach = share.amax(1, keepdim=True)
    union = person / torch.maximum(1 - through, 0.5 * reach).clamp_min(1e-6) * reach
    # The target's body drawn from its pose, and the head's region: where the head part lands or
    # within HEAD_MARGIN body units of the target's head (the hair around a face).
    body, near = _body_and_head(kp_t, ok_t, unit_t, h, w)
    head = torch.maximum(masks[:, HEAD:HEAD + 1], near)
    background = background.to(dev, torch.float32)
    out = compose(image.float(), field, union, background)
    return WarpResult(out.to(image.dtype), masks.to(image.dtype), union.to(image.dtype), field, background,
                      reach.to(image.dtype), head.to(image.dtype), body.to(image.dtype))


# The least share of a pixel that a part must show to decide where the pixel samples the source.
SHOWN_FLOOR = 1e-3


# Above this many pixels the target's body and head region (smooth masks) are drawn on every
# other pixel and upsampled: a quarter of the memory, the same gates to a pixel.
BODY_FULL = 65_536


def _body_and_head(kp_t, ok_t, unit_t, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[B,1,H,W] each: the target's body drawn from its pose, and what lies within HEAD_MARGIN
    body units of its head circle."""
    b, dev = kp_t.shape[0], kp_t.device
    hs, ws = (h, w) if h * w <= BODY_FULL else ((h + 1) // 2, (w + 1) // 2)
    ys, xs = torch.meshgrid(torch.linspace(0, h - 1, hs, device=dev), torch.linspace(0, w - 1, ws, device=dev),
                            indexing="ij")
    sd_t = signed_distances(kp_t, ok_t, unit_t, torch.stack([xs, ys], -1).reshape(-1, 2))   # [B,P,n]
    body = pose_silhouette(sd_t, unit_t).view(b, 1, hs, ws)
    near = pose_silhouette(sd_t[:, HEAD:HEAD + 1] - HEAD_MARGIN * unit_t[:, None, None], unit_t).view(b, 1, hs, ws)
    if (hs, ws) != (h, w):
        body, near = (F.interpolate(t, size=(h, w), mode="bilinear", align_corners=True) for t in (body, near))
    return body, near


def _with_hips(ok: torch.Tensor) -> torch.Tensor:
    """Presence with a virtual hip counted as present where both shoulders are."""
    ok = ok.clone()
    ok[:, [R_HIP, L_HIP]] |= (ok[:, R_SH] & ok[:, L_SH])[:, None]
    return ok


def warp_only(image: torch.Tensor, kp_src: torch.Tensor, kp_tgt: torch.Tensor,
              silhouette: torch.Tensor | None = None, background: torch.Tensor | None = None) -> torch.Tensor:
    """The untrained floor of every table: the source warped part by part into the target pose
    over its own background. [B,3,H,W] -> [B,3,H,W]."""
    return part_warp(image, kp_src, kp_tgt, silhouette, background).warped


def pose_mask(kp: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """[B,18,2] pose -> [B,1,H,W] in [0,1]: the person's silhouette drawn from the pose alone."""
    kp = kp.to(torch.float32)
    ok = present(kp)
    kp = with_virtual_hips(kp, ok, max(h, w))
    ok = _with_hips(ok)
    unit = body_unit(kp, max(h, w))
    sd = signed_distances(kp, ok, unit, pixel_grid(h, w, kp.device))
    return pose_silhouette(sd, unit).reshape(-1, 1, h, w)
