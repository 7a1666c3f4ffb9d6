"""ONNX export of the generators: onnxruntime answers what PyTorch does, the sidecar says how to feed it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

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
    out = export_onnx(SHIPPED, tmp_path / "g.onnx")
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
    out.write_bytes(b"mine")
    export_onnx(SHIPPED, out, overwrite=True)
    assert out.stat().st_size > 1000 and json.loads((tmp_path / "g.json").read_text())["image_size"] == 64


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
