"""The papers' FID (torchvision's Inception-v3) and LPIPS against the peers' own calls, the FID
statistics cache, and both metrics end to end with random weights in torchvision's key names.

The reference calls need torchvision and the ``lpips`` package, which cannot sit beside this
project's torch build; they run in ``POSESHIFT_REFERENCE_PYTHON`` (.ci/run builds one) through
tests/reference_peers.py, and are skipped, with the reason, where it is not set."""
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from poseshift.metrics import MetricOptions, PairSample, create_metric
from poseshift.metrics.fid import fid_from_features
from poseshift.metrics.fid_papers import TorchvisionInception, real_statistics
from poseshift.metrics.inception_v3 import InceptionV3Features
from poseshift.metrics.lpips import load_lpips
from tests.test_layouts import mock_published

REFERENCE = Path(__file__).with_name("reference_peers.py")


def write_torchvision_inception(path: Path, seed: int = 0) -> Path:
    """Random Inception-v3 weights with every key of torchvision's file (AuxLogits and fc too),
    scaled so that activations neither vanish nor explode through its 94 convolutions."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for k, v in InceptionV3Features().state_dict().items():
        if k.endswith("conv.weight"):
            fan_in = v[0].numel()
            state[k] = torch.randn(v.shape, generator=g) * (2.0 / fan_in) ** 0.5
        elif k.endswith("bn.weight") or k.endswith("running_var"):
            state[k] = torch.rand(v.shape, generator=g) + 0.5
        elif k.endswith("bn.bias") or k.endswith("running_mean"):
            state[k] = torch.randn(v.shape, generator=g) * 0.1
        else:
            state[k] = v.clone()
    def bcv(name, cin, cout, k):
        state[f"{name}.conv.weight"] = torch.randn(cout, cin, k, k, generator=g) * 0.01
        for s, val in (("weight", 1.0), ("bias", 0.0), ("running_mean", 0.0), ("running_var", 1.0)):
            state[f"{name}.bn.{s}"] = torch.full((cout,), val)
        state[f"{name}.bn.num_batches_tracked"] = torch.tensor(0)
    bcv("AuxLogits.conv0", 768, 128, 1)
    bcv("AuxLogits.conv1", 128, 768, 5)
    state["AuxLogits.fc.weight"] = torch.randn(1000, 768, generator=g) * 0.01
    state["AuxLogits.fc.bias"] = torch.zeros(1000)
    state["fc.weight"] = torch.randn(1000, 2048, generator=g) * 0.01
    state["fc.bias"] = torch.zeros(1000)
    torch.save(state, path)
    return path


def write_alexnet(path: Path, seed: int = 0) -> Path:
    """Random AlexNet convolutions in torchvision's key names (features.N.*; no classifier)."""
    g = torch.Generator().manual_seed(seed)
    convs = {0: (64, 3, 11), 3: (192, 64, 5), 6: (384, 192, 3), 8: (256, 384, 3), 10: (256, 256, 3)}
    state = {}
    for i, (cout, cin, k) in convs.items():
        state[f"features.{i}.weight"] = torch.randn(cout, cin, k, k, generator=g) * (2.0 / (cin * k * k)) ** 0.5
        state[f"features.{i}.bias"] = torch.randn(cout, generator=g) * 0.1
    torch.save(state, path)
    return path


def write_lin(path: Path, seed: int = 0) -> Path:
    """Random non-negative LPIPS heads in lpips' key names (lin{k}.model.1.weight)."""
    g = torch.Generator().manual_seed(seed)
    state = {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1, generator=g)
             for k, c in enumerate((64, 192, 384, 256, 256))}
    torch.save(state, path)
    return path


def _images(n, h, w, seed):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (n, 1, 1, 3))
    noise = rng.integers(-60, 60, (n, h, w, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def _reference(*args) -> str:
    py = os.environ.get("POSESHIFT_REFERENCE_PYTHON")
    if not py or not Path(py).exists():
        pytest.skip("the peers' reference calls need a Python with torchvision and lpips "
                    "(POSESHIFT_REFERENCE_PYTHON; .ci/run builds one)")
    proc = subprocess.run([py, str(REFERENCE), *map(str, args)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_papers_fid_features_match_torchvision_as_gfla_and_pidm_call_it(tmp_path):
    weights = write_torchvision_inception(tmp_path / "inception_v3_google-0cc3c7bd.pth")
    ims = _images(3, 256, 176, seed=1)
    np.save(tmp_path / "ims.npy", ims)
    _reference("inception", weights, tmp_path / "ims.npy", tmp_path / "ref.npy")
    ref = np.load(tmp_path / "ref.npy")
    ours = TorchvisionInception(weights)(list(ims))
    assert ref.shape == ours.shape == (3, 2048)
    assert np.abs(ref).max() > 1e-3  # the random network's features are not vanishing
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())


@pytest.mark.parametrize("lin", ["package", "random"])
def test_lpips_matches_the_lpips_package(tmp_path, lin):
    alex = write_alexnet(tmp_path / "alexnet-owt-7be5be79.pth")
    lin_arg = "-" if lin == "package" else write_lin(tmp_path / "alex_lin.pth")
    a = _images(4, 64, 48, seed=2).astype(np.float32).transpose(0, 3, 1, 2) / 127.5 - 1
    b = _images(4, 64, 48, seed=3).astype(np.float32).transpose(0, 3, 1, 2) / 127.5 - 1
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    printed = _reference("lpips", alex, lin_arg, tmp_path / "a.npy", tmp_path / "b.npy", tmp_path / "ref.npy")
    lin_file = printed.strip().splitlines()[-1] if lin == "package" else lin_arg
    ref = np.load(tmp_path / "ref.npy")
    with torch.no_grad():
        ours = load_lpips([alex, lin_file])(torch.from_numpy(a), torch.from_numpy(b)).double().numpy()
    assert ref.shape == ours.shape == (4,) and (ref > 0).all()
    np.testing.assert_allclose(ours, ref, rtol=1e-5)


def test_fid_statistics_cache_is_reused_and_a_changed_file_invalidates_it(tmp_path):
    weights = write_torchvision_inception(tmp_path / "w.pth")
    real = tmp_path / "real"
    real.mkdir()
    for i, im in enumerate(_images(4, 64, 44, seed=4)):
        Image.fromarray(im).save(real / f"r{i}.png")
    paths = sorted(real.iterdir())
    ex = TorchvisionInception(weights)
    cache = tmp_path / "cache"
    mu1, s1, info1 = real_statistics(paths, ex, cache)
    assert not info1["cache_hit"] and Path(info1["cache"]).is_file()
    mu2, _, info2 = real_statistics(paths, ex, cache)
    assert info2["cache_hit"] and info2["cache"] == info1["cache"] and np.array_equal(mu1, mu2)
    # one image edited in place, same name, size and time stamp: the cache must not be used
    stat = paths[0].stat()
    arr = np.asarray(Image.open(paths[0])).copy()
    arr[0, 0] = 255 - arr[0, 0]
    Image.fromarray(arr).save(paths[0])
    os.utime(paths[0], ns=(stat.st_atime_ns, stat.st_mtime_ns))
    mu3, _, info3 = real_statistics(paths, ex, cache)
    assert not info3["cache_hit"] and info3["cache"] != info1["cache"] and not np.array_equal(mu1, mu3)
    # a removed image too
    _, _, info4 = real_statistics(paths[1:], ex, cache)
    assert not info4["cache_hit"] and info4["real_images"] == 3
    # the statistics are those of the features themselves
    f = ex([np.asarray(Image.open(p).convert("RGB")) for p in paths])
    np.testing.assert_allclose(mu3, f.mean(0), rtol=1e-9, atol=1e-12)


def test_random_weights_end_to_end_fid_of_a_set_against_itself_is_zero(tmp_path):
    """`poseshift evaluate` on a published layout with torchvision-format random weights: the
    generated images are the training images themselves, so the papers' FID is 0; LPIPS of a
    render against its own ground truth is 0 too, and the report names both protocols."""
    from poseshift.cli import main

    root = mock_published(tmp_path / "df", "deepfashion", people=(5, 5))
    train = sorted((root / "train").iterdir())
    pairs = [line.split(",") for line in (root / "fasion-resize-pairs-test.csv").read_text().split()[1:]]
    gen = tmp_path / "gen"
    gen.mkdir()
    for (src, tgt), real in zip(pairs, train):
        Image.open(real).convert("RGB").save(gen / f"{Path(src).stem}___{Path(tgt).stem}.png")
    inc = write_torchvision_inception(tmp_path / "inception_v3_google-0cc3c7bd.pth")
    alex, lin = write_alexnet(tmp_path / "alexnet.pth"), write_lin(tmp_path / "lin.pth")
    out = tmp_path / "eval"
    assert main(["evaluate", "--data", str(root), "--generated", str(gen), "--out", str(out),
                 "--metrics", "fid", "lpips", "--inception-weights", str(inc), "--lpips-weights", str(alex),
                 str(lin), "--fid-cache", str(tmp_path / "cache"), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    fid, lp = report["metrics"]["fid"], report["metrics"]["lpips"]
    assert fid["n"] == 5 and fid["settings"]["real_images"] == 5 and "torchvision" in fid["settings"]["network"]
    f = TorchvisionInception(inc)([np.asarray(Image.open(p).convert("RGB")) for p in train])
    scale = np.trace(np.cov(f, rowvar=False))  # FID's own scale; 0 up to float rounding of it
    assert scale > 1 and abs(fid["value"]) < 1e-5 * scale  # sqrt of ~2,000 rounding-level eigenvalues
    assert lp["n"] == 5 and lp["value"] > 0  # renders are other images than their ground truths
    # against its own ground truth, LPIPS is 0; against other images it grows
    model = load_lpips([alex, lin])
    x = torch.from_numpy(_images(2, 64, 48, seed=5).astype(np.float32).transpose(0, 3, 1, 2) / 127.5 - 1)
    with torch.no_grad():
        assert model(x, x).abs().max() < 1e-6 and (model(x, x.flip(0)) > 0).all()


def test_papers_fid_grows_with_a_colour_shift_and_skips_without_weights(tmp_path):
    weights = write_torchvision_inception(tmp_path / "w.pth")
    real = tmp_path / "real"
    real.mkdir()
    ims = _images(6, 64, 44, seed=6)
    for i, im in enumerate(ims):
        Image.fromarray(im).save(real / f"r{i}.png")

    def fid(shift):
        opts = MetricOptions(inception_weights=weights, real_images=sorted(real.iterdir()),
                             stats_cache=tmp_path / "cache")
        m = create_metric("fid", opts)
        gen = [np.clip(im.astype(int) + shift, 0, 255).astype(np.uint8) for im in ims]
        m.update([PairSample(i, "a", "b", None, g, g) for i, g in enumerate(gen)])
        return m.result()["value"]

    values = [fid(s) for s in (0, 40, 120)]
    f = TorchvisionInception(weights)(list(ims))
    scale = np.trace(np.cov(f, rowvar=False))
    assert abs(values[0]) < 1e-5 * scale and abs(fid_from_features(f, f)) < 1e-5 * scale
    assert 1e-3 * scale < values[1] < values[2]
    from poseshift.metrics import MetricSkipped
    with pytest.raises(MetricSkipped, match="inception_v3_google"):
        create_metric("fid", MetricOptions(real_images=sorted(real.iterdir())))
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not weights")
    with pytest.raises(MetricSkipped, match="bad.pth"):
        create_metric("fid", MetricOptions(inception_weights=bad, real_images=sorted(real.iterdir())))
