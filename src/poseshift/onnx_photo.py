"""The photo-resolution ONNX graph: ``Reposer.render_in_frame`` (what ``poseshift transfer`` writes)
for photos of one fixed size, letterbox, belief maps, G and the full-resolution warp inside.

``export_photo_onnx(ckpt, "photo.onnx", 256, 176)`` writes ``photo.onnx`` and ``photo.json``.
Inputs are what a graph cannot compute: ``photo`` (uint8 [H,W,3]) and, for a warping G
(``model.g_arch: warp`` or ``flow``), ``source_keypoints`` and ``target_keypoints`` ([18,2], the
photo's pixels, NaN missing), ``silhouette`` (float32 [H,W] in [0,1]) and ``scene`` (uint8
[H,W,3], the photo with the person inpainted), which poseshift gets from MediaPipe and OpenCV
(``Reposer.scene``); the paper's G takes only ``photo`` and ``target_keypoints``. Output
``render``: uint8 [H,W,3]. Retargeting (``poseshift.pose.retarget.retarget``), ``--adapt`` and
``--bf16`` are not in the graph.

The letterbox is Pillow's BICUBIC resize (``frames.fit_to_frame``) redone exactly: its integer
coefficients as two float64 matrices, each pass rounded to uint8 as Pillow rounds it. Which pass
Pillow does first differs between its versions; the export asks the installed Pillow (a resize
of noise at the fixed size) and records the answer in the sidecar. ``check_photo_onnx`` renders
a synthetic person both ways and gives the largest difference in uint8 levels.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter
from torch import nn
from torch.nn import functional as F

from poseshift.bicubic import BicubicResize
from poseshift.files import atomic_write_text
from poseshift.letterbox import _fill, plan_fit
from poseshift.nets.warping import Photo
from poseshift.onnx_sidecar import photo_sidecar
from poseshift.pose.heatmaps import belief_maps, sigma_pixels

__all__ = ["PhotoGraph", "export_photo_onnx", "check_photo_onnx", "run_photo_onnx", "parse_photo_size"]

log = logging.getLogger(__name__)

SIDES = (16, 2048)  # a photo side the export takes: the warp at 2048 x 2048 needs several GB while tracing


def parse_photo_size(text: str) -> tuple[int, int]:
    """``"256x176"`` -> (256, 176): the photo's height and width in pixels."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", str(text))
    if not m:
        raise ValueError(f"--full-resolution {text!r}: give the photo's size as HEIGHTxWIDTH, e.g. 256x176")
    h, w = int(m.group(1)), int(m.group(2))
    if not (SIDES[0] <= h <= SIDES[1] and SIDES[0] <= w <= SIDES[1]):
        raise ValueError(f"--full-resolution {text}: each side must be {SIDES[0]} to {SIDES[1]} pixels")
    return h, w


class PhotoGraph(nn.Module):
    """``render_in_frame`` for an H x W photo as one traceable module (see the module's docstring)."""

    def __init__(self, generator: nn.Module, config, height: int, width: int):
        super().__init__()
        self.generator, self.height, self.width = generator, height, width
        self.size = config.model.image_size
        self.fit = plan_fit(height, width, self.size, self.size, config.data.fit)
        self.sigma = sigma_pixels(self.size, config.pose.sigma_frac)
        self.warp = bool(getattr(generator, "needs_source_pose", False))
        if self.warp and not hasattr(generator, "render_photo"):
            raise ValueError(f"{type(generator).__name__} has no full-resolution render (render_photo)")
        _, _, bw, bh = self.fit.box
        self.letterbox = BicubicResize(height, width, bh, bw)
        self.unfit = None if self.warp else BicubicResize(bh, bw, height, width)
        pad = torch.from_numpy(_fill(config.data.pad_value).astype(np.float64))[:, None, None]
        self.register_buffer("pad", pad, persistent=False)
        f = self.fit
        self.register_buffer("kp_scale", torch.tensor([f.scale_x, f.scale_y]), persistent=False)
        self.register_buffer("kp_offset", torch.tensor([f.offset_x, f.offset_y]), persistent=False)

    def pillow_difference(self) -> int:
        """The largest difference of this graph's resizes from the installed Pillow's (0: exact)."""
        return max(r.pillow_difference for r in (self.letterbox, self.unfit) if r is not None)

    def input_names(self) -> list[str]:
        if self.warp:
            return ["photo", "source_keypoints", "target_keypoints", "silhouette", "scene"]
        return ["photo", "target_keypoints"]

    def frame(self, image: torch.Tensor, pad) -> torch.Tensor:
        """[C,H,W] float64 uint8 values -> [C,S,S]: ``fit_to_frame`` (resized, placed on ``pad``)."""
        x, y, bw, bh = self.fit.box
        S = self.size
        return F.pad(self.letterbox(image) - pad, (x, S - x - bw, y, S - y - bh)) + pad

    def to_model(self, kp: torch.Tensor) -> torch.Tensor:
        """[18,2] photo pixels -> [1,18,2] in the model's frame (``FrameFit.apply``)."""
        return (kp * self.kp_scale + self.kp_offset)[None]

    def forward(self, photo, *rest):
        if self.warp:
            source_keypoints, target_keypoints, silhouette, scene = rest
        else:
            (target_keypoints,) = rest
        S = self.size
        image = photo.permute(2, 0, 1).to(torch.float64)
        x = (self.frame(image, self.pad).float() / 127.5 - 1)[None]
        kp_f = self.to_model(target_keypoints.float())
        maps = belief_maps(kp_f, S, S, self.sigma)
        if not self.warp:  # the model-frame render, its letterbox undone (FrameFit.unfit)
            bx, by, bw, bh = self.fit.box
            render = _levels(self.generator(x, maps)[0])[:, by:by + bh, bx:bx + bw]
            return self.unfit(render.to(torch.float64)).to(torch.uint8).permute(1, 2, 0)
        kp_o = self.to_model(source_keypoints.float())
        sil8 = torch.round(silhouette.float() * 255).clamp(0, 255)
        sil_m = (self.frame(sil8.to(torch.float64)[None], 0.0).float() / 255)[None]
        scene_m = (self.frame(scene.permute(2, 0, 1).to(torch.float64), self.pad).float() / 127.5 - 1)[None]
        full = Photo(photo.permute(2, 0, 1).float()[None] / 127.5 - 1, source_keypoints.float()[None],
                     target_keypoints.float()[None], silhouette.float()[None, None],
                     scene.permute(2, 0, 1).float()[None] / 127.5 - 1, self.fit.box, S)
        render = self.generator.render_photo(x, maps, kp_o, kp_f, sil_m, scene_m, full)[0]
        return _levels(render).to(torch.uint8).permute(1, 2, 0)


def _levels(t: torch.Tensor) -> torch.Tensor:
    """[-1,1] -> uint8 levels 0..255 as floats, rounded as ``images.to_uint8`` rounds them."""
    return t.float().clamp(-1, 1).add(1).mul(127.5).round()


def _build(checkpoint, height: int, width: int) -> tuple[PhotoGraph, object]:
    from poseshift.loading import load_inference_generator

    generator, ckpt = load_inference_generator(checkpoint)
    return PhotoGraph(generator.eval(), ckpt.config, height, width).eval(), ckpt


def example_inputs(model: PhotoGraph, seed: int = 0) -> dict[str, np.ndarray]:
    """Every input of a full-resolution graph (the paper's G takes photo and target_keypoints): a
    synthetic person (poseshift.synth) cut to the graph's H x W, their own pose, a target pose
    retargeted onto them, their mask softened at the edge and the scene inpainted behind them."""
    from poseshift.pose.retarget import retarget
    from poseshift.synth import render, sample_person, sample_pose
    from poseshift.warp import inpaint_background

    rng = np.random.default_rng(seed)
    h, w, side = model.height, model.width, max(model.height, model.width)
    person = sample_person(rng)
    image, src, mask = render(person, sample_pose(rng), 0.3, side, background="plain", rng=rng)
    _, tgt, _ = render(person, sample_pose(rng), -0.4, side, background="plain", rng=rng)
    oy, ox = (side - h) // 2, (side - w) // 2
    shift = np.array([ox, oy], np.float32)
    src, tgt = src - shift, retarget(tgt - shift, src - shift)
    tgt[-1] = np.nan  # the left ear: always a missing joint
    blurred = Image.fromarray(mask[oy:oy + h, ox:ox + w].astype(np.uint8) * 255).filter(ImageFilter.GaussianBlur(1.0))
    sil = np.asarray(blurred, np.float32) / 255  # a soft edge, as a segmenter's mask has
    photo = np.ascontiguousarray(image[oy:oy + h, ox:ox + w])
    return {"photo": photo, "source_keypoints": src.astype(np.float32), "target_keypoints": tgt.astype(np.float32),
            "silhouette": sil, "scene": inpaint_background(photo, sil)}


def export_photo_onnx(checkpoint: str | Path, out: str | Path, height: int, width: int, opset: int | None = None,
                      *, overwrite: bool = False) -> Path:
    """Write ``render_in_frame`` for ``height`` x ``width`` photos as ONNX to ``out`` and its
    description to ``out.with_suffix('.json')``; -> ``out``."""
    from poseshift.onnx_export import _quiet, _require, _translations

    out = Path(out)
    if out.suffix != ".onnx":
        raise ValueError(f"{out}: an ONNX file's name must end with .onnx")
    if opset is not None and opset < 18:
        raise ValueError(f"opset {opset}: the dynamo exporter writes opset 18 or newer")
    parse_photo_size(f"{height}x{width}")
    side = out.with_suffix(".json")
    for path in (out, side):
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; not overwriting it (overwrite=True replaces it)")
    _require("onnx", "onnxscript")
    from onnxscript.optimizer import fold_constants, remove_unused_nodes

    start = time.perf_counter()
    model, ckpt = _build(checkpoint, height, width)
    if model.pillow_difference():
        log.warning("this Pillow's BICUBIC resize of a %dx%d photo is not the one poseshift reproduces (up to %d "
                    "levels apart): the export's letterbox differs from transfer's", height, width,
                    model.pillow_difference())
    feeds = example_inputs(model)
    args = tuple(torch.from_numpy(feeds[n]) for n in model.input_names())
    with _quiet(), torch.no_grad():
        # onnxscript's pattern rewriter would take minutes on a graph this size (two warps, one of
        # them at the photo's resolution); constant folding alone takes a second
        program = torch.onnx.export(model, args, None, input_names=model.input_names(), output_names=["render"],
                                    opset_version=opset, dynamo=True, verbose=False, optimize=False,
                                    custom_translation_table=_translations())
        fold_constants(program.model)
        remove_unused_nodes(program.model)
    out.parent.mkdir(parents=True, exist_ok=True)
    program.save(str(out), external_data=False)
    used = max(o.version for o in program.model_proto.opset_import if o.domain in ("", "ai.onnx"))
    doc = photo_sidecar(model, ckpt, used, Path(checkpoint), time.perf_counter() - start)
    atomic_write_text(side, json.dumps(doc, indent=2) + "\n")
    return out


def run_photo_onnx(onnx_path: str | Path, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """onnxruntime's render of a full-resolution graph (the recipe of docs/inference.md), its
    inputs checked first: uint8 [H,W,3] -> uint8 [H,W,3]."""
    from poseshift.onnx_export import _require

    (ort,) = _require("onnxruntime")
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    given = {}
    for i in session.get_inputs():
        if i.name not in feeds:
            raise ValueError(f"{onnx_path}: input {i.name} is missing")
        a = np.asarray(feeds[i.name])
        if list(a.shape) != list(i.shape):
            raise ValueError(f"{onnx_path}: {i.name} is {list(a.shape)}, the graph takes {i.shape} "
                             "(export one for this photo size: poseshift export --full-resolution HxW)")
        if i.type == "tensor(uint8)" and a.dtype != np.uint8:
            raise ValueError(f"{onnx_path}: {i.name} must be uint8 levels 0..255, got {a.dtype}")
        given[i.name] = a if i.type == "tensor(uint8)" else a.astype(np.float32)
    return session.run(["render"], given)[0]


def check_photo_onnx(checkpoint: str | Path, onnx_path: str | Path, seed: int = 0) -> int:
    """Largest difference in uint8 levels between onnxruntime's render and
    ``Reposer.render_in_frame`` on a synthetic person of the graph's size: the same photo, poses,
    silhouette and scene on both sides (the silhouette reaches Reposer through a silhouette cache
    of this call's own, so no MediaPipe runs and the user's cache is untouched)."""
    from poseshift.transfer import Reposer

    side = json.loads(Path(onnx_path).with_suffix(".json").read_text())
    model, _ = _build(checkpoint, *side["photo_size"])
    feeds = example_inputs(model, seed)
    got = run_photo_onnx(onnx_path, feeds)
    with _private_cache():
        if model.warp:
            seed_silhouette(feeds["photo"], feeds["silhouette"])
        reposer = Reposer.from_checkpoint(checkpoint, device="cpu")
        try:
            want = reposer.render_in_frame(feeds["photo"], feeds["target_keypoints"],
                                           feeds.get("source_keypoints"), retarget=False)
        finally:
            reposer.close()
    return int(np.abs(got.astype(np.int16) - want).max())


@contextlib.contextmanager
def _private_cache():
    """$POSESHIFT_CACHE set to a temporary folder for the block."""
    old = os.environ.get("POSESHIFT_CACHE")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["POSESHIFT_CACHE"] = tmp
        try:
            yield Path(tmp)
        finally:
            if old is None:
                del os.environ["POSESHIFT_CACHE"]
            else:
                os.environ["POSESHIFT_CACHE"] = old


def seed_silhouette(photo: np.ndarray, silhouette: np.ndarray) -> None:
    """Store ``silhouette`` as ``photo``'s mask in the silhouette cache ($POSESHIFT_CACHE), so that
    Reposer uses it instead of MediaPipe's. It must hold multiples of 1/255 (a cached mask's steps)."""
    from poseshift.silhouette import SilhouetteCache

    levels = np.round(np.asarray(silhouette, np.float32) * 255)
    if not np.array_equal(levels.astype(np.float32) / 255, silhouette):
        raise ValueError("a cached silhouette holds multiples of 1/255; round the mask first")
    path = SilhouetteCache().path_for(photo)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(levels.astype(np.uint8)).save(path)
