"""``fid``: the FID the pose-transfer papers report (GFLA, DPTN, PIDM, CFLD and those that copy them).

Read from GFLA's ``script/metrics.py`` and ``script/inception.py`` and PIDM's ``utils/metrics.py``
and ``utils/inception.py`` (the same code, from an early pytorch-fid):

* the network is torchvision's ImageNet Inception-v3 (``inception_v3(pretrained=True)``, i.e.
  IMAGENET1K_V1, ``inception_v3_google-0cc3c7bd.pth``), its blocks up to Mixed_7c and an
  adaptive average pool: 2048-d features (:mod:`poseshift.metrics.inception_v3`, from a local file);
* images are read as float, divided by 255, resized to 299x299 with ``F.upsample(...,
  mode='bilinear')`` (align_corners False, no antialiasing) and mapped per channel by
  ``x * (std / 0.5) + (mean - 0.5) / 0.5`` with ImageNet's mean and std (their
  ``normalize_input``, torchvision's ``transform_input`` applied to [0, 1] input);
* the real statistics come from every image of the training folder, the generated ones from
  every rendered test pair; Fréchet distance of the two Gaussians (unbiased covariances).

Two things the peers' scripts do are not reproduced, on purpose, and the report says so: they
drop the last ``len % 64`` images (whole batches only, in the file system's order, so which
images go depends on the machine), and they cache the real statistics as ``statistics.npz``
inside the real folder, reused even after the folder changes. Here every image counts, and the
cache key is the hash of the settings, the weights file and every real image's name and bytes.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from poseshift.metrics.fid import fid_from_stats
from poseshift.metrics.registry import Metric, MetricOptions, MetricSkipped, PairSample, register_metric

__all__ = ["TV_WEIGHTS_NAME", "tv_preprocess", "TorchvisionInception", "RunningStats", "real_statistics",
           "stats_key", "default_stats_cache"]

TV_WEIGHTS_NAME = "inception_v3_google-0cc3c7bd.pth"  # torchvision's IMAGENET1K_V1 file
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)
BATCH = 64  # the peers' batch size (only the speed depends on it here)

SETTINGS: dict[str, Any] = {
    "protocol": "GFLA / DPTN / PIDM / CFLD FID (their script/metrics.py and inception.py, from an early pytorch-fid)",
    "network": "torchvision Inception-v3, ImageNet IMAGENET1K_V1 weights (inception_v3_google-0cc3c7bd.pth)",
    "features": "2048-d adaptive average pool after Mixed_7c",
    "preprocess": "uint8 / 255; bilinear resize to 299x299 (align_corners=False, no antialias); "
                  "x * (std / 0.5) + (mean - 0.5) / 0.5 per channel, ImageNet mean and std (GFLA's and "
                  "PIDM's normalize_input)",
    "generated_resize": "to the ground truth's size with PIL bicubic, where it differs",
    "formula": "|mu1-mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^1/2), unbiased covariances",
    "test_set": "every generated image of the evaluated pairs",
    "differences_from_peer_scripts": "every image counts (the peers drop the last len % 64 in file-system "
                                     "order); real statistics cached by content hash (theirs: statistics.npz "
                                     "in the real folder, never invalidated)",
}


def tv_preprocess(images: Sequence[np.ndarray], device: str | torch.device = "cpu") -> torch.Tensor:
    """Same-size uint8 ``[H, W, 3]`` images -> the network's input ``[N, 3, 299, 299]``."""
    x = torch.from_numpy(np.ascontiguousarray(np.stack(images))).to(device).permute(0, 3, 1, 2).float() / 255.0
    x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    mean = torch.tensor(_MEAN, device=device)[None, :, None, None]
    std = torch.tensor(_STD, device=device)[None, :, None, None]
    return x * (std / 0.5) + (mean - 0.5) / 0.5


class TorchvisionInception:
    """2048-d features of uint8 images with torchvision's Inception-v3 from a local weights file."""

    def __init__(self, weights: str | Path, device: str = "cpu"):
        from poseshift.metrics.inception_v3 import load_inception_v3

        self.weights = Path(weights)
        self.device = device
        try:
            self.net = load_inception_v3(self.weights, device)
        except (FileNotFoundError, ValueError) as err:  # the one line names the file; say which option
            raise MetricSkipped(f"--inception-weights {err}") from None

    @torch.inference_mode()
    def __call__(self, images: Sequence[np.ndarray]) -> np.ndarray:
        out = np.zeros((len(images), 2048), dtype=np.float64)
        groups: dict[tuple, list[int]] = {}
        for i, im in enumerate(images):  # images of different sizes go in separate forwards
            groups.setdefault(np.asarray(im).shape, []).append(i)
        for idx in groups.values():
            f = self.net(tv_preprocess([images[i] for i in idx], self.device))
            out[idx] = f.double().cpu().numpy()
        return out


class RunningStats:
    """Mean and unbiased covariance of feature batches, accumulated in float64 around the first
    batch's mean (so that the sums do not cancel), no feature kept."""

    def __init__(self, dim: int = 2048):
        self.n = 0
        self.shift: np.ndarray | None = None
        self.total = np.zeros(dim)
        self.outer = np.zeros((dim, dim))

    def add(self, f: np.ndarray) -> None:
        f = np.asarray(f, dtype=np.float64)
        if self.shift is None:
            self.shift = f.mean(0)
        f = f - self.shift
        self.n += len(f)
        self.total += f.sum(0)
        self.outer += f.T @ f

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        if self.n < 2:
            raise ValueError(f"FID needs at least 2 images, got {self.n}")
        d = self.total / self.n
        sigma = (self.outer - self.n * np.outer(d, d)) / (self.n - 1)
        return self.shift + d, (sigma + sigma.T) / 2


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def stats_key(paths: Iterable[Path], weights: Path, settings: dict[str, Any]) -> str:
    """The cache key: settings, the weights file's bytes and every real image's name and bytes,
    so that an added, removed, renamed or edited image, or other weights, never reuse a cache."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    h.update(_file_digest(weights).encode())
    for p in sorted(Path(p) for p in paths):
        h.update(p.name.encode() + b"\0" + _file_digest(p).encode())
    return h.hexdigest()[:32]


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def default_stats_cache() -> Path:
    """``$XDG_CACHE_HOME/poseshift/fid-stats`` (``~/.cache/...`` without it)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "poseshift" / "fid-stats"


def real_statistics(paths: Sequence[Path], extractor: TorchvisionInception, cache: str | Path | None = None,
                    progress: bool = False) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(mu, sigma, info) of the real images ``paths``, from the cache where its key matches."""
    from poseshift.files import atomic_write
    from poseshift.images import read_image

    paths = sorted(Path(p) for p in paths)
    cache_dir = Path(cache) if cache is not None else default_stats_cache()
    key = stats_key(paths, extractor.weights, SETTINGS)
    file = cache_dir / f"{key}.npz"
    info: dict[str, Any] = {"real_images": len(paths), "cache": str(file)}
    if file.is_file():
        try:
            with np.load(file) as z:
                if int(z["n"]) == len(paths):
                    return z["mu"], z["sigma"], {**info, "cache_hit": True}
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file is recomputed and replaced
    stats = RunningStats()
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(paths), desc="fid: real statistics", unit="img")
    for i in range(0, len(paths), BATCH):
        chunk = paths[i:i + BATCH]
        stats.add(extractor([read_image(p) for p in chunk]))
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    mu, sigma = stats.result()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(file, lambda tmp: Path(tmp).write_bytes(_npz_bytes(mu=mu, sigma=sigma, n=np.int64(len(paths)))))
    except OSError as err:  # a read-only cache still gives the number
        info["cache_error"] = f"{cache_dir}: {err.strerror or err}"
    return mu, sigma, {**info, "cache_hit": False}


@register_metric("fid")
class PapersFID(Metric):
    def __init__(self, opts: MetricOptions):
        super().__init__(opts)
        if not opts.inception_weights:
            raise MetricSkipped(f"needs torchvision's Inception-v3 ImageNet weights as a local file "
                                f"({TV_WEIGHTS_NAME}; --inception-weights FILE); none can be downloaded here")
        if len(opts.real_images) < 2:
            raise MetricSkipped("needs the training images for the real statistics (a train split of --data)")
        self.extractor = TorchvisionInception(opts.inception_weights, opts.device)
        self.gen = RunningStats()
        self.settings = {**SETTINGS, "weights": str(opts.inception_weights),
                         "real_set": opts.real_source or f"{len(opts.real_images)} training images"}

    def update(self, batch: Sequence[PairSample]) -> None:
        self.gen.add(self.extractor([s.generated for s in batch]))
        self.n = self.gen.n

    def result(self) -> dict[str, Any]:
        if self.n < 2:
            return {"value": None}
        mu_r, sigma_r, info = real_statistics(self.opts.real_images, self.extractor, self.opts.stats_cache,
                                              self.opts.progress)
        mu_g, sigma_g = self.gen.result()
        self.settings.update(info)
        return {"value": fid_from_stats(mu_g, sigma_g, mu_r, sigma_r)}
