"""The pose-guided part warp: pixels land on the target limb, an identity pose gives the image back,
a missing joint drops only its own parts, the batch is one vectorised call."""
import numpy as np
import pytest
import torch

from poseshift.warp import NUM_PARTS, PARTS, border_colour, part_warp, warp_only

S = 64


def standing(dx: float = 0.0) -> torch.Tensor:
    """A frontal person in a 64x64 frame, arms hanging, [18, 2] (x, y)."""
    kp = {
        0: (32, 10), 1: (32, 18), 2: (24, 18), 3: (22, 28), 4: (21, 37), 5: (40, 18), 6: (42, 28), 7: (43, 37),
        8: (27, 38), 9: (27, 48), 10: (27, 58), 11: (37, 38), 12: (37, 48), 13: (37, 58),
        14: (30, 9), 15: (34, 9), 16: (28, 10), 17: (36, 10),
    }
    return torch.tensor([[x + dx, y] for _, (x, y) in sorted(kp.items())], dtype=torch.float32)


def textured() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(1, 3, S, S, generator=g) * 2 - 1


def test_an_identity_pose_gives_back_the_image_where_the_body_is():
    img, kp = textured(), standing()[None]
    r = part_warp(img, kp, kp)
    assert r.warped.shape == (1, 3, S, S) and r.masks.shape == (1, NUM_PARTS, S, S) and r.union.shape == (1, 1, S, S)
    assert (r.union[0, 0] > 0.9).sum() > 300  # the torso, limbs and head cover a good share of the frame
    # Every part samples each pixel from where it is: the image itself where the body is, the
    # border colour outside, blended by the soft masks' union and nothing else.
    bg = border_colour(img)[0][:, None, None]
    assert torch.allclose(r.warped[0], r.union[0] * img[0] + (1 - r.union[0]) * bg, atol=1e-4)
    assert (r.union[0, 0] < 1e-3).sum() > 1000  # and the background is left alone


def test_a_limbs_pixels_land_on_the_target_limb():
    src = standing()
    tgt = src.clone()
    tgt[4] = torch.tensor([10.0, 28.0])  # right forearm raised sideways: elbow (22, 28) -> wrist (10, 28)
    img = torch.full((1, 3, S, S), 1.0)  # white
    # Paint the source's right forearm red (elbow (22,28) to wrist (21,37)), nothing else.
    for t in np.linspace(0, 1, 30):
        x, y = 22 + (21 - 22) * t, 28 + (37 - 28) * t
        img[0, :, int(round(y)) - 1 : int(round(y)) + 2, int(round(x)) - 1 : int(round(x)) + 2] = \
            torch.tensor([1.0, -1.0, -1.0])[:, None, None]
    out = warp_only(img, src[None], tgt[None])[0]
    red = (out[0] > 0.5) & (out[1] < -0.5)
    ys, xs = torch.nonzero(red, as_tuple=True)
    assert len(ys) > 10
    # Red pixels sit along the new forearm (y ~ 28, x between 10 and 22), none at the old place.
    assert (ys.float() - 28).abs().max() <= 3 and xs.min() >= 8 and xs.max() <= 23
    assert not red[33:38, 19:24].any()


def test_a_missing_joint_drops_only_its_own_parts():
    img, kp = textured(), standing()
    full = part_warp(img, kp[None], (kp + 1)[None]).masks[0]
    assert (full.flatten(1).amax(1) > 0.5).all(), "every part is drawn when every joint is present"
    tgt = kp + 1
    tgt[4] = float("nan")                                 # right wrist
    masks = part_warp(img, kp[None], tgt[None]).masks[0]
    gone = {PARTS.index("r_forearm")}
    for k in range(NUM_PARTS):
        if k in gone:
            assert masks[k].abs().max() == 0
        else:
            assert torch.allclose(masks[k], full[k], atol=1e-5), PARTS[k]
    src = kp.clone()
    src[12] = float("nan")                                # left knee, missing in the source this time
    masks = part_warp(img, src[None], (kp + 1)[None]).masks[0]
    gone = {PARTS.index("l_thigh"), PARTS.index("l_shin")}
    for k in range(NUM_PARTS):
        assert (masks[k].abs().max() == 0) == (k in gone), PARTS[k]


def test_an_upper_body_photo_keeps_its_torso_without_hips():
    img, kp = textured(), standing()
    kp[[8, 9, 10, 11, 12, 13]] = float("nan")
    masks = part_warp(img, kp[None], (kp + 2)[None]).masks[0]
    assert masks[PARTS.index("torso")].max() > 0.9
    assert masks[PARTS.index("r_thigh")].max() == 0


def test_the_batch_is_one_call_equal_to_each_sample_alone():
    img = torch.cat([textured(), -textured(), textured().flip(-1)])
    src = torch.stack([standing(), standing(3), standing(-2)])
    tgt = torch.stack([standing(2), standing(-3), standing(1)])
    tgt[1, 7] = float("nan")
    batched = part_warp(img, src, tgt)
    for i in range(3):
        one = part_warp(img[i : i + 1], src[i : i + 1], tgt[i : i + 1])
        assert torch.allclose(batched.warped[i], one.warped[0], atol=1e-5)
        assert torch.allclose(batched.masks[i], one.masks[0], atol=1e-5)


def test_the_warp_passes_gradients_to_the_source_pixels():
    img = textured().requires_grad_(True)
    out = part_warp(img, standing()[None], standing(4)[None]).warped
    out.sum().backward()
    assert img.grad is not None and (img.grad.abs() > 0).sum() > 300


def test_bad_shapes_are_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="kp_tgt"):
        part_warp(textured(), standing()[None], standing()[None, :17])
