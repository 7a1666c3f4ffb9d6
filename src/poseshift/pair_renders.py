"""Renders of a data set's pairs into a folder, ``<from>___<to>.png`` each, as evaluation reads
them: the source copied (a floor), the part warp alone at each photo's resolution, or a model's
render (what ``poseshift evaluate`` and ``transfer --pairs`` write)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from poseshift.images import read_image, to_tensor, to_uint8
from poseshift.transfer import Reposer

__all__ = ["warp_in_frame", "copy_pairs", "warp_pairs", "render_pairs"]


def warp_in_frame(image: np.ndarray, source_pose: np.ndarray, pose: np.ndarray,
                  silhouette: np.ndarray | None = None) -> np.ndarray:
    """The "warp only" baseline at the photo's own resolution: uint8 [H, W, 3] warped part by
    part from ``source_pose`` into ``pose`` (both in its pixel frame). ``silhouette`` [H, W] in
    [0, 1]: the person's mask (poseshift.silhouette), which decides what travels with each part
    and what is inpainted behind them; without it the mask is drawn from the pose."""
    from poseshift.warp import inpaint_background, warp_only

    image = np.asarray(image, dtype=np.uint8)
    x = to_tensor(image)[None]
    kp_o = torch.from_numpy(np.asarray(source_pose, dtype=np.float32))[None]
    kp_f = torch.from_numpy(np.asarray(pose, dtype=np.float32))[None]
    sil = bg = None
    if silhouette is not None:
        sil = torch.from_numpy(np.asarray(silhouette, dtype=np.float32))[None, None]
        bg = to_tensor(inpaint_background(image, silhouette))[None]
    return to_uint8(warp_only(x, kp_o, kp_f, sil, bg)[0])


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
               progress: bool = False, silhouettes=None) -> dict[str, int]:
    """The "warp only" baseline (poseshift.warp, untrained) in the same layout, at the photos'
    own resolution; a pair whose source has no keypoints gets its source image back.
    ``silhouettes``: a poseshift.silhouette.SilhouetteCache (None: masks drawn from the poses)."""
    def render(image, pose, source_pose):
        if source_pose is None:
            return image
        return warp_in_frame(image, source_pose, pose, None if silhouettes is None else silhouettes(image))

    return _pair_renders(pairs, data_dir, out_dir, progress, render)


def render_pairs(reposer: Reposer, pairs: list[tuple[str, str]], data_dir: str | Path, out_dir: str | Path,
                 progress: bool = True) -> dict[str, int]:
    """Render each ``from`` image in the pose of ``to`` (keypoints from ``data_dir``'s
    annotations.csv) as ``out_dir/<from stem>___<to stem>.png`` in the source frame.
    Pairs whose source image or target keypoints are absent are counted, not fatal. The
    source's own keypoints come from the annotations too (detected where absent and needed).
    Never retargeted: a pair's target pose is its ground truth."""
    def render(image, pose, source_pose):
        return reposer.render_in_frame(image, pose, source_pose, retarget=False)

    return _pair_renders(pairs, data_dir, out_dir, progress, render)
