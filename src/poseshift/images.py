"""Image files and tensors: reading with one-line errors, [-1,1] tensors, and fitting any
frame into the square training frame with the keypoints moved alike."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


class ImageError(ValueError):
    """An image file that cannot be read."""


def read_image(path: str | Path) -> np.ndarray:
    """RGB uint8 [H,W,3]."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: image file not found")
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError) as err:
        raise ImageError(f"{path}: not a readable image ({err.__class__.__name__})") from None


def write_image(path: str | Path, image: np.ndarray) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(path)
    return path


def resolve_by_stem(folder: Path, name: str) -> Path | None:
    """``x.jpg`` named in a CSV may be stored as ``x.png`` or ``x.jpg``: match by stem."""
    direct = folder / name
    if direct.is_file():
        return direct
    stem = Path(name).stem
    for suffix in IMAGE_SUFFIXES:
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 [H,W,3] -> float [3,H,W] in [-1, 1] (the generator's tanh range)."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div(127.5).sub(1.0)


def to_uint8(tensor: torch.Tensor) -> np.ndarray:
    """float [3,H,W] or [B,3,H,W] in [-1, 1] -> uint8 [H,W,3] or [B,H,W,3]."""
    t = tensor.detach().float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).cpu()
    return (t.permute(1, 2, 0) if t.ndim == 3 else t.permute(0, 2, 3, 1)).numpy()


@dataclass(frozen=True)
class FrameFit:
    """How an image of ``src`` (H, W) was put into a ``size`` x ``size`` frame:
    new = old * scale + offset, per axis (x, y)."""

    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float

    def apply(self, kp: np.ndarray) -> np.ndarray:
        out = np.asarray(kp, dtype=np.float32).copy()
        out[..., 0] = out[..., 0] * self.scale_x + self.offset_x
        out[..., 1] = out[..., 1] * self.scale_y + self.offset_y
        return out

    def invert(self, kp: np.ndarray) -> np.ndarray:
        out = np.asarray(kp, dtype=np.float32).copy()
        out[..., 0] = (out[..., 0] - self.offset_x) / self.scale_x
        out[..., 1] = (out[..., 1] - self.offset_y) / self.scale_y
        return out


def fit_square(image: np.ndarray, size: int, mode: str = "pad", pad_value: int = 255
               ) -> tuple[np.ndarray, FrameFit]:
    """Fit uint8 [H,W,3] into [size,size,3]: ``pad`` keeps the aspect ratio and centres it
    on ``pad_value``; ``resize`` stretches. Keypoints follow with the returned FrameFit
    (pixel-centre convention: a pixel's centre at i maps to (i + 0.5) * s - 0.5)."""
    h, w = image.shape[:2]
    if mode == "resize":
        sx, sy = size / w, size / h
        new_w, new_h, ox, oy = size, size, 0, 0
    elif mode == "pad":
        s = size / max(h, w)
        sx = sy = s
        new_w, new_h = max(1, round(w * s)), max(1, round(h * s))
        ox, oy = (size - new_w) // 2, (size - new_h) // 2
    else:
        raise ValueError(f"unknown fit mode {mode!r}: expected pad or resize")
    if (new_w, new_h) != (w, h):
        resized = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.BICUBIC))
    else:
        resized = image
    out = np.full((size, size, 3), pad_value, dtype=np.uint8)
    out[oy : oy + new_h, ox : ox + new_w] = resized
    fx, fy = new_w / w, new_h / h
    fit = FrameFit(fx, fy, ox + 0.5 * fx - 0.5, oy + 0.5 * fy - 0.5)
    return out, fit
