import torch

from poseshift.losses import (
    content_loss,
    l1_identity_loss,
    lsgan_d_loss,
    lsgan_g_loss,
    patch_colour_loss,
    patch_colours,
    patch_grams,
    patch_style_loss,
    pose_loss,
)
from poseshift.pose.heatmaps import belief_maps, visible


def _pose(points):
    kp = torch.full((1, 18, 2), float("nan"))
    for j, (x, y) in points.items():
        kp[0, j] = torch.tensor([x, y], dtype=torch.float32)
    return kp


def test_content_loss_zero_for_identical_and_grows_with_difference():
    a = torch.randn(2, 8, 16, 16)
    assert content_loss(a, a) == 0
    small, large = content_loss(a, a + 0.1), content_loss(a, a + 1.0)
    assert 0 < small < large
    assert torch.isclose(large, torch.tensor(1.0))


def test_pose_loss_is_mse_and_zero_for_the_exact_maps():
    maps = torch.rand(2, 18, 8, 8)
    assert pose_loss(maps, maps) == 0
    assert torch.isclose(pose_loss(maps + 0.5, maps), torch.tensor(0.25))


def test_lsgan_targets():
    ones, zeros = torch.ones(2, 1, 6, 6), torch.zeros(2, 1, 6, 6)
    assert lsgan_d_loss(ones, zeros) == 0 and lsgan_g_loss(ones) == 0
    assert lsgan_d_loss(zeros, ones) == 1 and lsgan_g_loss(zeros) == 1


def test_patch_grams_follow_eq5_by_hand():
    feat = torch.randn(1, 3, 4, 4)
    maps = torch.rand(1, 18, 4, 4)
    g = patch_grams(feat, maps)
    x = (feat[0] * maps[0, 5]).reshape(3, 16)
    assert torch.allclose(g[0, 5], x @ x.T / 16, atol=1e-5)


def test_patch_style_zero_for_identical_positive_otherwise_and_only_joints_in_both():
    torch.manual_seed(0)
    size = 32
    kp = _pose({0: (10, 8), 1: (16, 12), 4: (24, 20)})
    maps = belief_maps(kp, size, size, 2.0)
    vis = visible(kp)
    feat = torch.randn(1, 8, 16, 16)
    assert patch_style_loss(feat, feat, maps, maps, vis, vis) == 0
    other = feat.clone()
    other[..., :8, :8] *= 3.0  # texture changes around the nose and the neck
    assert patch_style_loss(feat, other, maps, maps, vis, vis) > 0
    # The target pose lacks the nose and the neck (where the textures differ) and has the
    # right wrist (where they agree) and the left wrist (missing in the source): zero again.
    kp_f = _pose({4: (24, 20), 7: (5, 5)})
    maps_f = belief_maps(kp_f, size, size, 2.0)
    loss = patch_style_loss(feat, other, maps, maps_f, vis, visible(kp_f))
    assert loss == 0, "joints missing in either pose must be ignored"
    # No joint visible in both poses at all -> exactly 0, not NaN.
    none_f = _pose({7: (5, 5)})
    assert patch_style_loss(feat, other, maps, belief_maps(none_f, size, size, 2.0), vis, visible(none_f)) == 0


def test_style_loss_grows_with_texture_difference():
    kp = _pose({j: (4 + j, 4 + j) for j in range(18)})
    maps, vis = belief_maps(kp, 32, 32, 2.0), visible(kp)
    feat = torch.randn(1, 8, 16, 16)
    a = patch_style_loss(feat, feat * 1.1, maps, maps, vis, vis)
    b = patch_style_loss(feat, feat * 2.0, maps, maps, vis, vis)
    assert 0 < a < b


def test_l1_identity_replacement():
    x = torch.rand(1, 3, 8, 8)
    assert l1_identity_loss(x, x) == 0
    assert torch.isclose(l1_identity_loss(x, x + 0.25), torch.tensor(0.25))


def _figure(colour, centre, size=32, half=5):
    """A grey frame with one square of ``colour`` (RGB on [0, 1]) around ``centre`` (x, y)."""
    img = torch.full((1, 3, size, size), 0.0)  # mid grey on [-1, 1]
    x, y = centre
    img[0, :, y - half : y + half, x - half : x + half] = torch.tensor(colour).view(3, 1, 1) * 2 - 1
    return img


def test_patch_colours_hold_the_patch_mean_colour_and_tell_black_from_white():
    kp = _pose({1: (16, 16)})
    maps = belief_maps(kp, 32, 32, 2.0)
    red = patch_colours(_figure((1.0, 0.0, 0.0), (16, 16)), maps)[0, 1]
    assert torch.allclose(red[:3, 3], torch.tensor([1.0, 0.0, 0.0]), atol=0.02)  # the mean colour
    assert torch.isclose(red[3, 3], torch.tensor(1.0))
    black = patch_colours(_figure((0.0, 0.0, 0.0), (16, 16)), maps)[0, 1]
    white = patch_colours(_figure((1.0, 1.0, 1.0), (16, 16)), maps)[0, 1]
    assert (white - black).abs().max() > 0.9


def test_patch_colour_loss_follows_each_joint_to_its_new_place_and_sees_hue():
    kp_o, kp_f = _pose({1: (10, 10), 8: (20, 22)}), _pose({1: (22, 10), 8: (10, 22)})
    maps_o, maps_f = belief_maps(kp_o, 32, 32, 2.0), belief_maps(kp_f, 32, 32, 2.0)
    vis_o, vis_f = visible(kp_o), visible(kp_f)
    source = _figure((0.9, 0.1, 0.1), (10, 10))  # a red patch at the neck
    moved = _figure((0.9, 0.1, 0.1), (22, 10))  # the same red where the neck now is
    green = _figure((0.1, 0.9, 0.1), (22, 10))
    stayed = _figure((0.9, 0.1, 0.1), (10, 10))  # red left behind at the old place
    assert patch_colour_loss(source, source, maps_o, maps_o, vis_o, vis_o) == 0
    same = patch_colour_loss(source, moved, maps_o, maps_f, vis_o, vis_f)
    assert same < 1e-6
    wrong_hue = patch_colour_loss(source, green, maps_o, maps_f, vis_o, vis_f)
    wrong_place = patch_colour_loss(source, stayed, maps_o, maps_f, vis_o, vis_f)
    assert wrong_hue > 1e-3 and wrong_place > 1e-3
    # Only joints visible in both poses count: without the neck in p_f, nothing differs.
    kp_n = _pose({8: (10, 22)})
    assert patch_colour_loss(source, green, maps_o, belief_maps(kp_n, 32, 32, 2.0), vis_o, visible(kp_n)) < 1e-6
