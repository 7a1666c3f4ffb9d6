"""Inference: load a checkpoint's generator once, then render people in new poses.

Example::

    >>> from poseshift import Reposer
    >>> reposer = Reposer.from_checkpoint("runs/tiny/checkpoints/last.safetensors")
    >>> out = reposer("person.jpg", "target_pose.json")   # uint8 [S, S, 3]

The image may have any size: it is fitted into the checkpoint's square frame as in
training (pad or resize, DataConfig.fit) and the target pose, given in the pixel frame
of that image, is moved with it. The result is at the checkpoint's resolution.
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
from poseshift.train import select_device

ImageLike = str | Path | np.ndarray
PoseLike = str | Path | np.ndarray


class Reposer:
    """G(I | p_f) from a checkpoint, ready to call."""

    def __init__(self, generator: torch.nn.Module, config: Config, device: torch.device):
        self.G = generator.eval().to(device)
        self.config = config
        self.device = device
        self.size = config.model.image_size
        self.sigma = sigma_pixels(self.size, config.pose.sigma_frac)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto") -> Reposer:
        generator, ckpt = load_inference_generator(path)
        return cls(generator, ckpt.config, select_device(device))

    def prepare(self, image: ImageLike, pose: PoseLike) -> tuple[torch.Tensor, torch.Tensor]:
        """-> image [1,3,S,S] in [-1,1] and target maps [1,18,S,S] in the training frame."""
        arr = read_image(image) if isinstance(image, (str, Path)) else np.asarray(image, dtype=np.uint8)
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise ValueError(f"image must be RGB [H, W, 3], got shape {arr.shape}")
        kp = read_keypoints(pose) if isinstance(pose, (str, Path)) else np.asarray(pose, dtype=np.float32)
        if kp.shape != (18, 2):
            raise ValueError(f"pose must be 18 (x, y) keypoints, got shape {kp.shape}")
        framed, fit = fit_to_frame(arr, self.size, self.size, self.config.data.fit, self.config.data.pad_value)
        kp = torch.from_numpy(fit.apply(kp))[None].to(self.device)
        maps = belief_maps(kp, self.size, self.size, self.sigma)
        return to_tensor(framed)[None].to(self.device), maps

    @torch.no_grad()
    def __call__(self, image: ImageLike, pose: PoseLike) -> np.ndarray:
        """Render the person of ``image`` in ``pose`` -> uint8 [S, S, 3]."""
        x, maps = self.prepare(image, pose)
        return to_uint8(self.G(x, maps)[0])

    @torch.no_grad()
    def render_in_frame(self, image: np.ndarray, pose: np.ndarray) -> np.ndarray:
        """Like ``__call__`` but the render is put back into ``image``'s own size and frame
        (the letterbox undone), as evaluation against ground truth needs."""
        framed, fit = fit_to_frame(image, self.size, self.size, self.config.data.fit, self.config.data.pad_value)
        kp = torch.from_numpy(fit.apply(np.asarray(pose, dtype=np.float32)))[None].to(self.device)
        maps = belief_maps(kp, self.size, self.size, self.sigma)
        render = to_uint8(self.G(to_tensor(framed)[None].to(self.device), maps)[0])
        return fit.unfit(render)

    @torch.no_grad()
    def render_tensor(self, images: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
        """Batched G on tensors already in the training frame: [B,3,S,S], [B,18,S,S]."""
        return self.G(images.to(self.device), maps.to(self.device))


def _pair_renders(pairs, data_dir, out_dir, progress, render) -> dict[str, int]:
    from tqdm import tqdm

    from poseshift.images import resolve_by_stem, write_image
    from poseshift.pose.keypoints_io import read_annotations_csv

    data_dir, out_dir = Path(data_dir), Path(out_dir)
    ann = read_annotations_csv(data_dir / "annotations.csv")
    counts = {"rendered": 0, "no_source": 0, "no_target_pose": 0}
    for src, tgt in tqdm(pairs, desc="render", unit="pair", disable=not progress):
        path = resolve_by_stem(data_dir / "images", src)
        if path is None:
            counts["no_source"] += 1
            continue
        if tgt not in ann or np.isnan(ann[tgt]).all():
            counts["no_target_pose"] += 1
            continue
        write_image(out_dir / f"{Path(src).stem}___{Path(tgt).stem}.png", render(read_image(path), ann[tgt]))
        counts["rendered"] += 1
    return counts


def copy_pairs(pairs: list[tuple[str, str]], data_dir: str | Path, out_dir: str | Path,
               progress: bool = False) -> dict[str, int]:
    """The "copy the source image" baseline of the evaluation table, in the same layout."""
    return _pair_renders(pairs, data_dir, out_dir, progress, lambda image, pose: image)


def render_pairs(reposer: Reposer, pairs: list[tuple[str, str]], data_dir: str | Path, out_dir: str | Path,
                 progress: bool = True) -> dict[str, int]:
    """Render each ``from`` image in the pose of ``to`` (keypoints from ``data_dir``'s
    annotations.csv) as ``out_dir/<from stem>___<to stem>.png`` in the source frame.
    Pairs whose source image or target keypoints are absent are counted, not fatal."""
    return _pair_renders(pairs, data_dir, out_dir, progress, reposer.render_in_frame)
