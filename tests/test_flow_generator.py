"""model.g_arch = flow: an untrained G is the warp itself, its field shift moves pixels, every
parameter learns, and the photo-resolution entry point agrees with the model-resolution one."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from poseshift.nets import build_generator
from poseshift.nets.flow_generator import FlowGenerator
from poseshift.nets.warping import Guard, Photo, field_bound
from poseshift.pose.heatmaps import belief_maps
from poseshift.warp import part_warp
from tests.helpers import micro_config
from tests.test_warp import S, standing, textured


def flow_g() -> FlowGenerator:
    g = build_generator(micro_config("model.g_arch=flow", "model.image_size=64"))
    assert isinstance(g, FlowGenerator)
    return g


def test_an_untrained_g_answers_the_warp():
    g = flow_g().eval()
    img, src, tgt = textured(), standing()[None], standing(5)[None]
    out = g(img, belief_maps(tgt, S, S, 3.0), src, tgt)
    assert out.shape == (1, 3, S, S) and out.min() >= -1 and out.max() <= 1
    assert torch.allclose(out, part_warp(img, src, tgt).warped, atol=2e-3)
    with pytest.raises(ValueError, match="source photo's pose"):
        g(img, belief_maps(tgt, S, S, 3.0))


def test_the_field_shift_moves_the_sampled_pixels():
    g = flow_g().eval()
    last = g.trunk.net[-1]
    with torch.no_grad():
        last.bias[0] = 10.0       # d_x at its bound everywhere: sample further right in the source
    img, kp = textured(), standing()[None]
    warp = part_warp(img, kp, kp)
    out = g(img, belief_maps(kp, S, S, 3.0), kp, kp)
    free = Guard(warp).free[:, 0, :, :, None]                 # no shift in the head region
    d = torch.stack([field_bound(S, S, "cpu")[0, 0, 0, 0], torch.tensor(0.0)])
    shifted = F.grid_sample(img, warp.field + free * d, mode="bilinear", padding_mode="border", align_corners=True)
    expected = warp.union * shifted + (1 - warp.union) * warp.background
    body = warp.union[0, 0] > 0.99
    assert body.sum() > 200
    assert torch.allclose(out, expected, atol=2e-3)
    assert not torch.allclose(out[0][:, body], warp.warped[0][:, body], atol=0.1)


def test_every_parameter_learns_and_gradients_reach_the_source():
    g = flow_g()
    img = textured().requires_grad_(True)
    src, tgt = standing()[None], standing(3)[None]
    maps = belief_maps(tgt, S, S, 3.0)
    g(img.detach(), maps, src, tgt).square().sum().backward()   # the zero last layer moves first
    torch.optim.SGD(g.parameters(), lr=0.1).step()
    g.zero_grad()
    g(img, maps, src, tgt).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in g.parameters())
    assert img.grad.abs().sum() > 0


def test_the_photo_entry_point_agrees_with_the_model_frame():
    torch.manual_seed(0)
    g = flow_g().eval()
    with torch.no_grad():                           # a G that moves pixels (a smooth shift, as a
        g.trunk.net[-1].weight[2:].normal_(0, 0.02)  # trained field is) and paints a little
        g.trunk.net[-1].bias.normal_(0, 0.3)
    ys, xs = torch.meshgrid(torch.arange(S, dtype=torch.float32), torch.arange(S, dtype=torch.float32), indexing="ij")
    img = torch.stack([torch.sin(xs / 5), torch.cos(ys / 7), torch.sin((xs + ys) / 9)])[None] * 0.8  # smooth
    src, tgt = standing()[None], standing(4)[None]
    maps = belief_maps(tgt, S, S, 3.0)
    with torch.no_grad():
        model = g(img, maps, src, tgt)
        warp = part_warp(img, src, tgt)
        same = Photo(img, src, tgt, None, warp.background, (0, 0, S, S), S)   # the photo is the frame
        assert torch.allclose(g.render_photo(img, maps, src, tgt, None, None, same), model, atol=1e-4)
        # The same photo at 4x: the person sampled from the sharp photo agrees with the model's
        # render, upsampled, up to the interpolation of both.
        big = F.interpolate(img, scale_factor=4, mode="bilinear", align_corners=False)
        k = 4
        src4, tgt4 = (src + 0.5) * k - 0.5, (tgt + 0.5) * k - 0.5
        photo = Photo(big, src4, tgt4, F.interpolate(warp.union * 0 + part_warp(img, src, src).union, scale_factor=4,
                                                      mode="bilinear"), None, (0, 0, S, S), S)
        full = g.render_photo(img, maps, src, tgt, None, None, photo)
    assert full.shape == (1, 3, S * k, S * k)
    down = F.avg_pool2d(full, k)
    body = warp.union[0, 0] > 0.99
    err = (down - model)[0][:, body].abs().mean()
    assert err < 0.01, err
    assert np.isfinite(full.numpy()).all()


def test_the_cycles_first_pass_warps_with_the_photos_own_silhouette():
    # data.silhouettes: photo puts the photo's mask in the batch; an untrained G then answers the
    # warp made with that mask in the first pass, and the pose-drawn one on the way back.
    from poseshift.objective import Batch, render_cycle

    g = flow_g().eval()
    img, src, tgt = textured(), standing()[None], standing(5)[None]
    batch = Batch.from_keypoints(img, src, tgt, 3.0)
    sil = torch.zeros(1, 1, S, S)
    sil[..., 4:60, 16:48] = 1.0                                           # wider than the pose's own
    with torch.no_grad():
        plain, _ = render_cycle(g, batch)
        batch.sil_o = sil
        fake, back = render_cycle(g, batch)
    assert torch.allclose(fake, part_warp(img, src, tgt, sil).warped, atol=2e-3)
    assert (fake - plain).abs().max() > 0.1
    assert torch.allclose(back, part_warp(fake, tgt, src).warped, atol=2e-3)


def test_a_photo_above_the_working_size_renders_in_bands_as_at_its_own_resolution(monkeypatch):
    # The working resolution shrunk to 32 x 32 (a 12-megapixel photo's 1 MP, in small): a 128-px
    # photo's warp geometry is computed at 32 px and its render composed 1,024 pixels of rows at
    # a time. Banded or whole, the render is the same; against the warp done at the photo's own
    # resolution it differs only by the geometry's interpolation.
    import poseshift.warp.photo as photo_warp
    from poseshift.warp.photo import warp_photo, warp_rows, warp_small

    torch.manual_seed(0)
    g = flow_g().eval()
    with torch.no_grad():
        g.trunk.net[-1].weight[2:].normal_(0, 0.02)
        g.trunk.net[-1].bias.normal_(0, 0.3)
    ys, xs = torch.meshgrid(torch.arange(S, dtype=torch.float32), torch.arange(S, dtype=torch.float32), indexing="ij")
    img = torch.stack([torch.sin(xs / 5), torch.cos(ys / 7), torch.sin((xs + ys) / 9)])[None] * 0.8
    src, tgt = standing()[None], standing(4)[None]
    maps = belief_maps(tgt, S, S, 3.0)
    k = 2
    big = F.interpolate(img, scale_factor=k, mode="bilinear", align_corners=False)
    src2, tgt2 = (src + 0.5) * k - 0.5, (tgt + 0.5) * k - 0.5
    sil = F.interpolate(part_warp(img, src, src).union, scale_factor=k, mode="bilinear")
    scene = torch.zeros_like(big)
    photo = Photo(big, src2, tgt2, sil, scene, (0, 0, S, S), S)
    with torch.no_grad():
        exact = g.render_photo(img, maps, src, tgt, None, None, photo)          # 128 px: its own resolution
        monkeypatch.setattr(photo_warp, "WORK_PIXELS", 32 * 32)
        monkeypatch.setattr(photo_warp, "BAND_PIXELS", 1024)
        assert photo.large and len(photo.bands()) == 16 and photo.warp_small().union.shape[-2:] == (32, 32)
        banded = g.render_photo(img, maps, src, tgt, None, None, photo)
        monkeypatch.setattr(photo_warp, "BAND_PIXELS", 10**9)
        assert len(photo.bands()) == 1
        assert torch.allclose(g.render_photo(img, maps, src, tgt, None, None, photo), banded, atol=1e-6)
        small = warp_small(big, src2, tgt2, sil, scene, work_pixels=32 * 32)
        whole = warp_rows(small, big, scene, (0, 2 * S))
        assert torch.allclose(whole.warped, warp_photo(big, src2, tgt2, sil, scene, work_pixels=32 * 32).warped)
    assert banded.shape == exact.shape == (1, 3, 2 * S, 2 * S)
    body = F.interpolate(part_warp(img, src, tgt).union, scale_factor=k)[0, 0] > 0.99
    err = (banded - exact)[0][:, body].abs().mean()
    assert err < 0.05, err
