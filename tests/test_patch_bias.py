"""benchmarks/patch_bias.py: the per-joint patch terms are zero for the same patch, blind to a
shift of the whole figure, and large where what surrounds a joint changes even though the
joint's own part does not; narrower patch maps see less of the surroundings."""
import importlib.util
from pathlib import Path

import torch

from poseshift.losses import narrow_maps
from poseshift.pose.heatmaps import belief_maps

_spec = importlib.util.spec_from_file_location(
    "patch_bias_bench", Path(__file__).resolve().parents[1] / "benchmarks" / "patch_bias.py")
patch_bias = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(patch_bias)

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
