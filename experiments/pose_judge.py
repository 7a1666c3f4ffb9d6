"""An independent pose judge for the ablation: a regressor trained only on ground-truth images.

The ablation study measures how well a render follows its target pose with a network
that never saw a generated image (unlike Phi, which G learns to satisfy). It is the
same ResNet trunk as Phi, trained with MSE on belief maps over real (ground-truth)
images; a joint's position is the arg-max of its map, refined to sub-pixel by a
parabola through the log-responses around it.

The judge is a measuring instrument, not the paper's Phi, so its maps are wider
(``sigma_frac`` 0.08, 5 px at 64): with the paper's 0.03 (2 px at 64) a regressor of
this size stays near the all-zero answer for thousands of steps.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from poseshift.data import PoseImageFolder
from poseshift.losses import pose_loss
from poseshift.nets.resnet import PoseRegressor
from poseshift.pose.heatmaps import belief_maps, flip_keypoints, sigma_pixels


def keypoints_from_maps(maps: torch.Tensor) -> np.ndarray:
    """[B,18,H,W] -> [B,18,2] (x, y): each map's arg-max, refined along x and y by the
    vertex of the parabola through the log-responses at the peak and its two neighbours
    (exact for a Gaussian; the shift is kept within half a pixel)."""
    b, j, h, w = maps.shape
    flat = maps.reshape(b, j, h * w).argmax(-1)
    x0, y0 = flat % w, flat // w
    logm = torch.nn.functional.pad(maps.float().clamp(min=1e-6), (1, 1, 1, 1), value=1e-6).log()
    bi = torch.arange(b)[:, None].expand(b, j)
    ji = torch.arange(j)[None, :].expand(b, j)

    def at(dx: int, dy: int) -> torch.Tensor:
        return logm[bi, ji, y0 + 1 + dy, x0 + 1 + dx]

    def vertex(minus: torch.Tensor, centre: torch.Tensor, plus: torch.Tensor) -> torch.Tensor:
        curvature = minus - 2 * centre + plus
        shift = torch.where(curvature < 0, 0.5 * (minus - plus) / curvature.clamp(max=-1e-12),
                            torch.zeros_like(curvature))
        return shift.clamp(-0.5, 0.5)

    c = at(0, 0)
    x = x0.float() + vertex(at(-1, 0), c, at(1, 0))
    y = y0.float() + vertex(at(0, -1), c, at(0, 1))
    return torch.stack([x, y], dim=-1).cpu().numpy()


def pose_error(pred: np.ndarray, target: np.ndarray) -> tuple[float, int]:
    """Mean distance in pixels over the joints present in ``target`` -> (error, count)."""
    present = ~np.isnan(target).any(-1)
    d = np.linalg.norm(pred - np.nan_to_num(target), axis=-1)[present]
    return (float(d.mean()) if d.size else float("nan")), int(d.size)


def train_pose_judge(data_dir: str | Path, size: int, steps: int, out: str | Path, channels: int = 16,
                     blocks: int = 3, batch_size: int = 16, seed: int = 0, progress: bool = True,
                     sigma_frac: float = 0.08) -> PoseRegressor:
    """Train on the ``train`` split's ground-truth images; saves safetensors to ``out``."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = PoseImageFolder(data_dir, size, "train", "resize")
    net = PoseRegressor(18, channels, blocks)
    opt = torch.optim.Adam(net.parameters(), lr=2e-4, betas=(0.5, 0.999))
    sigma = sigma_pixels(size, sigma_frac)
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
              metadata={"size": str(size), "channels": str(channels), "blocks": str(blocks),
                        "sigma_frac": str(sigma_frac)})
    return net.eval()


def load_pose_judge(path: str | Path) -> tuple[PoseRegressor, int]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata()
    net = PoseRegressor(18, int(meta["channels"]), int(meta["blocks"]))
    net.load_state_dict(load_file(str(path)))
    return net.eval(), int(meta["size"])


def flip_batch(images: torch.Tensor, keypoints: torch.Tensor, mask: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror the samples where ``mask`` [B] is True: images [B,3,H,W] along W, keypoints
    [B,18,2] mirrored with left and right swapped."""
    if not bool(mask.any()):
        return images, keypoints
    m = mask.to(images.device)
    images = torch.where(m[:, None, None, None], images.flip(-1), images)
    flipped = flip_keypoints(keypoints, images.shape[-1])
    keypoints = torch.where(m[:, None, None].to(keypoints.device), flipped, keypoints)
    return images, keypoints
