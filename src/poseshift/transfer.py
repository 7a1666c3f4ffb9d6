"""Inference: load a checkpoint's generator once, then render people in new poses.

Example::

    >>> from poseshift import Reposer
    >>> reposer = Reposer.from_checkpoint("runs/tiny/checkpoints/last.safetensors")
    >>> out = reposer("person.jpg", "target_pose.json")   # uint8 [S, S, 3]

The image may have any size: it is fitted into the checkpoint's square frame as in
training (pad or resize, DataConfig.fit) and the target pose, given in the pixel frame
of that image, is moved with it. The result is at the checkpoint's resolution.

A generator that warps the source (``model.g_arch: warp``) also needs the source photo's own
pose: pass ``source_pose`` (a keypoint file or an [18, 2] array in the photo's pixel frame), or
leave it out and it is detected (MediaPipe, the ``pose`` extra).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from poseshift.checkpoint import load_inference_generator
from poseshift.config import Config
from poseshift.frames import fit_to_frame
from poseshift.images import read_image, to_tensor, to_uint8
from poseshift.pose.heatmaps import belief_maps, sigma_pixels
from poseshift.pose.keypoints_io import read_keypoints
from poseshift.devices import select_device

ImageLike = str | Path | np.ndarray
PoseLike = str | Path | np.ndarray


class Reposer:
    """G(I | p_f) from a checkpoint, ready to call."""

    def __init__(self, generator: torch.nn.Module, config: Config, device: torch.device,
                 full_resolution: bool = True):
        self.G = generator.eval().to(device)
        # A warping G's render in the photo's own frame: its blend weight and pixels upsampled,
        # the warp redone on the full-resolution photo (False: the model-frame render, resized).
        self.full_resolution = full_resolution
        self.config = config
        self.device = device
        self.size = config.model.image_size
        self.sigma = sigma_pixels(self.size, config.pose.sigma_frac)
        self.needs_source_pose = bool(getattr(generator, "needs_source_pose", False))
        self._detector = None

    def source_keypoints(self, image: np.ndarray, source_pose: PoseLike | None) -> np.ndarray | None:
        """The source photo's pose in its pixel frame: given, detected where the generator needs
        one and none was given, else None."""
        if source_pose is not None:
            return _keypoints(source_pose, "source pose")
        if not self.needs_source_pose:
            return None
        if self._detector is None:
            from poseshift.detect import PoseDetector

            self._detector = PoseDetector()
        kp = self._detector(image)
        if np.isnan(kp).all():
            raise ValueError("no person was detected in the source image; pass its pose (--source-pose)")
        return kp

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto", full_resolution: bool = True) -> Reposer:
        generator, ckpt = load_inference_generator(path)
        return cls(generator, ckpt.config, select_device(device), full_resolution)

    def prepare(self, image: ImageLike, pose: PoseLike, source_pose: PoseLike | None = None):
        """-> image [1,3,S,S] in [-1,1], target maps [1,18,S,S], and the source and target
        keypoints [1,18,2] (the source's None where the generator needs none), in the training
        frame, plus the FrameFit that put the image there."""
        arr = read_image(image) if isinstance(image, (str, Path)) else np.asarray(image, dtype=np.uint8)
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise ValueError(f"image must be RGB [H, W, 3], got shape {arr.shape}")
        kp = _keypoints(pose, "pose")
        src_kp = self.source_keypoints(arr, source_pose)
        framed, fit = fit_to_frame(arr, self.size, self.size, self.config.data.fit, self.config.data.pad_value)
        kp_f = torch.from_numpy(fit.apply(kp))[None].to(self.device)
        kp_o = None if src_kp is None else torch.from_numpy(fit.apply(src_kp))[None].to(self.device)
        maps = belief_maps(kp_f, self.size, self.size, self.sigma)
        return to_tensor(framed)[None].to(self.device), maps, kp_o, kp_f, fit

    @torch.no_grad()
    def __call__(self, image: ImageLike, pose: PoseLike, source_pose: PoseLike | None = None) -> np.ndarray:
        """Render the person of ``image`` in ``pose`` -> uint8 [S, S, 3]."""
        x, maps, kp_o, kp_f, _ = self.prepare(image, pose, source_pose)
        return to_uint8(self.G(x, maps, kp_o, kp_f)[0])

    @torch.no_grad()
    def render_in_frame(self, image: np.ndarray, pose: np.ndarray, source_pose: PoseLike | None = None
                        ) -> np.ndarray:
        """Like ``__call__`` but the render is put back into ``image``'s own size and frame
        (the letterbox undone), as evaluation against ground truth needs."""
        x, maps, kp_o, kp_f, fit = self.prepare(image, pose, source_pose)
        if not (self.full_resolution and hasattr(self.G, "blend")):
            return fit.unfit(to_uint8(self.G(x, maps, kp_o, kp_f)[0]))
        from poseshift.nets.warp_generator import correct
        from poseshift.warp import warp_only

        alpha, r, _ = self.G.blend(x, maps, kp_o, kp_f)
        arr = read_image(image) if isinstance(image, (str, Path)) else np.asarray(image, dtype=np.uint8)
        bx, by, bw, bh = fit.box
        h, w = arr.shape[:2]
        up = torch.nn.functional.interpolate(torch.cat([alpha, r], 1)[:, :, by:by + bh, bx:bx + bw], size=(h, w),
                                             mode="bilinear", align_corners=False)
        src_kp = fit.invert(kp_o[0].cpu().numpy())
        full = to_tensor(arr)[None].to(self.device)
        warped = warp_only(full, torch.from_numpy(src_kp)[None].to(self.device),
                           torch.from_numpy(_keypoints(pose, "pose"))[None].to(self.device))
        return to_uint8(correct(warped, up[:, :1], up[:, 1:])[0])

    @torch.no_grad()
    def render_tensor(self, images: torch.Tensor, maps: torch.Tensor, kp_src: torch.Tensor | None = None,
                      kp_tgt: torch.Tensor | None = None) -> torch.Tensor:
        """Batched G on tensors already in the training frame: [B,3,S,S], [B,18,S,S], and the
        keypoints [B,18,2] that a warping generator needs."""
        dev = self.device
        return self.G(images.to(dev), maps.to(dev), None if kp_src is None else kp_src.to(dev),
                      None if kp_tgt is None else kp_tgt.to(dev))

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()
            self._detector = None


def _keypoints(pose: PoseLike, what: str) -> np.ndarray:
    kp = read_keypoints(pose) if isinstance(pose, (str, Path)) else np.asarray(pose, dtype=np.float32)
    if kp.shape != (18, 2):
        raise ValueError(f"{what} must be 18 (x, y) keypoints, got shape {kp.shape}")
    return kp


def warp_in_frame(image: np.ndarray, source_pose: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """The "warp only" baseline at the photo's own resolution: uint8 [H, W, 3] warped part by
    part from ``source_pose`` into ``pose`` (both in its pixel frame) over its border colour."""
    from poseshift.warp import warp_only

    x = to_tensor(np.asarray(image, dtype=np.uint8))[None]
    kp_o = torch.from_numpy(np.asarray(source_pose, dtype=np.float32))[None]
    kp_f = torch.from_numpy(np.asarray(pose, dtype=np.float32))[None]
    return to_uint8(warp_only(x, kp_o, kp_f)[0])


def _pair_renders(pairs, data_dir, out_dir, progress, render) -> dict[str, int]:
    """``render(image, target_pose, source_pose)`` for each pair -> out_dir/<from>___<to>.png."""
    from tqdm import tqdm

    from poseshift.images import write_image
    from poseshift.layouts import open_layout

    layout, out_dir = open_layout(data_dir), Path(out_dir)
    ann = layout.keypoints()
    counts = {"rendered": 0, "no_source": 0, "no_target_pose": 0}
    for src, tgt in tqdm(pairs, desc="render", unit="pair", disable=not progress):
        path = layout.image_path(src)
        if path is None:
            counts["no_source"] += 1
            continue
        if tgt not in ann or np.isnan(ann[tgt]).all():
            counts["no_target_pose"] += 1
            continue
        src_kp = ann.get(src)
        if src_kp is not None and np.isnan(src_kp).all():
            src_kp = None
        write_image(out_dir / f"{Path(src).stem}___{Path(tgt).stem}.png", render(read_image(path), ann[tgt], src_kp))
        counts["rendered"] += 1
    return counts


def copy_pairs(pairs: list[tuple[str, str]], data_dir: str | Path, out_dir: str | Path,
               progress: bool = False) -> dict[str, int]:
    """The "copy the source image" baseline of the evaluation table, in the same layout."""
    return _pair_renders(pairs, data_dir, out_dir, progress, lambda image, pose, source_pose: image)


def warp_pairs(pairs: list[tuple[str, str]], data_dir: str | Path, out_dir: str | Path,
               progress: bool = False) -> dict[str, int]:
    """The "warp only" baseline (poseshift.warp, untrained) in the same layout, at the photos'
    own resolution; a pair whose source has no keypoints gets its source image back."""
    def render(image, pose, source_pose):
        return image if source_pose is None else warp_in_frame(image, source_pose, pose)

    return _pair_renders(pairs, data_dir, out_dir, progress, render)


def render_pairs(reposer: Reposer, pairs: list[tuple[str, str]], data_dir: str | Path, out_dir: str | Path,
                 progress: bool = True) -> dict[str, int]:
    """Render each ``from`` image in the pose of ``to`` (keypoints from ``data_dir``'s
    annotations.csv) as ``out_dir/<from stem>___<to stem>.png`` in the source frame.
    Pairs whose source image or target keypoints are absent are counted, not fatal. The
    source's own keypoints come from the annotations too (detected where absent and needed)."""
    return _pair_renders(pairs, data_dir, out_dir, progress, reposer.render_in_frame)
