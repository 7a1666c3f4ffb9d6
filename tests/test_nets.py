import pytest
import torch

from poseshift.config import load_config
from poseshift.nets import build_discriminator, build_generator, build_pose_regressor
from poseshift.nets.patchgan import PatchDiscriminator, patch_output_size
from poseshift.nets.resnet import Generator
from tests.helpers import micro_config


def test_generator_maps_image_and_pose_to_an_image_in_tanh_range():
    g = build_generator(micro_config())
    out = g(torch.randn(2, 3, 32, 32), torch.rand(2, 18, 32, 32))
    assert out.shape == (2, 3, 32, 32)
    assert out.abs().max() <= 1.0


def test_pose_regressor_gives_18_unbounded_maps():
    phi = build_pose_regressor(micro_config())
    assert phi(torch.randn(2, 3, 32, 32)).shape == (2, 18, 32, 32)


def test_patchgan_output_sizes_are_the_documented_ones():
    assert patch_output_size(256) == 30 and patch_output_size(64) == 6
    d = PatchDiscriminator(channels=8)
    assert d(torch.randn(1, 3, 256, 256)).shape == (1, 1, 30, 30)
    assert build_discriminator(micro_config())(torch.randn(3, 3, 64, 64)).shape == (3, 1, 6, 6)
    # Unpadded stride-1 convolutions (the paper preset's model.d_tail_padding=0): 26x26 at 256.
    assert patch_output_size(256, 3, 0) == 26 and patch_output_size(64, 3, 0) == 2
    assert PatchDiscriminator(channels=8, tail_padding=0)(torch.randn(1, 3, 64, 64)).shape == (1, 1, 2, 2)
    with pytest.raises(ValueError, match="tail_padding"):
        PatchDiscriminator(channels=8, tail_padding=2)


def test_paper_generator_has_nine_blocks_and_cyclegan_width():
    g = build_generator(load_config("paper"))
    blocks = [m for m in g.modules() if m.__class__.__name__ == "ResnetBlock"]
    assert len(blocks) == 9
    first = g.trunk.net[1]
    assert first.in_channels == 21 and first.out_channels == 64 and first.kernel_size == (7, 7)


def test_resize_upsampling_makes_no_checkerboard_where_transposed_convolutions_do():
    # An image constant along x (a vertical ramp) must stay constant along x away from the
    # borders; stride-2 transposed convolutions break that, resize + conv cannot.
    torch.manual_seed(0)
    ramp = torch.linspace(-1, 1, 64)[None, None, :, None].expand(1, 3, 64, 64)
    rows = {}
    for up in ("deconv", "resize"):
        out = Generator(18, 8, 1, "instance", up).eval()(ramp, torch.zeros(1, 18, 64, 64))[0, :, 16:48, 20:44]
        rows[up] = (out[:, :, 1:] - out[:, :, :-1]).abs().mean().item()
    assert rows["resize"] < 1e-6 < 0.05 < rows["deconv"]
    with pytest.raises(ValueError, match="upsample"):
        Generator(18, 8, 1, "instance", "bilinear")
