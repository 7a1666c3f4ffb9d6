"""Belief maps (eq. (1), section 4.1), sigma, flips and visibility."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from poseshift.pose.heatmaps import belief_maps, flip_keypoints, flip_maps, sigma_pixels, visible
from poseshift.pose.schema import FLIP_PERM, JOINT_INDEX, LEFT_RIGHT_PAIRS

H, W = 48, 40


def random_kp(batch: int, n_missing: int = 3, integer: bool = True) -> torch.Tensor:
    g = torch.Generator().manual_seed(batch * 7 + n_missing)
    xs = torch.rand(batch, 18, generator=g) * (W - 1)
    ys = torch.rand(batch, 18, generator=g) * (H - 1)
    kp = torch.stack([xs, ys], dim=-1)
    if integer:
        kp = kp.round()
    for b in range(batch):
        kp[b, torch.randperm(18, generator=g)[:n_missing]] = float("nan")
    return kp


def test_shape_dtype_device():
    kp = random_kp(2).double()
    maps = belief_maps(kp, H, W, 3.0)
    assert maps.shape == (2, 18, H, W) and maps.dtype == torch.float32 and maps.device == kp.device


def test_peak_is_one_on_the_joint_pixel():
    kp = random_kp(3, n_missing=4)
    maps = belief_maps(kp, H, W, 2.5)
    for b in range(3):
        for j in range(18):
            m = maps[b, j]
            if torch.isnan(kp[b, j]).any():
                assert torch.count_nonzero(m) == 0
                continue
            x, y = int(kp[b, j, 0]), int(kp[b, j, 1])
            v, u = divmod(int(m.argmax()), W)
            assert (u, v) == (x, y)
            assert m[y, x].item() == 1.0


def test_subpixel_joint_argmax_at_rounded_pixel():
    kp = random_kp(2, n_missing=0, integer=False)
    maps = belief_maps(kp, H, W, 3.0)
    flat = maps.flatten(-2).argmax(-1)
    v, u = flat // W, flat % W
    torch.testing.assert_close(u.float(), kp[..., 0].round())
    torch.testing.assert_close(v.float(), kp[..., 1].round())
    assert (maps.amax(dim=(-1, -2)) <= 1.0).all()


def test_missing_joint_map_is_zero():
    kp = torch.full((1, 18, 2), float("nan"))
    kp[0, 4] = torch.tensor([10.0, 20.0])
    maps = belief_maps(kp, H, W, 3.0)
    assert torch.count_nonzero(maps[0, :4]) == 0 and torch.count_nonzero(maps[0, 5:]) == 0
    assert maps[0, 4, 20, 10] == 1.0
    assert not torch.isnan(maps).any()


def test_batch_matches_per_sample():
    kp = random_kp(4, integer=False)
    maps = belief_maps(kp, H, W, 2.0)
    for b in range(4):
        torch.testing.assert_close(maps[b:b + 1], belief_maps(kp[b:b + 1], H, W, 2.0), rtol=0, atol=0)
    # an unbatched [18, 2] gives [18, H, W]
    torch.testing.assert_close(belief_maps(kp[1], H, W, 2.0), maps[1])


@pytest.mark.parametrize("sigma", [1.5, 4.0])
def test_sigma_sets_the_width(sigma):
    kp = torch.full((1, 18, 2), float("nan"))
    kp[0, 0] = torch.tensor([10.0, 12.0])
    kp[0, 1] = torch.tensor([10.0 + sigma, 30.0])     # off-pixel by design: check the formula
    maps = belief_maps(kp, H, W, sigma)[0]
    s = int(sigma) if float(sigma).is_integer() else None
    if s is not None:
        assert maps[0, 12, 10 + s].item() == pytest.approx(math.exp(-0.5), rel=1e-6)
        assert maps[0, 12 + s, 10].item() == pytest.approx(math.exp(-0.5), rel=1e-6)
    # joint 1 is sigma away from pixel u = 10 along x
    assert maps[1, 30, 10].item() == pytest.approx(math.exp(-0.5), rel=1e-6)
    # diagonal: d^2 = 2 -> exp(-2 / (2 sigma^2))
    assert maps[0, 13, 11].item() == pytest.approx(math.exp(-1.0 / sigma ** 2), rel=1e-6)


def test_sigma_pixels():
    assert sigma_pixels(256) == pytest.approx(7.68)
    assert sigma_pixels(128, 0.05) == pytest.approx(6.4)
    with pytest.raises(ValueError):
        sigma_pixels(0)


def test_flip_twice_is_identity():
    kp = random_kp(3, integer=False)
    twice = flip_keypoints(flip_keypoints(kp, W), W)
    torch.testing.assert_close(twice, kp, equal_nan=True)
    kp_np = kp[0].numpy()
    twice_np = flip_keypoints(flip_keypoints(kp_np, W), W)
    assert isinstance(twice_np, np.ndarray)
    np.testing.assert_allclose(twice_np, kp_np, rtol=0, atol=1e-5)
    maps = belief_maps(kp, H, W, 2.0)
    torch.testing.assert_close(flip_maps(flip_maps(maps)), maps, rtol=0, atol=0)


def test_flip_swaps_left_and_right():
    lw, rw = JOINT_INDEX["l_wrist"], JOINT_INDEX["r_wrist"]
    kp = torch.full((1, 18, 2), float("nan"))
    kp[0, lw] = torch.tensor([5.0, 17.0])
    flipped = flip_keypoints(kp, W)
    assert flipped[0, rw].tolist() == [W - 1 - 5.0, 17.0]
    assert visible(flipped)[0].nonzero().flatten().tolist() == [rw]
    maps = flip_maps(belief_maps(kp, H, W, 2.0))
    assert torch.count_nonzero(maps[0, lw]) == 0
    v, u = divmod(int(maps[0, rw].argmax()), W)
    assert (u, v) == (W - 1 - 5, 17) and maps[0, rw, 17, W - 1 - 5] == 1.0
    # every pair swaps, the centre line (nose, neck) stays
    for r, l in LEFT_RIGHT_PAIRS:
        assert FLIP_PERM[r] == l and FLIP_PERM[l] == r
    assert FLIP_PERM[0] == 0 and FLIP_PERM[1] == 1


def test_flip_numpy_matches_torch():
    kp = random_kp(1)
    np.testing.assert_array_equal(flip_keypoints(kp[0].numpy(), W), flip_keypoints(kp, W)[0].numpy())


@pytest.mark.parametrize("integer", [True, False])
def test_flip_maps_commutes_with_belief_maps(integer):
    kp = random_kp(3, integer=integer)
    a = flip_maps(belief_maps(kp, H, W, 2.5))
    b = belief_maps(flip_keypoints(kp, W), H, W, 2.5)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_visible():
    kp = random_kp(2, n_missing=5)
    m = visible(kp)
    assert m.dtype == torch.bool and m.shape == (2, 18) and int(m.sum()) == 26
    half = kp[0].numpy().copy()
    half[0, 0] = np.nan                  # one NaN coordinate is enough to be missing
    mn = visible(half)
    assert mn.dtype == np.bool_ and not mn[0]


def test_bad_inputs():
    with pytest.raises(ValueError, match="18, 2"):
        belief_maps(torch.zeros(1, 17, 2), H, W, 2.0)
    with pytest.raises(ValueError, match="sigma"):
        belief_maps(torch.zeros(1, 18, 2), H, W, 0.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    kp = random_kp(2, integer=False)
    torch.testing.assert_close(belief_maps(kp.cuda(), H, W, 2.0).cpu(), belief_maps(kp, H, W, 2.0))


@pytest.mark.parametrize("mode", [0, 1, 2, 3])
def test_each_flip_moves_every_joint_with_its_pixel(mode):
    """The paper's three flips (train.flip: all): the image flipped as TrainingItems flips it and
    the pose by flip_pose; each joint's own pixel lands under its (relabelled) keypoint. A flip is
    a mirror image and swaps left and right; the half turn (both) swaps twice and keeps them."""
    from poseshift.pose.heatmaps import flip_pose
    from poseshift.training.batches import _flip_image

    h, w = 20, 16
    rng = np.random.default_rng(mode)
    kp = np.stack([rng.integers(0, w, 18), rng.integers(0, h, 18)], 1).astype(np.float32)
    image = np.zeros((h, w, 3), np.int64)
    for j, (x, y) in enumerate(kp.astype(int)):
        image[y, x, 0] = j + 1 if image[y, x, 0] == 0 else image[y, x, 0]
    out_img, out_kp = _flip_image(image, mode), flip_pose(kp, mode, h, w)
    r_wrist, l_wrist = JOINT_INDEX["r_wrist"], JOINT_INDEX["l_wrist"]
    swapped = mode in (1, 2)
    src = l_wrist if swapped else r_wrist  # whose data lands in the right wrist's slot
    x, y = out_kp[r_wrist].astype(int)
    assert out_img[y, x, 0] == image[int(kp[src, 1]), int(kp[src, 0]), 0]
    for j in range(18):  # every joint: its pixel moved with it
        x, y = out_kp[j].astype(int)
        k = FLIP_PERM[j] if swapped else j
        assert out_img[y, x, 0] == image[int(kp[k, 1]), int(kp[k, 0]), 0]
    assert np.array_equal(flip_pose(flip_pose(kp, mode, h, w), mode, h, w), kp)  # each flip undoes itself


def test_the_papers_flips_draw_all_four_and_mirror_keeps_its_old_draws():
    from poseshift.training.batches import FLIP, TFLIP, BatchPlan

    keys = BatchPlan(units=400, batch=8, seed=1, flip="all", poses=400).epoch_keys(0)
    assert set(keys[:, FLIP]) == set(keys[:, TFLIP]) == {0, 1, 2, 3}
    mirror = BatchPlan(units=400, batch=8, seed=1, flip="mirror", poses=400).epoch_keys(0)
    rng = np.random.default_rng([1, 0])  # the draws a run made before "all" existed: resumes stay exact
    assert np.array_equal(mirror[:, 0], rng.permutation(400))
    rng.integers(0, 400, size=400)
    assert np.array_equal(mirror[:, FLIP], rng.random(400) < 0.5)
    assert set(BatchPlan(units=40, batch=8, seed=1, flip="none", poses=40).epoch_keys(0)[:, FLIP]) == {0}
