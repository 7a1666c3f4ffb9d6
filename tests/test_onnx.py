"""ONNX export of the generators: onnxruntime answers what PyTorch does, the sidecar says how to feed it."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import poseshift
from poseshift.pose.heatmaps import sigma_pixels
from tests.helpers import figures, micro_config

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from poseshift.onnx_export import check_onnx, export_onnx  # noqa: E402

SHIPPED = Path(poseshift.__file__).parent / "assets/synthetic-64.safetensors"
TOL = 1e-3


def _inputs(onnx_path: Path) -> dict[str, list]:
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    return {i.name: i.shape for i in session.get_inputs()}


def test_shipped_generator(tmp_path):
    (tmp_path / "g.onnx").write_bytes(b"mine")  # replaced with overwrite=True
    out = export_onnx(SHIPPED, tmp_path / "g.onnx", overwrite=True)
    assert out.stat().st_size > 1000
    assert out == tmp_path / "g.onnx" and sorted(p.name for p in tmp_path.iterdir()) == ["g.json", "g.onnx"]
    side = json.loads((tmp_path / "g.json").read_text())
    # the packaged model is the flow G (docs/warp.md): besides (I, p) it takes both poses
    assert side["g_arch"] == "flow"
    names = ["image", "pose_maps", "source_keypoints", "target_keypoints"]
    assert [i["name"] for i in side["inputs"]] == names
    assert side["inputs"][0]["shape"] == ["batch", 3, 64, 64] and side["inputs"][0]["range"] == [-1.0, 1.0]
    assert side["outputs"][0]["name"] == "render" and side["image_size"] == 64
    assert side["sigma_pixels"] == pytest.approx(sigma_pixels(64, side["sigma_frac"]))
    assert side["checkpoint"] == SHIPPED.name and side["opset"] >= 18
    shapes = _inputs(out)
    assert list(shapes) == names and isinstance(shapes["image"][0], str)  # dynamic batch
    assert check_onnx(SHIPPED, out) <= TOL
    assert check_onnx(SHIPPED, out, batch=3, seed=1) <= TOL


@pytest.mark.parametrize("arch", ["warp", "flow"])
def test_warp_generator(tmp_path, arch):
    from poseshift.training import Trainer

    Trainer(micro_config(f"model.g_arch={arch}"), figures(tmp_path), tmp_path / "run", progress=False,
            psi_pretrained=False).train(max_steps=1)
    ckpt = tmp_path / "run/checkpoints/last.safetensors"
    out = export_onnx(ckpt, tmp_path / "warp.onnx")
    names = ["image", "pose_maps", "source_keypoints", "target_keypoints"]
    assert list(_inputs(out)) == names
    side = json.loads(out.with_suffix(".json").read_text())
    assert [i["name"] for i in side["inputs"]] == names and side["g_arch"] == arch
    assert side["inputs"][2]["shape"] == ["batch", 18, 2] and "NaN" in side["inputs"][2]["meaning"]
    # the random inputs miss joints (NaN keypoints); a NaN in the render would fail the comparison
    assert check_onnx(ckpt, out) <= TOL
    assert check_onnx(ckpt, out, batch=1, seed=2) <= TOL


def test_refuses_to_overwrite(tmp_path):
    out = tmp_path / "g.onnx"
    out.write_bytes(b"mine")
    with pytest.raises(FileExistsError, match="g.onnx exists"):
        export_onnx(SHIPPED, out)
    out.unlink()
    (tmp_path / "g.json").write_text("{}")
    with pytest.raises(FileExistsError, match="g.json exists"):
        export_onnx(SHIPPED, out)
    assert not out.exists() and (tmp_path / "g.json").read_text() == "{}"
    with pytest.raises(ValueError, match=r"\.onnx"):
        export_onnx(SHIPPED, tmp_path / "g.onx")
    # overwrite=True replacing a file: test_shipped_generator


def test_export_infers_onnx_from_the_extension(tmp_path, capsys, monkeypatch):
    """--out g.onnx without --format is an ONNX export (the export itself: test_shipped_generator)."""
    import poseshift.onnx_export
    from poseshift.cli import main

    calls = []

    def export(ckpt, out, overwrite=False):
        calls.append(Path(out).name)
        Path(out).write_bytes(b"onnx")
        Path(out).with_suffix(".json").write_text("{}")
        return Path(out)

    monkeypatch.setattr(poseshift.onnx_export, "export_onnx", export)
    monkeypatch.setattr(poseshift.onnx_export, "check_onnx", lambda ckpt, out: 0.0)
    assert main(["export", "--checkpoint", "synthetic-64", "--out", str(tmp_path / "g.onnx")]) == 0
    assert calls == ["g.onnx"] and sorted(p.name for p in tmp_path.iterdir()) == ["g.json", "g.onnx"]
    assert "onnxruntime" in capsys.readouterr().out
    assert main(["export", "--checkpoint", "synthetic-64", "--out", str(tmp_path / "g.bin")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "g.bin" in err[0] and ".onnx" in err[0] and not (tmp_path / "g.bin").exists()
    assert main(["export", "--checkpoint", "synthetic-64", "--out", str(tmp_path / "h.safetensors")]) == 0
    assert calls == ["g.onnx"] and (tmp_path / "h.safetensors").stat().st_size > 1000  # safetensors by extension


# --- the full-resolution graph: poseshift transfer's render of a photo of one size ---------------

PHOTO = (120, 88)  # a synthetic person's photo, taller than wide (synthetic-64 stretches it: data.fit resize)


@pytest.fixture(scope="module")
def photo_graph(tmp_path_factory):
    import time

    from poseshift.onnx_photo import export_photo_onnx

    out = tmp_path_factory.mktemp("photo") / "photo.onnx"
    start = time.perf_counter()
    export_photo_onnx(SHIPPED, out, *PHOTO)
    print(f"full-resolution export: {time.perf_counter() - start:.1f} s")
    return out


def test_full_resolution_graph_is_transfers_render(photo_graph):
    """The recipe of docs/inference.md (onnxruntime and numpy) against Reposer.render_in_frame on the
    same photo, poses, silhouette and scene: at most 2 uint8 levels apart."""
    from poseshift.onnx_photo import _build, example_inputs, seed_silhouette
    from poseshift.transfer import Reposer

    side = json.loads(photo_graph.with_suffix(".json").read_text())
    names = ["photo", "source_keypoints", "target_keypoints", "silhouette", "scene"]
    assert [i["name"] for i in side["inputs"]] == names and side["photo_size"] == list(PHOTO)
    assert side["format"] == "poseshift-onnx-photo-1" and side["g_arch"] == "flow" and side["image_size"] == 64
    assert side["inputs"][0]["dtype"] == "uint8" and side["inputs"][0]["shape"] == [*PHOTO, 3]
    assert side["inputs"][3]["shape"] == list(PHOTO) and side["inputs"][3]["range"] == [0.0, 1.0]
    assert "NaN" in side["inputs"][1]["meaning"] and "retarget" in side["inputs"][2]["prepare"]
    out = side["outputs"][0]
    assert (out["name"], out["shape"], out["dtype"], out["range"]) == ("render", [*PHOTO, 3], "uint8", [0, 255])
    assert side["inside"]["letterbox"]["box_xywh"] == [0, 0, 64, 64]
    assert side["inside"]["letterbox"]["pillow_max_difference"] == 0  # the letterbox is Pillow's, exactly
    assert side["sigma_pixels"] == pytest.approx(sigma_pixels(64, side["sigma_frac"]))
    model, _ = _build(SHIPPED, *PHOTO)
    session = ort.InferenceSession(str(photo_graph), providers=["CPUExecutionProvider"])
    for seed in (0, 1):
        feeds = example_inputs(model, seed)  # synthetic person; the target misses a joint (NaN)
        assert np.isnan(feeds["target_keypoints"]).any()
        (got,) = session.run(None, feeds)
        seed_silhouette(feeds["photo"], feeds["silhouette"])  # Reposer reads it from the cache, not MediaPipe
        reposer = Reposer.from_checkpoint(SHIPPED, device="cpu")
        sil, scene = reposer.scene(feeds["photo"])  # the same inputs on both sides
        assert np.array_equal(sil, feeds["silhouette"]) and np.array_equal(scene, feeds["scene"])
        want = reposer.render_in_frame(feeds["photo"], feeds["target_keypoints"], feeds["source_keypoints"],
                                       retarget=False)
        assert got.dtype == np.uint8 and got.shape == want.shape == (*PHOTO, 3)
        diff = np.abs(got.astype(int) - want).max()
        print(f"seed {seed}: max difference {diff} uint8 levels")
        assert diff <= 2
        assert np.abs(got.astype(int) - feeds["photo"]).max() > 50  # the person did move


def test_full_resolution_graph_refuses_other_photos(photo_graph):
    from poseshift.onnx_photo import _build, check_photo_onnx, example_inputs, run_photo_onnx

    feeds = example_inputs(_build(SHIPPED, *PHOTO)[0], 2)
    with pytest.raises(ValueError, match=r"photo is \[88, 120, 3\].*--full-resolution"):
        run_photo_onnx(photo_graph, feeds | {"photo": np.ascontiguousarray(feeds["photo"].transpose(1, 0, 2))})
    with pytest.raises(ValueError, match="photo must be uint8"):
        run_photo_onnx(photo_graph, feeds | {"photo": feeds["photo"].astype(np.float32)})
    with pytest.raises(ValueError, match="scene is missing"):
        run_photo_onnx(photo_graph, {k: v for k, v in feeds.items() if k != "scene"})
    assert check_photo_onnx(SHIPPED, photo_graph, seed=2) <= 2  # what `poseshift export` prints


@pytest.mark.parametrize("arch,fit", [("flow", "pad"), ("resnet", "pad"), ("warp", "resize")])
def test_photo_graph_is_render_in_frame(arch, fit):
    """PhotoGraph in PyTorch, letterbox (Pillow's bicubic redone) and G alike, equals
    render_in_frame for micro models of each G, letterboxed or stretched (no export: fast)."""
    from poseshift.nets import build_generator
    from poseshift.onnx_photo import PhotoGraph, example_inputs, seed_silhouette
    from poseshift.transfer import Reposer

    cfg = micro_config(f"model.g_arch={arch}", f"data.fit={fit}", "data.pad_value=240")
    G = build_generator(cfg).eval()
    with torch.no_grad():  # a trained G's last layer is not zero: make G's answer depend on its input
        last = [m for m in G.modules() if isinstance(m, torch.nn.Conv2d)][-1]
        last.weight.normal_(0, 0.05)
    model = PhotoGraph(G, cfg, 75, 50).eval()
    feeds = example_inputs(model, 3)
    with torch.no_grad():
        got = model(*(torch.from_numpy(feeds[n]) for n in model.input_names())).numpy()
    seed_silhouette(feeds["photo"], feeds["silhouette"])
    want = Reposer(G, cfg, torch.device("cpu")).render_in_frame(feeds["photo"], feeds["target_keypoints"],
                                                                feeds["source_keypoints"], retarget=False)
    assert np.abs(got.astype(int) - want).max() <= 1
    if fit == "pad":
        assert model.fit.box != (0, 0, 32, 32)


def test_bicubic_is_pillows():
    from PIL import Image

    from poseshift.bicubic import BicubicResize

    rng = np.random.default_rng(0)
    for h, w, nh, nw in [(120, 88, 64, 64), (75, 50, 32, 21), (21, 32, 50, 75), (40, 30, 13, 50), (30, 40, 50, 13)]:
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        resize = BicubicResize(h, w, nh, nw)
        got = resize(torch.from_numpy(img).permute(2, 0, 1).double()).permute(1, 2, 0).numpy()
        assert resize.pillow_difference == 0
        assert np.array_equal(got, np.asarray(Image.fromarray(img).resize((nw, nh), Image.BICUBIC)))


def test_export_full_resolution_cli_errors(tmp_path, capsys):
    from poseshift.cli import main

    for size, out, words in [("12", "g.onnx", "HEIGHTxWIDTH"), ("8x64", "g.onnx", "16 to 2048"),
                             ("64x64", "g.safetensors", "only an ONNX export")]:
        assert main(["export", "--checkpoint", "synthetic-64", "--out", str(tmp_path / out),
                     "--full-resolution", size]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0], err
    assert not list(tmp_path.iterdir())
