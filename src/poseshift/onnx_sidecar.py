"""The JSON beside an exported ONNX graph: what it computes and how to feed it, exactly.

``model_sidecar`` describes G at the model's S x S frame (``poseshift export --out g.onnx``), whose
caller letterboxes the photo, moves the poses into the frame and draws the belief maps itself;
``photo_sidecar`` describes the full-resolution graph (``--full-resolution HxW``), which does all
of that inside and leaves only what a graph cannot compute to its caller.
"""
from __future__ import annotations

from pathlib import Path

from poseshift.pose.schema import JOINTS, NUM_JOINTS

__all__ = ["model_sidecar", "photo_sidecar"]

PIXELS = "x to the right, y down, the centre of the top-left pixel at (0, 0)"
OUTPUT = "round((clamp(render, -1, 1) + 1) * 127.5) as uint8 (poseshift.images.to_uint8)"


def _tensor(name, shape, dtype, value_range, units, meaning, prepare) -> dict:
    return {"name": name, "shape": list(shape), "dtype": dtype, "range": value_range, "units": units,
            "meaning": meaning, "prepare": prepare}


def _xy_range(h: int, w: int) -> dict:
    return {"x": [0, w - 1], "y": [0, h - 1], "outside": "allowed", "missing": "NaN"}


def _letterbox(cfg) -> dict:
    """How a photo of any h x w enters the S x S frame (poseshift.letterbox.plan_fit / fit_to_frame)."""
    S = cfg.model.image_size
    rule = {"pad": f"s = min({S}/w, {S}/h); box w' = min({S}, max(1, round(w*s))), h' likewise; box x = "
                   f"({S} - w') // 2, y = ({S} - h') // 2",
            "resize": f"the photo stretched to {S}x{S}; box (0, 0, {S}, {S})"}[cfg.data.fit]
    return {"fit": cfg.data.fit, "pad_value": cfg.data.pad_value, "box": rule,
            "image": f"the uint8 photo resized to the box with Pillow BICUBIC, placed at the box on a "
                     f"{S}x{S} frame of pad_value (poseshift.letterbox.fit_to_frame), then v / 127.5 - 1",
            "keypoints": "fx = w'/w, fy = h'/h; x' = x * fx + box_x + 0.5 * fx - 0.5, y' = y * fy + box_y + "
                         "0.5 * fy - 0.5 (FrameFit.apply); NaN stays NaN",
            "undo": "the render cropped to the box and resized to h x w with Pillow BICUBIC (FrameFit.unfit)"}


def _maps(sigma: float, size: int) -> str:
    return (f"B_j[v, u] = exp(-((u - x'_j)^2 + (v - y'_j)^2) / (2 * {sigma:g}^2)) over the {size}x{size} pixel "
            "grid (u column, v row), one map per joint in COCO-18 order; all zero for a missing (NaN) joint "
            "(poseshift.pose.heatmaps.belief_maps, eq. 1)")


def _head(ckpt, checkpoint: Path, sigma: float, opset: int) -> dict:
    cfg = ckpt.config
    return {"checkpoint": checkpoint.name, "step": ckpt.state.get("step"), "g_arch": cfg.model.g_arch,
            "image_size": cfg.model.image_size, "sigma_pixels": sigma, "sigma_frac": cfg.pose.sigma_frac,
            "joints": list(JOINTS), "opset": opset, "exporter": "torch.onnx.export(dynamo=True)"}


def model_sidecar(warp: bool, ckpt, sigma: float, opset: int, checkpoint: Path) -> dict:
    """G at the model's frame: inputs image, pose_maps (and both poses for a warping G), output render."""
    S = ckpt.config.model.image_size
    frame = f"(x, y) pixels of the {S}x{S} frame ({PIXELS})"
    kp = "COCO-18 order (`joints`), NaN for a missing joint"
    inputs = [
        _tensor("image", ("batch", 3, S, S), "float32", [-1.0, 1.0], "RGB levels v as v / 127.5 - 1",
                f"the source photo, letterboxed into the {S}x{S} frame", "see prepare.letterbox.image"),
        _tensor("pose_maps", ("batch", NUM_JOINTS, S, S), "float32", [0.0, 1.0], "belief per pixel of the frame",
                f"the target pose: 18 Gaussian belief maps of eq. (1), sigma {sigma:g} px, COCO-18 order, an "
                "all-zero map for a missing joint", "see prepare.belief_maps, of target_keypoints in the frame")]
    if warp:
        inputs += [_tensor("source_keypoints", ("batch", NUM_JOINTS, 2), "float32", _xy_range(S, S), frame,
                           f"the source photo's pose, {kp}", "the photo's pose moved by prepare.letterbox.keypoints"),
                   _tensor("target_keypoints", ("batch", NUM_JOINTS, 2), "float32", _xy_range(S, S), frame,
                           f"the target pose (that of pose_maps), {kp}",
                           "the pose moved by prepare.letterbox.keypoints")]
    out = {"name": "render", "shape": ["batch", 3, S, S], "dtype": "float32", "range": [-1.0, 1.0],
           "units": "RGB, (v + 1) * 127.5 gives uint8 levels",
           "meaning": "the person of `image` in the target pose, RGB, in the letterboxed frame"}
    return {"format": "poseshift-onnx-1", **_head(ckpt, checkpoint, sigma, opset),
            "computes": "G(image | target pose) at the model's frame, float32: the model-frame render of "
                        "poseshift.transfer.Reposer.__call__ (transfer's full-resolution render, with the "
                        "warp redone on the photo, is `poseshift export --full-resolution HxW`)",
            "inputs": inputs, "outputs": [out],
            "prepare": {"letterbox": _letterbox(ckpt.config), "belief_maps": _maps(sigma, S), "output": OUTPUT}}


def photo_sidecar(model, ckpt, opset: int, checkpoint: Path, seconds: float) -> dict:
    """The full-resolution graph of ``poseshift.onnx_photo.PhotoGraph``."""
    H, W, S, f = model.height, model.width, model.size, model.fit
    photo = f"(x, y) pixels of the {H}x{W} photo ({PIXELS})"
    pose = "COCO-18 order (`joints`), NaN for a missing joint"
    target = _tensor("target_keypoints", (NUM_JOINTS, 2), "float32", _xy_range(H, W), photo,
                     f"the pose to render, {pose}",
                     "retargeted onto the photo's person as `poseshift transfer` does by default: "
                     "poseshift.pose.retarget.retarget(target, the photo's own pose) (numpy); as given with "
                     "--no-retarget")
    inputs = [_tensor("photo", (H, W, 3), "uint8", [0, 255], "RGB levels", f"the source photo, {H} rows of {W}",
                      "the photo as decoded (poseshift.images.read_image), not resized: the graph letterboxes it")]
    if model.warp:
        inputs += [
            _tensor("source_keypoints", (NUM_JOINTS, 2), "float32", _xy_range(H, W), photo,
                    f"the photo's own pose, {pose}",
                    "a keypoint file (`poseshift pose PHOTO` writes one) or detected (poseshift.detect.PoseDetector)"),
            target,
            _tensor("silhouette", (H, W), "float32", [0.0, 1.0], "share of the pixel that is the person, per "
                    "pixel of the photo", "the person's mask, 1 on the person",
                    "Reposer.scene(photo)[0] (MediaPipe, cached by content) or the user's own mask; the graph "
                    "rounds it to steps of 1/255 for the model's frame, as Reposer does"),
            _tensor("scene", (H, W, 3), "uint8", [0, 255], "RGB levels", "the photo, the person removed and filled",
                    "Reposer.scene(photo)[1], i.e. poseshift.warp.inpaint_background(photo, silhouette) (OpenCV)")]
    else:
        inputs.append(target)
    letterbox = _letterbox(ckpt.config) | {
        "box_xywh": list(f.box), "keypoint_scale_xy": [f.scale_x, f.scale_y],
        "keypoint_offset_xy": [f.offset_x, f.offset_y],
        "pillow_pass_first": "vertical" if model.letterbox.vertical_first else "horizontal",
        "pillow_max_difference": model.pillow_difference()}
    render = ("G.render_photo: G's answers at the model's frame, cropped to the box and upsampled (bilinear) to "
              "the photo, and the warp redone on the full-resolution photo, its silhouette and scene") \
        if model.warp else "G's model-frame render, as uint8, undone by letterbox.undo"
    return {"format": "poseshift-onnx-photo-1", **_head(ckpt, checkpoint, model.sigma, opset),
            "photo_size": [H, W], "export_seconds": round(seconds, 1),
            "computes": f"poseshift.transfer.Reposer.render_in_frame (what `poseshift transfer` writes) for a {H}x{W}"
                        " photo, float32, without --adapt or --bf16; pose detection, the mask, the inpainted scene "
                        "and retargeting come before it, as inputs",
            "inputs": inputs,
            "outputs": [{"name": "render", "shape": [H, W, 3], "dtype": "uint8", "range": [0, 255],
                         "units": "RGB levels", "meaning": "the person of `photo` in the target pose, at the "
                                                           "photo's own resolution and frame"}],
            "inside": {"letterbox": letterbox, "silhouette": "round(255 * silhouette) letterboxed on 0, / 255",
                       "belief_maps": _maps(model.sigma, S), "generator": render, "output": OUTPUT}}
