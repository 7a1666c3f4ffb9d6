"""A weights file of the wrong network, given to any local weights option, is one line naming the
option, the file and what was expected: ``model.psi_weights`` (every backbone), ``--inception-weights``,
``--lpips-weights``, ``--is-weights`` and ``train --init``; never load_state_dict's traceback."""
from __future__ import annotations

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from poseshift.checkpoint import Checkpoint
from poseshift.cli import main
from poseshift.metrics.registry import MetricOptions, MetricSkipped, create_metric
from poseshift.nets.psi import VGG16Features, build_psi
from poseshift.packaged import ASSETS
from poseshift.weights import load_weights
from tests.helpers import MICRO, figures

PACKAGED = ASSETS / "synthetic-64.safetensors"  # a real poseshift checkpoint: the wrong network everywhere
SETS = [a for s in MICRO for a in ("--set", s)]


def _other_network(tmp_path) -> dict:
    """A tiny network of another kind, saved as safetensors and as a torch state dict."""
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Linear(4, 2))
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(tmp_path / "other.safetensors"))
    torch.save(state, tmp_path / "other.pth")
    return {"other.safetensors": tmp_path / "other.safetensors", "other.pth": tmp_path / "other.pth",
            "poseshift checkpoint": PACKAGED}


def _one_line(msg: str, *words: str) -> None:
    assert "\n" not in msg and len(msg) < 500, msg
    for w in words:
        assert w in msg, (w, msg)


def test_load_weights_summarises_a_mismatch_in_one_line():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Linear(4, 2))
    good = net.state_dict()
    load_weights(net, {k: torch.ones_like(v) for k, v in good.items()}, "f.pt", "a test net")
    assert (net[1].weight == 1).all()       # loaded
    bad = {"0.weight": torch.zeros(5, 3, 3, 3), "0.bias": good["0.bias"], "x\ny": torch.zeros(1)}
    with pytest.raises(ValueError) as e:
        load_weights(net, bad, "f.pt", "a test net")
    _one_line(str(e.value), "f.pt: not a test net", "2 of its 4 tensors missing, e.g. '1.weight'",
              "1 unexpected, e.g. 'x\\ny'", "1 of another shape, e.g. '0.weight' (5, 3, 3, 3) instead of (4, 3, 3, 3)")
    # strict=False ignores what the module lacks, but not what it needs
    load_weights(net, {**good, "extra.weight": torch.zeros(1)}, "f.pt", "a test net", strict=False)
    with pytest.raises(ValueError, match="1 of its 4 tensors missing"):
        load_weights(net, {k: v for k, v in good.items() if k != "1.bias"}, "f.pt", "a test net", strict=False)


@pytest.mark.parametrize("backbone, expected", [
    ("vgg16", "not torchvision's VGG16"),
    ("efficientnet_lite0", "not an EfficientNet-Lite0 state dict"),
])
def test_psi_weights_of_another_network(tmp_path, backbone, expected):
    for what, path in _other_network(tmp_path).items():
        with pytest.raises(ValueError) as e:
            build_psi(backbone, weights=path)
        msg = str(e.value)
        _one_line(msg, f"model.psi_weights={path}: {expected}")
        assert msg.count(str(path)) == 1, msg          # the file is named once
        assert "tensors missing" in msg, (what, msg)


def test_psi_weights_of_the_right_keys_but_other_shapes(tmp_path):
    state = VGG16Features(9).state_dict()
    state["features.5.weight"] = torch.zeros(128, 32, 3, 3)
    save_file(state, str(tmp_path / "vgg16-half.safetensors"))
    with pytest.raises(ValueError) as e:
        build_psi("vgg16", "relu2_2", weights=tmp_path / "vgg16-half.safetensors")
    _one_line(str(e.value), "model.psi_weights=", "vgg16-half.safetensors: not torchvision's VGG16",
              "'features.5.weight' (128, 32, 3, 3) instead of (128, 64, 3, 3)")


def test_train_with_psi_weights_of_another_network_is_one_line(tmp_path, capsys):
    data = figures(tmp_path)
    for what, path in _other_network(tmp_path).items():
        rc = main(["train", "--config", "tiny",
                   "--data", str(data), "--out", str(tmp_path / "run"), "--max-steps", "1", "--quiet",
                   *SETS, "--set", f"model.psi_weights={path}"])
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("poseshift: error:")]
        assert rc == 2 and len(err) == 1, (what, err)
        _one_line(err[0], f"model.psi_weights={path}: not an EfficientNet-Lite0 state dict")
        assert not (tmp_path / "run" / "checkpoints").exists()


def test_inception_weights_of_another_network(tmp_path):
    from poseshift.metrics.inception_v3 import InceptionV3Features

    files = _other_network(tmp_path)
    state = InceptionV3Features().state_dict()
    state["Mixed_7c.branch_pool.conv.weight"] = torch.zeros(192, 2048, 3, 3)
    save_file(state, str(tmp_path / "inception-reshaped.safetensors"))
    files["reshaped"] = tmp_path / "inception-reshaped.safetensors"
    for _what, path in files.items():
        opts = MetricOptions(inception_weights=path, real_images=[tmp_path / "a.png", tmp_path / "b.png"])
        with pytest.raises(MetricSkipped) as e:
            create_metric("fid", opts)
        _one_line(str(e.value), f"--inception-weights {path}: not torchvision's Inception-v3 (")
    assert "'Mixed_7c.branch_pool.conv.weight' (192, 2048, 3, 3) instead of (192, 2048, 1, 1)" in str(e.value)


def test_lpips_weights_of_another_network(tmp_path):
    from poseshift.metrics.lpips import LPIPS

    files = _other_network(tmp_path)
    # AlexNet's key names with another network's shapes (VGG16's first conv): load_state_dict's traceback before
    alex = {"features." + k.split(".", 2)[2]: v for k, v in LPIPS().state_dict().items() if k.startswith("net.")}
    alex["features.0.weight"] = torch.zeros(64, 3, 3, 3)
    torch.save(alex, tmp_path / "alexnet-wrong.pth")
    files["reshaped"] = tmp_path / "alexnet-wrong.pth"
    (tmp_path / "notes.pth").write_text("not a weights file\n")
    files["text"] = tmp_path / "notes.pth"
    for what, path in files.items():
        with pytest.raises(MetricSkipped) as e:
            create_metric("lpips", MetricOptions(lpips_weights=[path]))
        expected = "not a weights file" if what == "text" else "not the LPIPS-Alex weights"
        _one_line(str(e.value), f"--lpips-weights {path}", expected)
    with pytest.raises(MetricSkipped) as e:
        create_metric("lpips", MetricOptions(lpips_weights=[files["reshaped"]]))
    assert "(64, 3, 3, 3) instead of (64, 3, 11, 11)" in str(e.value)


def test_is_weights_of_another_network(tmp_path):
    files = _other_network(tmp_path)

    class Features(nn.Module):  # a TorchScript network, but no classifier: [N, 3, H, W] out
        def forward(self, x):
            return x * 2

    torch.jit.script(Features()).save(str(tmp_path / "features.pt"))
    files["not a classifier"] = tmp_path / "features.pt"
    for _what, path in files.items():
        with pytest.raises(MetricSkipped) as e:
            create_metric("is", MetricOptions(is_weights=str(path)))
        _one_line(str(e.value), f"--is-weights {path}: not a TorchScript ImageNet classifier")
    assert "it gave [2, 3, 299, 299]" in str(e.value)


def test_evaluate_with_every_metric_weights_file_wrong_skips_them_with_reasons(tmp_path, capsys):
    import json

    data = figures(tmp_path)
    other = _other_network(tmp_path)["other.safetensors"]
    rc = main(["evaluate", "--data", str(data), "--copy-source", "--metrics", "ssim", "lpips", "is", "fid",
               "--lpips-weights", str(other), "--is-weights", str(other), "--inception-weights", str(other),
               "--out", str(tmp_path / "report.json"), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "report.json").read_text())
    text = json.dumps(report)
    for option in ("--lpips-weights", "--is-weights", "--inception-weights"):
        assert f"{option}" in text and str(other) in text, option


def test_init_from_another_network_is_one_line(tmp_path, capsys):
    data = figures(tmp_path)
    files = _other_network(tmp_path)
    # a poseshift checkpoint whose G tensors do not fit the networks its own config describes
    ck = Checkpoint(PACKAGED)
    key = next(k for k in ck.tensors if k.startswith("G.") and k.endswith("weight"))
    with safe_open(str(PACKAGED), "pt") as fh:
        meta = dict(fh.metadata())
    save_file({**ck.tensors, key: torch.zeros(3, 5)}, str(tmp_path / "mismatched.safetensors"), metadata=meta)
    files["mismatched"] = tmp_path / "mismatched.safetensors"
    expected = {"other.safetensors": "not a poseshift checkpoint", "other.pth": "not a readable safetensors",
                "mismatched": "G weights do not fit the network"}
    for what, want in expected.items():
        rc = main(["train", "--config", "tiny",
                   "--data", str(data), "--out", str(tmp_path / f"run-{what}"), "--max-steps", "1",
                   "--quiet", *SETS, "--init", str(files[what])])
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("poseshift: error:")]
        assert rc == 2 and len(err) == 1, (what, err)
        _one_line(err[0], f"--init {files[what]}: ", want)
