"""Export a poseshift generator to ONNX, with a JSON sidecar that says how to feed it.

``export_onnx(ckpt, "g.onnx")`` writes ``g.onnx`` (one file, weights inside) and ``g.json``.
Inputs ``image`` and ``pose_maps`` (the paper's G), plus ``source_keypoints`` and ``target_keypoints``
for ``model.g_arch: warp``, dynamic batch; output ``render``. ``torch.onnx.export(..., dynamo=True)``
makes it; the ops of the warp that ONNX lacks are translated here: ``linalg.inv`` of 2x2 matrices
(closed form), ``median`` along a dimension (TopK) and ``hypot`` (the square root of a sum of
squares). NaN keypoints (missing joints) go through as they are (``isnan`` / ``nan_to_num`` /
``where`` export as such). ``check_onnx`` measures the match. ``poseshift.onnx_photo`` exports the
whole full-resolution render of ``poseshift transfer`` for photos of one size.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from poseshift.files import atomic_write_text
from poseshift.loading import load_inference_generator
from poseshift.onnx_sidecar import model_sidecar
from poseshift.pose.heatmaps import belief_maps, sigma_pixels
from poseshift.pose.schema import NUM_JOINTS

__all__ = ["export_onnx", "check_onnx"]

KP_NAMES = ("source_keypoints", "target_keypoints")


def _require(*modules: str) -> list:
    try:
        return [importlib.import_module(m) for m in modules]
    except ImportError:
        from poseshift.extras import missing_extra

        raise missing_extra("ONNX export", "export") from None


class OnnxGenerator(nn.Module):
    """G with exactly the inputs it needs: (image, pose_maps) or, for a warping G, also the
    source and target keypoints."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator
        self.warp = bool(getattr(generator, "needs_source_pose", False))

    def input_names(self) -> list[str]:
        return ["image", "pose_maps", *(KP_NAMES if self.warp else ())]

    def forward(self, image, pose_maps, source_keypoints=None, target_keypoints=None):
        return self.generator(image, pose_maps, source_keypoints, target_keypoints)


def _translations() -> dict:
    """ONNX translations of the aten ops the warp uses and the exporter has none for."""
    import onnx_ir as ir
    from onnxscript import opset18 as op

    def c(v):
        return op.Constant(value=ir.tensor(v, dtype=ir.DataType.INT64))

    def inv2x2(a):  # [..., 2, 2]: the adjugate over the determinant
        def el(i, j):
            return op.Slice(a, c([i, j]), c([i + 1, j + 1]), c([-2, -1]))
        p, q, r, s = el(0, 0), el(0, 1), el(1, 0), el(1, 1)
        adj = op.Concat(op.Concat(s, op.Neg(q), axis=-1), op.Concat(op.Neg(r), p, axis=-1), axis=-2)
        return op.Div(adj, op.Sub(op.Mul(p, s), op.Mul(q, r)))

    def median_dim(x, dim: int = -1, keepdim: bool = False):  # torch's lower median
        k = op.Add(op.Div(op.Sub(op.Gather(op.Shape(x), c([dim])), c([1])), c([2])), c([1]))
        v, i = op.TopK(x, k, axis=dim, largest=0, sorted=1)
        v, i = (op.Slice(t, c([-1]), c([2**62]), c([dim])) for t in (v, i))
        return (v, i) if keepdim else (op.Squeeze(v, c([dim])), op.Squeeze(i, c([dim])))

    def hypot(x, y):  # ONNX has no Hypot: sqrt(x^2 + y^2) (lengths of pixels and bones, far from overflow)
        return op.Sqrt(op.Add(op.Mul(x, x), op.Mul(y, y)))

    return {torch.ops.aten.linalg_inv.default: inv2x2, torch.ops.aten.median.dim: median_dim,
            torch.ops.aten.hypot.default: hypot, torch.ops.prims.hypot.default: hypot}


# COCO-18 joints of a person facing the camera, as shares of the frame (x, y).
STANDING = [
    (0.50, 0.12), (0.50, 0.22), (0.40, 0.22), (0.36, 0.38), (0.34, 0.52), (0.60, 0.22),
    (0.64, 0.38), (0.66, 0.52), (0.44, 0.52), (0.43, 0.70), (0.43, 0.88), (0.56, 0.52),
    (0.57, 0.70), (0.57, 0.88), (0.48, 0.10), (0.52, 0.10), (0.46, 0.11), (0.54, 0.11),
]


def _example(model: OnnxGenerator, size: int, batch: int, sigma: float, seed: int) -> tuple:
    """Random but realistic inputs: a smooth image in [-1,1] and the belief maps (and keypoints)
    of a jittered standing pose with some joints missing (NaN)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(batch, 3, 6, 6, generator=g) * 2 - 1
    image = nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    image = (image + 0.1 * torch.randn(image.shape, generator=g)).clamp(-1, 1)

    def pose():
        base = torch.tensor(STANDING)[None] * (0.8 + 0.2 * torch.rand(batch, 1, 1, generator=g))
        shift = 0.1 * torch.rand(batch, 1, 2, generator=g)
        kp = (base + shift + 0.03 * torch.randn(batch, NUM_JOINTS, 2, generator=g)) * (size - 1)
        kp[torch.rand(batch, NUM_JOINTS, generator=g) < 0.15] = float("nan")
        kp[0, 4] = float("nan")  # the first sample always misses a wrist
        return kp
    src, tgt = pose(), pose()
    args = (image, belief_maps(tgt, size, size, sigma))
    return args + (src, tgt) if model.warp else args


def _load(checkpoint) -> tuple[OnnxGenerator, object, int, float]:
    generator, ckpt = load_inference_generator(checkpoint)
    size = ckpt.config.model.image_size
    return OnnxGenerator(generator).eval(), ckpt, size, sigma_pixels(size, ckpt.config.pose.sigma_frac)


@contextlib.contextmanager
def _quiet():
    """Silence the exporter's progress prints, warnings and log lines; no opt_einsum (its
    contraction path would fix the batch size while tracing)."""
    logs = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript")]
    levels, einsum = [log.level for log in logs], torch.backends.opt_einsum.enabled
    for log in logs:
        log.setLevel(logging.ERROR)
    torch.backends.opt_einsum.enabled = False
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for log, level in zip(logs, levels):
            log.setLevel(level)
        torch.backends.opt_einsum.enabled = einsum


def export_onnx(checkpoint: str | Path, out: str | Path, opset: int | None = None, *, overwrite: bool = False) -> Path:
    """Write the checkpoint's inference generator as ONNX to ``out`` (``.onnx``) and its
    description to ``out.with_suffix('.json')``; -> ``out``."""
    out = Path(out)
    if out.suffix != ".onnx":
        raise ValueError(f"{out}: an ONNX file's name must end with .onnx")
    if opset is not None and opset < 18:
        raise ValueError(f"opset {opset}: the dynamo exporter writes opset 18 or newer")
    side = out.with_suffix(".json")
    for path in (out, side):
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; not overwriting it (overwrite=True replaces it)")
    _require("onnx", "onnxscript")
    from onnxscript.optimizer import fold_constants, remove_unused_nodes

    model, ckpt, size, sigma = _load(checkpoint)
    args = _example(model, size, 2, sigma, 0)
    names = model.input_names()
    batch = torch.export.Dim("batch", min=1, max=4096)  # a bound traces faster; ONNX keeps none
    with _quiet(), torch.no_grad():
        program = torch.onnx.export(
            model, args, None, input_names=names, output_names=["render"], opset_version=opset,
            dynamic_shapes={n: {0: batch} for n in names}, dynamo=True, verbose=False, optimize=False,
            custom_translation_table=_translations())
        # constant folding only: onnxscript's pattern rewriter takes most of an export's time
        fold_constants(program.model)
        remove_unused_nodes(program.model)
    out.parent.mkdir(parents=True, exist_ok=True)
    program.save(str(out), external_data=False)
    used = max(o.version for o in program.model_proto.opset_import if o.domain in ("", "ai.onnx"))
    doc = model_sidecar(model.warp, ckpt, sigma, used, Path(checkpoint))
    atomic_write_text(side, json.dumps(doc, indent=2) + "\n")
    return out


def check_onnx(checkpoint: str | Path, onnx_path: str | Path, batch: int = 2, seed: int = 0) -> float:
    """Max abs difference between onnxruntime's and PyTorch's renders on ``batch`` random inputs."""
    (ort,) = _require("onnxruntime")
    model, _, size, sigma = _load(checkpoint)
    args = _example(model, size, batch, sigma, seed)
    with torch.no_grad():
        ref = model(*args).numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feeds = {name: a.numpy() for name, a in zip(model.input_names(), args)}
    if missing := {i.name for i in session.get_inputs()} ^ set(feeds):
        raise ValueError(f"{onnx_path}: inputs {sorted(missing)} do not match this checkpoint's generator")
    (got,) = session.run(["render"], feeds)
    return float(abs(got - ref).max())
