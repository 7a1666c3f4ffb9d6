"""The warp's geometry from two poses: a view-independent body unit, virtual hips, each part's
transform from the target's layout back into the source (what ``grid_sample`` needs), the mirror
limb for a limb the source hides, and the painting order of the parts.

Keypoints are ``[B, 18, 2]`` (x, y) pixels with NaN for a missing joint (poseshift.pose.heatmaps).
Every function here is batched tensors on the input's device, with loops only over the parts.
"""
from __future__ import annotations

import torch

NOSE, NECK, R_SH, R_EL, R_WR, L_SH, L_EL, L_WR, R_HIP, R_KN, R_AN, L_HIP, L_KN, L_AN = range(14)
R_EYE, L_EYE, R_EAR, L_EAR = range(14, 18)
FACE = (NOSE, R_EYE, L_EYE, R_EAR, L_EAR)

# (name, joints, radius in body units, mirror part's index in LIMB_PARTS, arm?)
LIMB_PARTS = (
    ("r_thigh", (R_HIP, R_KN), 0.20, 2, False), ("r_shin", (R_KN, R_AN), 0.15, 3, False),
    ("l_thigh", (L_HIP, L_KN), 0.20, 0, False), ("l_shin", (L_KN, L_AN), 0.15, 1, False),
    ("r_upper_arm", (R_SH, R_EL), 0.14, 6, True), ("r_forearm", (R_EL, R_WR), 0.12, 7, True),
    ("l_upper_arm", (L_SH, L_EL), 0.14, 4, True), ("l_forearm", (L_EL, L_WR), 0.12, 5, True),
)
PARTS: tuple[str, ...] = ("torso", *(p[0] for p in LIMB_PARTS), "head")
NUM_PARTS = len(PARTS)
HEAD = NUM_PARTS - 1

# Not given anywhere (the warp is not in the paper); chosen on deepfashion-mini's *train* pairs:
TRUNK_UNIT = 0.55    # body unit = max(shoulder width, this x neck-to-hip): survives a side view
TORSO_WIDTH = 0.45   # a torso is drawn at least this x its neck-to-hip length wide (side views)
HIP_DROP = 1.3       # a missing hip sits this many body units below its shoulder
MIRROR_BELOW = 0.35  # a source limb shorter than this x its mirror's (hidden, foreshortened) uses the mirror
STRETCH = (0.4, 2.5)  # a limb's length ratio is kept within these multiples of the body's scale ratio
HEAD_SCALE = (0.75, 1.33)  # and the head's scale within these
HEAD_TURN = 0.35     # radians: the most a head is turned relative to its source (about 20 degrees)
AWAY = -0.2          # facing() below this: the person shows the camera their back
HAIRLINE = 0.35      # the hairline sits this x the neck-to-face-centre line above the face's centre
LEG_RUN = 0.9        # a leg below the photo's edge is continued from this share of what the photo shows of it
FOLD = 0.25          # a back view's head: what lies below the hairline samples this x as far above it


def present(kp: torch.Tensor) -> torch.Tensor:
    return ~torch.isnan(kp).any(-1)


def body_unit(kp: torch.Tensor, size: int) -> torch.Tensor:
    """[B] a length that scales with the person and not with the view: the larger of the shoulder
    width and TRUNK_UNIT x the neck-to-hip distance (a side view's shoulders nearly meet), either
    alone where the other is missing, else a tenth of the frame."""
    sw = (kp[:, L_SH] - kp[:, R_SH]).norm(dim=-1)
    hips = torch.nanmean(kp[:, [R_HIP, L_HIP]], dim=1)
    trunk = TRUNK_UNIT * (hips - kp[:, NECK]).norm(dim=-1)
    unit = torch.where(torch.isnan(sw), trunk, torch.where(torch.isnan(trunk), sw, torch.maximum(sw, trunk)))
    return torch.where(torch.isnan(unit) | (unit < 2), torch.full_like(unit, 0.1 * size), unit)


def with_virtual_hips(kp: torch.Tensor, ok: torch.Tensor, size: int) -> torch.Tensor:
    """Each hip missing in ``ok`` replaced by a point HIP_DROP body units below its shoulder, down
    the image (an upper-body photo keeps its torso)."""
    kp = kp.clone()
    unit = body_unit(kp, size)
    down = torch.tensor([0.0, 1.0], device=kp.device)
    for hip, sh in ((R_HIP, R_SH), (L_HIP, L_SH)):
        virtual = kp[:, sh] + HIP_DROP * unit[:, None] * down
        kp[:, hip] = torch.where(ok[:, hip, None], kp[:, hip], virtual)
    return kp


def axis_map(a_t, b_t, a_s, b_s, across):
    """Target -> source map of a segment [B,2] each: along it the length ratio, across it the
    ratio ``across`` [B]; no shear and no reflection (a limb, or a torso along its spine)."""
    u_t, u_s = b_t - a_t, b_s - a_s
    len_t = u_t.norm(dim=-1, keepdim=True).clamp_min(1.0)
    len_s = u_s.norm(dim=-1, keepdim=True).clamp_min(1.0)
    e_t, e_s = u_t / len_t, u_s / len_s
    n_t = torch.stack([-e_t[:, 1], e_t[:, 0]], -1)
    n_s = torch.stack([-e_s[:, 1], e_s[:, 0]], -1)
    m = (len_s / len_t)[..., None] * e_s[:, :, None] * e_t[:, None, :] \
        + across[:, None, None] * n_s[:, :, None] * n_t[:, None, :]
    return m, a_s - (m @ a_t[..., None])[..., 0]


def torso_width(kp: torch.Tensor) -> torch.Tensor:
    """[B] the torso's drawn width: the shoulder width (none where a shoulder is missing), at least
    TORSO_WIDTH x neck-to-hip, so a side view keeps a plausible body rather than a sliver. ``kp``
    with NaN for missing joints (virtual hips given)."""
    sw = (kp[:, L_SH] - kp[:, R_SH]).norm(dim=-1).nan_to_num(0.0)
    mid = (kp[:, R_HIP] + kp[:, L_HIP]) / 2
    trunk = TORSO_WIDTH * (mid - kp[:, NECK]).norm(dim=-1).nan_to_num(0.0)
    return torch.maximum(sw, trunk).clamp_min(1.0)


def facing(kp: torch.Tensor, unit: torch.Tensor) -> torch.Tensor:
    """[B] in [-1, 1]: +1 faces the camera (right shoulder on the image's left), -1 shows the back,
    near 0 a side view."""
    return ((kp[:, L_SH, 0] - kp[:, R_SH, 0]) / unit).nan_to_num(1.0).clamp(-1, 1)


def turned(kp_s: torch.Tensor, kp_t: torch.Tensor, units: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """[B] bool: one pose shows the body's front and the other its back (``units``: both body units)."""
    f_s, f_t = facing(kp_s, units[0]), facing(kp_t, units[1])
    return ((f_s < AWAY) & (f_t > -AWAY)) | ((f_s > -AWAY) & (f_t < AWAY))


def depth_order(kp_t: torch.Tensor, unit_t: torch.Tensor) -> torch.Tensor:
    """[B, P] a depth key per part in the target (larger is nearer the camera), from the facing
    direction: a frontal person's arms and legs are in front of the torso, a back view's arms
    behind it; in a side view the near side's limbs are in front of the torso and the far side's
    behind (the near side is the one the nose points away from: facing image-right shows the
    right side). The head is always in front; a forearm is in front of its upper arm."""
    b = kp_t.shape[0]
    f = facing(kp_t, unit_t)
    look = torch.nanmean(kp_t[:, list(FACE), 0], 1) - kp_t[:, NECK, 0]          # + : faces image-right
    look = look.nan_to_num(0.0)
    right_near = (look > 0).float() * 2 - 1                                     # +1: right side near
    side = (f.abs() < 0.35).float()
    keys = [torch.zeros(b, device=kp_t.device)]
    for name, _, _, _, arm in LIMB_PARTS:
        sign = right_near if name.startswith("r_") else -right_near
        front = torch.where(f > 0, 1.0, -1.0) if arm else torch.full_like(f, 0.5)
        key = side * (0.8 * sign) + (1 - side) * front
        keys.append(key + (0.1 if name.endswith(("forearm", "shin")) else 0.0))
    keys.append(torch.full((b,), 3.0, device=kp_t.device))
    return torch.stack(keys, 1)


def face_centre(kp: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """[B,2] the mean of the present face joints (zeros where none is)."""
    f = ok[:, list(FACE)].float()
    return (f[..., None] * kp.nan_to_num(0.0)[:, list(FACE)]).sum(1) / f.sum(1, keepdim=True).clamp_min(1)


def head_fold(kp_s: torch.Tensor, kp_t: torch.Tensor, ok_s: torch.Tensor):
    """Where the target shows its back and the source does not, the head must show no face: a
    face drawn on the back of a head reads as a person facing the camera (to a viewer and to a pose
    detector, which then swaps left and right). -> (fold [B] bool, hairline [B,2], up [B,2] unit
    vector in the source): the head's source points below the hairline are folded above it, FOLD x
    as far, so the back of the head is the source's hair and its outline stays the source's.
    Each head's facing is its own (shows_face), not the shoulders'."""
    ok_t = present(kp_t)
    cen = face_centre(kp_s, ok_s)
    u = cen - kp_s[:, NECK].nan_to_num(0.0)
    length = u.norm(dim=-1, keepdim=True)
    up = u / length.clamp_min(1.0)
    has_face = ok_s[:, list(FACE)].any(1) & ok_s[:, NECK]
    # The target's head seen from behind (no face of its own: see shows_face) and the source's
    # showing a face: a three-quarter view that shows a face is never folded.
    back_t = ~shows_face(kp_t, ok_t)
    fold = back_t & shows_face(kp_s, ok_s) & has_face & (length[:, 0] >= 1.0)
    return fold, cen + HAIRLINE * length * up, up


def fold_head(src: torch.Tensor, fold: torch.Tensor, hairline: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """``src`` [B,N,2] the head's source points; below the hairline (along ``up``) folded above it
    where ``fold`` [B] (see head_fold)."""
    below = ((src - hairline[:, None]) * up[:, None]).sum(-1, keepdim=True).clamp(max=0)   # [B,N,1] <= 0
    return torch.where(fold[:, None, None], src - (1 + FOLD) * below * up[:, None], src)


def _exit(p: torch.Tensor, d: torch.Tensor, frame: tuple[int, int]) -> torch.Tensor:
    """[B] how far the ray from ``p`` [B,2] along the unit ``d`` [B,2] stays in an H x W frame
    (negative where ``p`` is outside it)."""
    h, w = frame
    lim = torch.tensor([w - 1.0, h - 1.0], device=p.device)
    t = torch.where(d > 1e-6, (lim - p) / d.clamp_min(1e-6),
                    torch.where(d < -1e-6, -p / d.clamp(max=-1e-6), torch.full_like(p, 1e9)))
    return t.amin(-1).nan_to_num(-1.0)


def continued_legs(s0: torch.Tensor, ok_s: torch.Tensor, unit_s: torch.Tensor, frame: tuple[int, int]):
    """Legs the photo cuts off (a crop at the thigh): each thigh and shin the source lacks, with
    no mirror to take it from, is drawn from the part of the leg the photo does show (the trouser or
    skirt goes on down): the thigh from the run below the hip along the spine to the photo's edge,
    the shin from the run below the knee, or the thigh run's lower half where no knee is shown.
    ``ok_s``: the joints the photo shows (a virtual hip is no sign that legs are in the photo).
    -> {limb index in LIMB_PARTS: (ok [B], a [B,2], b [B,2], part [B])}: source segments (pixels)
    and the source part whose share holds those pixels (the torso's below a hip; the thigh's below
    a knee)."""
    out = {}
    spine = (s0[:, R_HIP] + s0[:, L_HIP]) / 2 - s0[:, NECK]
    down = spine / spine.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    for thigh, (hip, knee) in ((0, (R_HIP, R_KN)), (2, (L_HIP, L_KN))):
        run = LEG_RUN * _exit(s0[:, hip], down, frame)
        ok = ok_s[:, hip] & ok_s[:, NECK] & (run >= 0.25 * unit_s)
        a, b = s0[:, hip], s0[:, hip] + run[:, None] * down
        torso = torch.zeros_like(ok, dtype=torch.long)
        out[thigh] = (ok & ~ok_s[:, knee], a, b, torso)
        u = s0[:, knee] - s0[:, hip]
        shin_dir = torch.where(ok_s[:, knee, None], u / u.norm(dim=-1, keepdim=True).clamp_min(1e-6), down)
        shin_run = LEG_RUN * _exit(s0[:, knee], shin_dir, frame)
        knee_ok = ok_s[:, knee] & ok_s[:, hip] & (shin_run >= 0.25 * unit_s)
        a2 = torch.where(knee_ok[:, None], s0[:, knee], (a + b) / 2)
        b2 = torch.where(knee_ok[:, None], s0[:, knee] + shin_run[:, None] * shin_dir, b)
        out[thigh + 1] = (knee_ok | (ok & ~ok_s[:, knee]), a2, b2, torch.where(knee_ok, 1 + thigh, torso))
    return out


HEAD_FIT = (NOSE, NECK, R_EYE, L_EYE, R_EAR, L_EAR)


HEAD_FIT = (NOSE, NECK, R_EYE, L_EYE, R_EAR, L_EAR)


def torso_mirror(mat: torch.Tensor, shift: torch.Tensor, s0: torch.Tensor):
    """The torso's map [B,2,2], [B,2] (target -> source) followed by the reflection about the
    source's spine (neck to mid-hip): the torso's other side, which fills where an arm lay over
    the torso in the photo (masks.torso_without_arms)."""
    a = s0[:, NECK]
    e = (s0[:, R_HIP] + s0[:, L_HIP]) / 2 - a
    e = e / e.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    refl = 2 * e[:, :, None] * e[:, None, :] - torch.eye(2, device=mat.device)
    return refl @ mat, a + (refl @ (shift - a)[..., None])[..., 0]


def head_similarity(kp_s: torch.Tensor, kp_t: torch.Tensor, ok_s: torch.Tensor, ok_t: torch.Tensor,
                    scale: torch.Tensor):
    """The head moves as one piece, placed by the whole head (as posewarp moves its head segment
    and Deformable GAN fits its head to the face and shoulders): a similarity (turn, scale, shift;
    no shear, no reflection) from the target's head to the source's. Chosen on deepfashion-mini's
    train pairs among a full least-squares fit and its parts (docs/faces.md):

    - shift: each pose's face centre (the mean of its face joints) meets the other's;
    - turn: the least-squares rotation of every HEAD_FIT keypoint (nose, neck, eyes, ears) both
      poses show, about their centres, within HEAD_TURN;
    - scale: the ratio of the neck-to-face-centre lines, within HEAD_SCALE of the body's ``scale``
      [B] (a fitted scale shrinks a head seen from the side, whose face joints bunch up).

    Face and hair move with it. -> mat [B,2,2], shift [B,2] (target -> source), ok [B]."""
    idx, face = list(HEAD_FIT), list(FACE)
    shared = ok_s & ok_t
    w = shared[:, idx].float()                                                    # [B,K]
    ps, pt = kp_s[:, idx].nan_to_num(0.0), kp_t[:, idx].nan_to_num(0.0)
    n = w.sum(1, keepdim=True).clamp_min(1.0)
    mu_s, mu_t = (w[..., None] * ps).sum(1) / n, (w[..., None] * pt).sum(1) / n
    xs, xt = (ps - mu_s[:, None]) * w[..., None], (pt - mu_t[:, None]) * w[..., None]
    dot = (xt * xs).sum((1, 2))
    cross = (xt[..., 0] * xs[..., 1] - xt[..., 1] * xs[..., 0]).sum(1)
    fitted = torch.atan2(cross, dot)
    # Each pose's own face centre: measured better than the centre of the shared face joints
    # (head_ssim 0.348 against 0.325 on the train pairs, docs/faces.md).
    cen_s, cen_t = face_centre(kp_s, ok_s), face_centre(kp_t, ok_t)
    u_s, u_t = cen_s - kp_s[:, NECK].nan_to_num(0.0), cen_t - kp_t[:, NECK].nan_to_num(0.0)
    # Under two shared keypoints the fit has no turn: the turn of the neck-to-face-centre line.
    line = torch.atan2(u_s[:, 1], u_s[:, 0]) - torch.atan2(u_t[:, 1], u_t[:, 0])
    turn = torch.where(shared[:, idx].sum(1) >= 2, fitted, line)
    turn = ((turn + torch.pi) % (2 * torch.pi) - torch.pi).clamp(-HEAD_TURN, HEAD_TURN)
    s_h = (u_s.norm(dim=-1) / u_t.norm(dim=-1).clamp_min(1.0)).clamp(HEAD_SCALE[0] * scale, HEAD_SCALE[1] * scale)
    cos, sin = torch.cos(turn) * s_h, torch.sin(turn) * s_h
    m = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    t = cen_s - (m @ cen_t[..., None])[..., 0]
    ok = ok_s[:, face].any(1) & ok_t[:, face].any(1) & ok_s[:, NECK] & ok_t[:, NECK]
    return m, t, ok


def shows_face(kp: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """[B] bool: the head shows a face (front, three-quarter or profile), decided from the head
    itself: the nose and an eye. A back view's annotation has the ears at most; a back view whose
    head turns to a profile has the nose and the near eye, and shows that face."""
    return ok[:, NOSE] & (ok[:, R_EYE] | ok[:, L_EYE])


def part_transforms(kp_s: torch.Tensor, kp_t: torch.Tensor, ok_s: torch.Tensor, ok_t: torch.Tensor,
                    size: int, frame: tuple[int, int] | None = None, shown: torch.Tensor | None = None,
                    units: tuple[torch.Tensor, torch.Tensor] | None = None):
    """Each part's map from the target's layout to the source, and where it is valid.

    -> mat [B,P,2,2], shift [B,P,2], valid [B,P], source part index [B,P] (a limb the source
    hides or lacks is taken from its mirror, a leg the photo cuts off from what it shows of it:
    ``frame`` (H, W), the source photo's size, square ``size`` when None; ``shown`` [B,18], the
    joints the source shows, ``ok_s`` when None), with ``kp_*`` already given virtual hips.
    -> also continued [B,P]: the legs continued from the photo's run of leg. ``units``: both
    poses' body units when computed before."""
    unit_s, unit_t = units if units is not None else (body_unit(kp_s, size), body_unit(kp_t, size))
    scale = (unit_s / unit_t).nan_to_num(1.0).clamp(0.25, 4.0)
    # Front to back (or back to front): the body's surface is mirrored about its own axis, so each
    # side of a limb and of the torso keeps its side of the body (an arm's inner edge stays by the
    # torso; the person's right half of the shirt stays on their right).
    sign = torch.where(turned(kp_s, kp_t, (unit_s, unit_t)), -1.0, 1.0)
    s0, t0 = kp_s.nan_to_num(0.0), kp_t.nan_to_num(0.0)
    mats, shifts, valid, src_part = [], [], [], []

    # Torso: along the spine (neck -> mid-hip) the length ratio, across it the ratio of the torso
    # widths, each at least TORSO_WIDTH x the spine: a side view keeps a body, not a sliver.
    mid_s, mid_t = (s0[:, R_HIP] + s0[:, L_HIP]) / 2, (t0[:, R_HIP] + t0[:, L_HIP]) / 2
    across = (torso_width(kp_s) / torso_width(kp_t)).clamp(0.25, 4.0) * sign
    m, t = axis_map(t0[:, NECK], mid_t, s0[:, NECK], mid_s, across)
    torso_ok = lambda ok: ok[:, NECK] & ok[:, R_HIP] & ok[:, L_HIP] & (ok[:, R_SH] | ok[:, L_SH])  # noqa: E731
    mats.append(m)
    shifts.append(t)
    valid.append(torso_ok(ok_s) & torso_ok(ok_t))
    src_part.append(torch.zeros_like(unit_s, dtype=torch.long))

    lens_s = torch.stack([(s0[:, b] - s0[:, a]).norm(dim=-1) * (ok_s[:, a] & ok_s[:, b])
                          for _, (a, b), _, _, _ in LIMB_PARTS], 1)            # [B, 8]
    legs = continued_legs(s0, ok_s if shown is None else shown, unit_s, frame or (size, size))
    continued = [torch.zeros_like(unit_s, dtype=torch.bool)]
    for k, (_, (ja, jb), _, mirror, _) in enumerate(LIMB_PARTS):
        ma, mb = LIMB_PARTS[mirror][1]
        own_ok = ok_s[:, ja] & ok_s[:, jb]
        mirror_ok = ok_s[:, ma] & ok_s[:, mb]
        hidden = ~own_ok | (lens_s[:, k] < MIRROR_BELOW * lens_s[:, mirror])
        use_mirror = hidden & mirror_ok
        a_s = torch.where(use_mirror[:, None], s0[:, ma], s0[:, ja])
        b_s = torch.where(use_mirror[:, None], s0[:, mb], s0[:, jb])
        cont, part = torch.zeros_like(own_ok), torch.zeros_like(unit_s, dtype=torch.long)
        if k in legs:           # no leg of its own nor a mirror: the run of leg the photo shows
            cont, a_c, b_c, part = legs[k]
            cont = cont & ~own_ok & ~mirror_ok
            a_s, b_s = torch.where(cont[:, None], a_c, a_s), torch.where(cont[:, None], b_c, b_s)
        # Keep the length ratio within STRETCH of the body's scale (a foreshortened source limb
        # is not stretched into a smear): move the source's far end along the limb.
        u = b_s - a_s
        len_s = u.norm(dim=-1).clamp_min(1.0)
        len_t = (t0[:, jb] - t0[:, ja]).norm(dim=-1).clamp_min(1.0)
        want = (len_s / len_t).clamp(STRETCH[0] * scale, STRETCH[1] * scale) * len_t
        b_s = a_s + u / len_s[:, None] * want[:, None]
        m, t = axis_map(t0[:, ja], t0[:, jb], a_s, b_s, scale * sign)
        mats.append(m)
        shifts.append(t)
        valid.append(ok_t[:, ja] & ok_t[:, jb] & (own_ok | mirror_ok | cont))
        src_part.append(torch.where(cont, part, torch.where(use_mirror, 1 + mirror, 1 + k)))
        continued.append(cont)

    # Head: one similarity fitted to every head keypoint both poses show (see head_similarity).
    m, t, head_ok = head_similarity(kp_s, kp_t, ok_s, ok_t, scale)
    mats.append(m)
    shifts.append(t)
    valid.append(head_ok)
    src_part.append(torch.full_like(unit_s, HEAD, dtype=torch.long))

    mat, shift = torch.stack(mats, 1), torch.stack(shifts, 1)
    valid = torch.stack(valid, 1)
    good = valid & torch.isfinite(mat).flatten(2).all(-1) & torch.isfinite(shift).all(-1)
    eye = torch.eye(2, device=kp_s.device).expand_as(mat)
    mat = torch.where(good[..., None, None], mat, eye)
    shift = torch.where(good[..., None], shift, torch.zeros_like(shift))
    continued.append(torch.zeros_like(unit_s, dtype=torch.bool))
    return mat, shift, good, torch.stack(src_part, 1), torch.stack(continued, 1)
