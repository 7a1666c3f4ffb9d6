"""experiments/patch_terms.py (benchmarks/patch_bias.py): the per-joint patch terms are zero for
the same patch, blind to a shift of the whole figure, and large where what surrounds a joint
changes even though the joint's own part does not; narrower patch maps see less of the
surroundings, and are the same Gaussians at a smaller sigma."""
import pytest
import torch

from experiments import patch_terms as patch_bias
from experiments.patch_terms import narrow_maps
from poseshift.losses import mean_over_joints, patch_colour_loss, patch_style_loss
from poseshift.pose.heatmaps import belief_maps, visible

SIZE, SIGMA = 48, 4.0
CENTRE, EDGE = 0, 4  # a joint in the middle of the block, and one at its right edge


def _figure(x0: int, neighbour: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """A red 16x16 block on grey at column x0 (rows 16-32); optionally a blue block just right
    of it. Keypoints: CENTRE at the block's middle, EDGE on its right edge."""
    img = torch.full((1, 3, SIZE, SIZE), 0.2)
    img[0, :, 16:32, x0:x0 + 16] = torch.tensor([0.9, -0.8, -0.8])[:, None, None]
    if neighbour:
        img[0, :, 16:32, x0 + 16:x0 + 24] = torch.tensor([-0.8, -0.8, 0.9])[:, None, None]
    kp = torch.full((1, 18, 2), -1e4)
    kp[0, CENTRE] = torch.tensor([x0 + 7.5, 23.5])
    kp[0, EDGE] = torch.tensor([x0 + 15.0, 23.5])
    return img, kp


def _terms(scale: float, moved: tuple[torch.Tensor, torch.Tensor]):
    src, kp_o = _figure(6, neighbour=False)
    tgt, kp_f = moved
    maps_o = narrow_maps(belief_maps(kp_o, SIZE, SIZE, SIGMA), scale)
    maps_f = narrow_maps(belief_maps(kp_f, SIZE, SIZE, SIGMA), scale)
    return patch_bias.joint_terms(torch.nn.Identity(), src, tgt, maps_o, maps_f)


def test_the_same_patch_scores_zero_and_a_shifted_figure_scores_almost_zero():
    src = _figure(6, neighbour=False)
    colour, style = _terms(1.0, src)
    assert colour[CENTRE] == 0 and colour[EDGE] == 0 and style[EDGE] == 0
    colour, style = _terms(1.0, _figure(14, neighbour=False))
    assert colour[CENTRE] < 1e-6 and colour[EDGE] < 1e-6 and style[EDGE] < 1e-6


def test_a_new_neighbour_moves_the_edge_joints_term_and_narrow_maps_see_less_of_it():
    target = _figure(14, neighbour=True)  # the same block, moved, with something blue beside it
    colour, style = _terms(1.0, target)
    assert colour[EDGE] > 100 * max(colour[CENTRE], 1e-9) and style[EDGE] > 100 * max(style[CENTRE], 1e-9)
    narrow, _ = _terms(0.3, target)
    assert narrow[EDGE] < 0.5 * colour[EDGE]


def _pose(points):
    kp = torch.full((1, 18, 2), float("nan"))
    for j, (x, y) in points.items():
        kp[0, j] = torch.tensor([x, y], dtype=torch.float32)
    return kp


def test_narrow_maps_are_the_same_gaussians_at_a_smaller_sigma():
    kp = _pose({1: (16, 12), 8: (9, 20)})
    wide = belief_maps(kp, 32, 32, 4.0)
    assert torch.allclose(narrow_maps(wide, 0.5), belief_maps(kp, 32, 32, 2.0), atol=1e-5)
    assert narrow_maps(wide, 1.0) is wide
    assert narrow_maps(wide, 0.5)[0, 1, 12, 16] == 1  # the peak stays on its joint
    with pytest.raises(ValueError, match="scale"):
        narrow_maps(wide, 0.0)


def test_narrow_patch_maps_ignore_colour_beside_the_joint():
    """A red square 7 px beside the joint: inside a sigma-4 map's reach, outside a sigma-1.2 one's."""
    kp = _pose({1: (10, 16)})
    vis = visible(kp)
    grey = torch.zeros(1, 3, 32, 32)  # mid grey on [-1, 1], the joint's patch included
    beside = grey.clone()
    beside[0, :, 12:20, 15:23] = torch.tensor([0.8, -0.8, -0.8]).view(3, 1, 1)
    wide = belief_maps(kp, 32, 32, 4.0)
    near = narrow_maps(wide, 0.3)
    seen_wide = patch_colour_loss(grey, beside, wide, wide, vis, vis)
    assert seen_wide > 50 * patch_colour_loss(grey, beside, near, near, vis, vis)


def test_the_per_joint_terms_average_to_the_losses_of_training():
    """Averaged over the joints visible in both poses, the per-joint terms are the package's losses."""
    torch.manual_seed(0)
    kp_o, kp_f = _pose({1: (10, 10), 4: (20, 22), 8: (14, 26)}), _pose({1: (22, 10), 4: (9, 20), 11: (5, 5)})
    maps_o, maps_f = belief_maps(kp_o, 32, 32, 2.0), belief_maps(kp_f, 32, 32, 2.0)
    both = visible(kp_o) & visible(kp_f)
    real, fake = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    feat_o, feat_f = torch.randn(1, 8, 16, 16), torch.randn(1, 8, 16, 16)
    colour = patch_bias.patch_colour_per_joint(real, fake, maps_o, maps_f)
    style = patch_bias.patch_style_per_joint(feat_o, feat_f, maps_o, maps_f)
    assert both.sum() == 2 and (colour[both] > 0).all() and (style[both] > 0).all()
    assert torch.allclose(mean_over_joints(colour, both), patch_colour_loss(real, fake, maps_o, maps_f,
                                                                            visible(kp_o), visible(kp_f)))
    assert torch.allclose(mean_over_joints(style, both), patch_style_loss(feat_o, feat_f, maps_o, maps_f,
                                                                          visible(kp_o), visible(kp_f)))
