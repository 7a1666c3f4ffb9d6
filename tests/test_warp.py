"""The pose-guided part warp: pixels land on the target limb, an identity pose gives the image back,
a side view keeps its torso, a hidden limb comes from its mirror, hair travels with the head, the
near limb is painted over the torso, the background is the source's own, the batch is one call."""
import numpy as np
import pytest
import torch

from poseshift.warp import NUM_PARTS, PARTS, fill_background, part_warp, pose_mask, source_parts, warp_only

S = 64


def standing(dx: float = 0.0) -> torch.Tensor:
    """A frontal person in a 64x64 frame, arms hanging, [18, 2] (x, y)."""
    kp = {
        0: (32, 10), 1: (32, 18), 2: (24, 18), 3: (22, 28), 4: (21, 37), 5: (40, 18), 6: (42, 28), 7: (43, 37),
        8: (27, 38), 9: (27, 48), 10: (27, 58), 11: (37, 38), 12: (37, 48), 13: (37, 58),
        14: (30, 9), 15: (34, 9), 16: (28, 10), 17: (36, 10),
    }
    return torch.tensor([[x + dx, y] for _, (x, y) in sorted(kp.items())], dtype=torch.float32)


def side_view(facing_right: bool = True) -> torch.Tensor:
    """The same person seen from the side: shoulders and hips nearly meet, the face to one side."""
    kp = standing().clone()
    sign = 1 if facing_right else -1
    for r, l in ((2, 5), (3, 6), (4, 7), (8, 11), (9, 12), (10, 13)):
        kp[r, 0] = 32 - sign * 1.5
        kp[l, 0] = 32 + sign * 1.5
    kp[0, 0] = 32 + sign * 5
    kp[[14, 15], 0] = 32 + sign * 4
    kp[16 if facing_right else 17] = float("nan")   # the far ear is hidden
    kp[17 if facing_right else 16] = torch.tensor([32.0, 10.0])
    return kp


def textured() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(1, 3, S, S, generator=g) * 2 - 1


def paint_segment(img, a, b, colour, width=1):
    for t in np.linspace(0, 1, 40):
        x, y = a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t
        img[0, :, int(round(y)) - width : int(round(y)) + width + 1, int(round(x)) - width : int(round(x)) + width + 1] = \
            torch.tensor(colour)[:, None, None]


def test_an_identity_pose_gives_back_the_image_where_the_body_is():
    img, kp = textured(), standing()[None]
    sil = pose_mask(kp, S, S)
    bg = torch.zeros_like(img)
    r = part_warp(img, kp, kp, sil, bg)
    assert r.warped.shape == (1, 3, S, S) and r.masks.shape == (1, NUM_PARTS, S, S) and r.union.shape == (1, 1, S, S)
    assert (r.union[0, 0] > 0.9).sum() > 300  # the torso, limbs and head cover a good share of the frame
    # Every part samples each pixel from where it is: the image itself where the person is, the
    # background elsewhere, blended by the silhouette (a faint edge may come out fainter).
    solid = sil > 0.3
    assert (r.union - sil)[solid].abs().max() < 0.05 and (r.union <= sil + 0.05).all()
    assert torch.allclose(r.warped[0], r.union[0] * img[0] + (1 - r.union[0]) * bg[0], atol=1e-3)


def test_where_no_part_shows_a_pixel_samples_where_it_is():
    """Far from the person the sampling field is the identity, not a part's faint tail (a share
    of 1e-9 deciding it is a rounding question that onnxruntime answers otherwise: the flow G,
    asking for the person there, sampled the one or the other)."""
    img, kp = textured(), standing()[None]
    r = part_warp(img, kp, standing(dx=6.0)[None])
    ys, xs = torch.meshgrid(torch.arange(S), torch.arange(S), indexing="ij")
    identity = torch.stack([xs, ys], -1).float() * 2 / (S - 1) - 1
    empty = r.masks.amax(1)[0] <= 1e-3
    assert empty.sum() > 500 and (r.union[0, 0][empty] < 1e-3).all()
    assert torch.allclose(r.field[0][empty], identity[empty], atol=1e-6)
    assert (r.field[0][~empty] - identity[~empty]).abs().amax() > 0.1  # the person is moved


def test_a_limbs_pixels_land_on_the_target_limb():
    src = standing()
    tgt = src.clone()
    tgt[4] = torch.tensor([10.0, 28.0])  # right forearm raised sideways: elbow (22, 28) -> wrist (10, 28)
    img = torch.full((1, 3, S, S), 1.0)  # white
    paint_segment(img, (22, 28), (21, 37), [1.0, -1.0, -1.0])  # the source's right forearm, red
    out = warp_only(img, src[None], tgt[None])[0]
    red = (out[0] > 0.5) & (out[1] < -0.5)
    ys, xs = torch.nonzero(red, as_tuple=True)
    assert len(ys) > 10
    # Red pixels sit along the new forearm (y ~ 28, x between 10 and 22), none at the old place.
    assert (ys.float() - 28).abs().max() <= 3 and xs.min() >= 8 and xs.max() <= 23
    assert not red[33:38, 19:24].any()


def test_a_joint_missing_in_the_target_drops_only_its_own_parts():
    img, kp = textured(), standing()
    full = part_warp(img, kp[None], (kp + 1)[None]).masks[0]
    assert (full.flatten(1).amax(1) > 0.5).all(), "every part is drawn when every joint is present"
    tgt = kp + 1
    tgt[4] = float("nan")                                 # right wrist
    masks = part_warp(img, kp[None], tgt[None]).masks[0]
    for k in range(NUM_PARTS):
        if PARTS[k] == "r_forearm":
            assert masks[k].abs().max() == 0
        else:
            assert torch.allclose(masks[k], full[k], atol=1e-5), PARTS[k]


def test_a_limb_the_source_lacks_is_taken_from_its_mirror():
    src, tgt = standing(), standing()
    src[7] = float("nan")                                  # the source shows no left wrist
    img = torch.full((1, 3, S, S), 1.0)
    paint_segment(img, (22, 28), (21, 37), [-1.0, -1.0, 1.0], 2)  # the right forearm is blue
    r = part_warp(img, src[None], tgt[None])
    k = PARTS.index("l_forearm")
    assert r.masks[0, k].max() > 0.5, "the target's left forearm is not left empty"
    # Along the target's left forearm (elbow (42, 28) to wrist (43, 37)), the right forearm's blue.
    out = r.warped[0]
    along = torch.stack([out[:, int(28 + 9 * t), int(42 + t)] for t in np.linspace(0.2, 0.8, 5)])
    assert (along[:, 2] > 0.5).all() and (along[:, 0] < -0.5).all()


def test_a_side_view_keeps_a_torso_at_least_half_as_wide_as_its_front_view():
    img, front = textured(), standing()
    torso = PARTS.index("torso")

    def width(tgt):
        m = part_warp(img, front[None], tgt[None]).masks[0, torso] > 0.5
        return m[25:35].sum(1).float().mean()                # rows across the chest and belly
    assert width(side_view()) >= 0.5 * width(front)
    assert width(side_view(facing_right=False)) >= 0.5 * width(front)


def test_a_missing_shoulder_keeps_the_torso_its_size():
    kp = standing()
    torso = PARTS.index("torso")
    full = pose_mask(kp[None], S, S)
    one = kp.clone()
    one[5] = float("nan")                                   # no left shoulder
    m = pose_mask(one[None], S, S)
    assert m.sum() <= full.sum() * 1.05 and m[0, 0, :, 50:].max() < 0.5   # nothing reaches far out
    masks = part_warp(textured(), one[None], one[None]).masks[0, torso]
    assert (masks > 0.5).sum() <= (part_warp(textured(), kp[None], kp[None]).masks[0, torso] > 0.5).sum() * 1.05


def test_hair_outside_the_head_travels_with_the_head():
    kp = standing()
    img = torch.full((1, 3, S, S), 1.0)
    sil = pose_mask(kp[None], S, S)
    img[0, :, 1:6, 24:41] = torch.tensor([-1.0, -1.0, -1.0])[:, None, None]   # black hair above the head disc
    sil[0, 0, 1:6, 24:41] = 1.0
    tgt = kp.clone()
    tgt[[0, 14, 15, 16, 17]] += torch.tensor([6.0, 0.0])                       # the head moves right
    out = part_warp(img, kp[None], tgt[None], sil, torch.ones_like(img)).warped[0]
    black = (out < -0.5).all(0)
    ys, xs = torch.nonzero(black, as_tuple=True)
    assert len(xs) > 40, "the hair is carried, not cut at the head's disc"
    assert xs.float().mean() > 32 + 3 and ys.max() < 9        # moved with the head, still above it


def test_the_near_arm_is_painted_over_the_torso_and_the_far_arm_behind_it():
    src = standing()
    img = torch.full((1, 3, S, S), 1.0)
    img[0, :, 16:40, 22:43] = torch.tensor([0.0, 1.0, 0.0])[:, None, None].neg() + 0.0  # dark torso area
    paint_segment(img, (24, 18), (22, 28), [1.0, -1.0, -1.0], 2)    # right arm red
    paint_segment(img, (22, 28), (21, 37), [1.0, -1.0, -1.0], 2)
    paint_segment(img, (40, 18), (42, 28), [-1.0, -1.0, 1.0], 2)    # left arm blue
    paint_segment(img, (42, 28), (43, 37), [-1.0, -1.0, 1.0], 2)
    for facing_right, near, far in ((True, 0, 2), (False, 2, 0)):
        tgt = side_view(facing_right)
        # Both arms swing forward across the torso's middle (the torso spans x 29.5..34.5 and more).
        for sh, el, wr in ((2, 3, 4), (5, 6, 7)):
            tgt[el] = tgt[sh] + torch.tensor([0.0, 10.0])
            tgt[wr] = tgt[el] + torch.tensor([0.0, 9.0])
        out = warp_only(img, src[None], tgt[None])[0]
        centre = out[:, 24:34, 31:34].mean((1, 2))           # where both arms overlap the torso
        assert centre[near] > 0.5 and centre[far] < 0.5, (facing_right, centre)


def test_the_background_is_the_sources_own_with_the_person_filled_in():
    g = torch.Generator().manual_seed(1)
    scene = torch.linspace(-1, 1, S)[None, None, None].expand(1, 3, S, S).clone()  # a left-to-right ramp
    scene[:, 2] = 0.5                                                                # and a blue level
    kp = standing()
    sil = pose_mask(kp[None], S, S)
    img = scene * (1 - sil) + sil * torch.tensor([1.0, 1.0, -1.0])[None, :, None, None]   # a yellow person
    img = img + 0.01 * torch.randn(img.shape, generator=g)
    tgt = standing(dx=14)                                     # the person steps right
    out = warp_only(img, kp[None], tgt[None], sil)[0]
    # Where the person stood and no longer stands, the ramp is filled in, not yellow, not flat.
    hole = (sil[0, 0] > 0.5) & (pose_mask(tgt[None], S, S)[0, 0] < 0.01)
    assert hole.sum() > 50
    assert (out[2][hole] < -0.5).float().mean() < 0.05        # no yellow left behind
    assert (out[0][hole] - scene[0, 0][hole]).abs().mean() < 0.2
    far = (pose_mask(kp[None], S, S)[0, 0] < 1e-3) & (pose_mask(tgt[None], S, S)[0, 0] < 1e-3)
    assert torch.allclose(out[:, far], img[0][:, far], atol=0.05)   # the scene itself elsewhere
    filled = fill_background(img, sil)
    assert filled.shape == img.shape and (filled[0, 2][hole] > -0.5).all()


def test_the_batch_is_one_call_equal_to_each_sample_alone():
    img = torch.cat([textured(), -textured(), textured().flip(-1)])
    src = torch.stack([standing(), standing(3), side_view()])
    tgt = torch.stack([standing(2), side_view(False), standing(1)])
    tgt[1, 7] = float("nan")
    batched = part_warp(img, src, tgt)
    for i in range(3):
        one = part_warp(img[i : i + 1], src[i : i + 1], tgt[i : i + 1])
        assert torch.allclose(batched.warped[i], one.warped[0], atol=1e-5)
        assert torch.allclose(batched.masks[i], one.masks[0], atol=1e-5)


def test_source_parts_computed_once_give_the_same_warp_for_every_target():
    img, src = textured(), standing()[None]
    h, w = img.shape[2:]
    sil = pose_mask(src, h, w) * 0.9
    parts = source_parts(src, h, w, sil)
    for tgt in (standing(3), side_view(), side_view(False)):
        fresh = part_warp(img, src, tgt[None], sil)
        reused = part_warp(img, src, tgt[None], sil, source=parts)
        assert torch.equal(fresh.warped, reused.warped) and torch.equal(fresh.field, reused.field)
    with pytest.raises(ValueError, match="source parts"):
        part_warp(img[:, :, :-2], src, src, source=parts)


def test_the_warp_passes_gradients_to_the_source_pixels():
    img = textured().requires_grad_(True)
    out = part_warp(img, standing()[None], standing(4)[None]).warped
    out.sum().backward()
    assert img.grad is not None and (img.grad.abs() > 0).sum() > 300


def test_bad_shapes_are_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="kp_tgt"):
        part_warp(textured(), standing()[None], standing()[None, :17])
    with pytest.raises(ValueError, match="silhouette"):
        part_warp(textured(), standing()[None], standing()[None], torch.ones(1, 1, 8, 8))


def back_view() -> torch.Tensor:
    """The standing person seen from behind: right and left change sides of the image, no face
    joints but the ears."""
    kp = standing().clone()
    for r, l in ((2, 5), (3, 6), (4, 7), (8, 11), (9, 12), (10, 13), (16, 17)):
        kp[[r, l], 0] = kp[[l, r], 0]
    kp[[0, 14, 15]] = float("nan")
    return kp


def test_a_back_view_shows_the_sources_hair_and_no_face():
    # Source: a frontal head, green hair above the brows (row 8), a red face from the eyes down.
    kp_s, kp_t = standing(), back_view()
    img = torch.zeros(1, 3, S, S)
    img[0, 1, :8] = 1.0
    img[0, 0, 9:16] = 1.0
    r = part_warp(img, kp_s[None], kp_t[None], pose_mask(kp_s[None], S, S), torch.zeros_like(img))
    head = (r.masks[0, PARTS.index("head")] > 0.5) & (r.union[0, 0] > 0.5)
    head[16:] = False                                                    # above the shoulders
    assert head.sum() > 20
    green, red = r.warped[0, 1][head], r.warped[0, 0][head]
    assert green.mean() > 0.5 and (red > 0.3).float().mean() < 0.1
    # Seen from the front, the same head shows its face.
    front = part_warp(img, kp_s[None], kp_s[None], pose_mask(kp_s[None], S, S), torch.zeros_like(img))
    assert (front.warped[0, 0, 8:14, 28:37] > 0.5).float().mean() > 0.8


def red_and_blue(rows: slice, red: slice, blue: slice) -> torch.Tensor:
    img = torch.zeros(1, 3, S, S)
    img[0, 0, rows, red] = 1.0
    img[0, 2, rows, blue] = 1.0
    return img


def test_front_to_back_mirrors_the_body_so_each_side_stays_on_its_side():
    # The person's right half of the shirt (the image's left in a front view) is red, the left
    # half blue; seen from behind, the person's right is on the image's right, and so is red.
    kp_s, kp_t = standing()[None], back_view()[None]
    sil = pose_mask(kp_s, S, S)
    img = red_and_blue(slice(18, 38), slice(24, 31), slice(33, 41))
    r = part_warp(img, kp_s, kp_t, sil, torch.zeros_like(img))
    left, right = r.warped[0, :, 22:34, 25:30], r.warped[0, :, 22:34, 34:39]
    assert right[0].mean() > 0.6 and right[2].mean() < 0.2
    assert left[2].mean() > 0.6 and left[0].mean() < 0.2
    # Front to front keeps the sides where they are.
    assert part_warp(img, kp_s, kp_s, sil, torch.zeros_like(img)).warped[0, 0, 22:34, 25:30].mean() > 0.6
    # A limb too: the right forearm's outer edge (red, the image's left seen from the front) is on
    # the outer side seen from behind (the image's right), its inner edge (blue) by the body.
    arm = red_and_blue(slice(29, 37), slice(18, 21), slice(22, 25))
    r = part_warp(arm, kp_s, kp_t, sil, torch.zeros_like(arm))
    outer, inner = r.warped[0, :, 29:37, 44:46], r.warped[0, :, 29:37, 40:43]
    assert outer[0].mean() > 0.25 and outer[2].max() < 0.1
    assert inner[2].mean() > 0.5 and inner[0].max() < 0.1


def test_legs_the_photo_cuts_off_are_drawn_from_what_it_shows_of_them():
    # The source photo ends at the thighs (no knees, no ankles, no mirror to take them from); its
    # trousers are blue down to the photo's edge. The target stands whole: its knees and ankles
    # are blue, and nothing is drawn away from the legs.
    kp_s = standing().clone()
    kp_s[[9, 10, 12, 13]] = float("nan")
    img = torch.zeros(1, 3, S, S)
    img[0, 0, 18:38, 24:41] = 1.0                                         # shirt: red
    img[0, 2, 38:, 23:42] = 1.0                                           # trousers: blue to the edge
    sil = torch.zeros(1, 1, S, S)
    sil[0, 0, 5:, 20:45] = 1.0
    kp_t = standing()
    r = part_warp(img, kp_s[None], kp_t[None], sil, torch.zeros_like(img))
    for j in (9, 10, 12, 13):
        x, y = kp_t[j].round().long().tolist()
        assert r.union[0, 0, y, x] > 0.5 and r.warped[0, 2, y, x] > 0.6, j
    assert r.union[0, 0, :, :12].max() < 0.1 and r.union[0, 0, :, 52:].max() < 0.1
    # A photo cut below the knees: the shins go on from the run below each knee (the thigh's
    # pixels), even where the target's shins point elsewhere.
    knees = standing().clone()
    knees[[10, 13]] = float("nan")
    kp_out = standing().clone()
    kp_out[10, 0], kp_out[13, 0] = 20, 44                                 # shins turned outwards
    r = part_warp(img, knees[None], kp_out[None], sil, torch.zeros_like(img))
    for j in (10, 13):
        x, y = kp_out[j].round().long().tolist()
        assert r.union[0, 0, y - 2, x] > 0.5 and r.warped[0, 2, y - 2, x] > 0.6, j
    # A chest-up photo (no hips shown: the warp's virtual hips are no legs) gets no legs.
    chest = standing().clone()
    chest[8:14] = float("nan")
    r = part_warp(img, chest[None], kp_t[None], sil, torch.zeros_like(img))
    assert r.masks[0, 1:5].max() < 0.05
    # A photo that ends at the hips shows no run of leg: the target's legs stay empty.
    high = kp_s.clone()
    high[:, 1] = high[:, 1] * 62 / 38                                     # the hips on the photo's edge
    r = part_warp(img, high[None], kp_t[None], torch.ones(1, 1, S, S), torch.zeros_like(img))
    for j in (9, 10, 12, 13):
        x, y = kp_t[j].round().long().tolist()
        assert r.union[0, 0, y, x] < 0.5, j
