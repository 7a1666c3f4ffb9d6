"""An independent pose judge for evaluation: a regressor trained only on ground-truth images.

The ablation study measures how well a render follows its target pose with a network
that never saw a generated image (unlike Phi, which G learns to satisfy). It is the
same ResNet trunk as Phi, trained with MSE on belief maps over real (ground-truth)
images; a joint's position is the arg-max of its map.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from poseshift.data import PoseImageFolder, flip_batch
from poseshift.losses import pose_loss
from poseshift.nets.resnet import PoseRegressor
from poseshift.pose.heatmaps import belief_maps, sigma_pixels


def keypoints_from_maps(maps: torch.Tensor) -> np.ndarray:
    """[B,18,H,W] -> [B,18,2] (x, y) at each map's arg-max."""
    b, j, h, w = maps.shape
    flat = maps.reshape(b, j, h * w).argmax(-1)
    return torch.stack([flat % w, flat // w], dim=-1).float().cpu().numpy()


def pose_error(pred: np.ndarray, target: np.ndarray) -> tuple[float, int]:
    """Mean distance in pixels over the joints present in ``target`` -> (error, count)."""
    present = ~np.isnan(target).any(-1)
    d = np.linalg.norm(pred - np.nan_to_num(target), axis=-1)[present]
    return (float(d.mean()) if d.size else float("nan")), int(d.size)


def train_pose_judge(data_dir: str | Path, size: int, steps: int, out: str | Path, channels: int = 16,
                     blocks: int = 3, batch_size: int = 16, seed: int = 0, progress: bool = True) -> PoseRegressor:
    """Train on the ``train`` split's ground-truth images; saves safetensors to ``out``."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = PoseImageFolder(data_dir, size, "train", "resize")
    net = PoseRegressor(18, channels, blocks)
    opt = torch.optim.Adam(net.parameters(), lr=2e-4, betas=(0.5, 0.999))
    sigma = sigma_pixels(size)
    for _ in tqdm(range(steps), desc="pose judge", disable=not progress):
        items = [data[int(i)] for i in rng.integers(0, len(data), batch_size)]
        images = torch.stack([it["image"] for it in items])
        kp = torch.stack([it["keypoints"] for it in items])
        images, kp = flip_batch(images, kp, torch.from_numpy(rng.random(batch_size) < 0.5))
        loss = pose_loss(net(images), belief_maps(kp, size, size, sigma))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(out),
              metadata={"size": str(size), "channels": str(channels), "blocks": str(blocks)})
    return net.eval()


def load_pose_judge(path: str | Path) -> tuple[PoseRegressor, int]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata()
    net = PoseRegressor(18, int(meta["channels"]), int(meta["blocks"]))
    net.load_state_dict(load_file(str(path)))
    return net.eval(), int(meta["size"])
