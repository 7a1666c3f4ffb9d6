"""LPIPS v0.1 (Zhang et al. 2018) with the AlexNet backbone, from local weights files only.

No backbone can be downloaded here, so the metric runs only when ``lpips_weights`` names one or
more local files (``torch.save``'d state dicts, or safetensors) that together hold:

* the AlexNet convolutions, either in torchvision's layout (the file torchvision's
  ``alexnet(weights=AlexNet_Weights.IMAGENET1K_V1)`` loads) (``features.{0,3,6,8,10}.weight/bias``,
  e.g. ``alexnet-owt-7be5be79.pth``; ``classifier.*`` is ignored) or in lpips' own
  (``net.slice1.0.*``, ``net.slice2.3.*``, ``net.slice3.6.*``, ``net.slice4.8.*``, ``net.slice5.10.*``);
* the linear heads in lpips' layout ``lin{0..4}.model.1.weight`` (the ``weights/v0.1/alex.pth``
  file of the lpips package; ``lins.{k}.model.1.weight`` is accepted too).

Inputs are RGB in [-1, 1] at their own size (no resize); lpips' scaling layer, unit-normalised
channels, squared difference, 1x1 linear heads, spatial mean, summed over the five layers.
Without weights the metric is skipped with a one-line reason.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from poseshift.metrics.registry import Metric, MetricOptions, MetricSkipped, PairSample, register_metric

__all__ = ["LPIPS", "load_lpips", "lpips_state_from_files"]

_CONVS = {0: (3, 64, 11, 4, 2), 3: (64, 192, 5, 1, 2), 6: (192, 384, 3, 1, 1),
          8: (384, 256, 3, 1, 1), 10: (256, 256, 3, 1, 1)}
_SLICES = ((0, 2), (2, 5), (5, 8), (8, 10), (10, 12))  # lpips' slices of alexnet.features
_CHANNELS = (64, 192, 384, 256, 256)


class _ScalingLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("shift", torch.tensor([-.030, -.088, -.188])[None, :, None, None])
        self.register_buffer("scale", torch.tensor([.458, .448, .450])[None, :, None, None])

    def forward(self, x):
        return (x - self.shift) / self.scale


class _AlexSlices(nn.Module):
    def __init__(self):
        super().__init__()
        for k, (lo, hi) in enumerate(_SLICES, start=1):
            seq = nn.Sequential()
            for i in range(lo, hi):
                if i in _CONVS:
                    cin, cout, ks, st, pad = _CONVS[i]
                    layer: nn.Module = nn.Conv2d(cin, cout, ks, st, pad)
                elif i in (2, 5):
                    layer = nn.MaxPool2d(3, 2)
                else:
                    layer = nn.ReLU(inplace=False)
                seq.add_module(str(i), layer)
            self.add_module(f"slice{k}", seq)

    def forward(self, x):
        outs = []
        for k in range(1, 6):
            x = getattr(self, f"slice{k}")(x)
            outs.append(x)
        return outs


class _Lin(nn.Module):
    def __init__(self, chn: int):
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(chn, 1, 1, bias=False))


class LPIPS(nn.Module):
    """LPIPS-Alex v0.1; ``forward(x0, x1)`` takes ``[N, 3, H, W]`` in [-1, 1] and returns ``[N]``."""

    def __init__(self):
        super().__init__()
        self.scaling_layer = _ScalingLayer()
        self.net = _AlexSlices()
        for k, c in enumerate(_CHANNELS):
            self.add_module(f"lin{k}", _Lin(c))

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        f0 = self.net(self.scaling_layer(x0))
        f1 = self.net(self.scaling_layer(x1))
        total = 0
        for k, (a, b) in enumerate(zip(f0, f1)):
            a = a / (a.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            b = b / (b.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            d = getattr(self, f"lin{k}").model[1]((a - b) ** 2)
            total = total + d.mean(dim=(2, 3))
        return total[:, 0]


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file
            return load_file(str(path))
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # any file at all may be named: text, a pickle with code, a truncated file
        raise MetricSkipped(f"--lpips-weights {path}: not a weights file (a .safetensors or weights-only torch "
                            f"state dict; {type(err).__name__})") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                            for k, v in obj.items()):
        raise MetricSkipped(f"--lpips-weights {path}: holds no state dict")
    return obj


def lpips_state_from_files(paths: str | Path | Sequence[str | Path]) -> dict[str, torch.Tensor]:
    """Merge weights files into this module's key layout (see the module docstring)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    slice_of = {i: k for k, (lo, hi) in enumerate(_SLICES, start=1) for i in range(lo, hi)}
    out: dict[str, torch.Tensor] = {}
    for p in paths:
        p = Path(p)
        if not p.is_file():
            raise MetricSkipped(f"LPIPS weights file not found: {p}")
        for key, t in _read_state(p).items():
            key = key.removeprefix("module.")
            m = re.fullmatch(r"(?:net\.)?features\.(\d+)\.(weight|bias)", key)
            if m:
                i = int(m.group(1))
                key = f"net.slice{slice_of.get(i, 0)}.{i}.{m.group(2)}"
            m = re.fullmatch(r"lins\.(\d)\.(.*)", key)
            if m:
                key = f"lin{m.group(1)}.{m.group(2)}"
            out[key] = t
    return out


def load_lpips(paths: str | Path | Sequence[str | Path], device: str = "cpu") -> LPIPS:
    """LPIPS-Alex with weights from local files; MetricSkipped names what is missing."""
    from poseshift.weights import load_weights

    model = LPIPS()
    state = lpips_state_from_files(paths)
    # the input scaling is LPIPS' own constant, never read from a file
    state.update({k: v for k, v in model.state_dict().items() if k.startswith("scaling_layer.")})
    files = " ".join(str(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths))
    try:  # the files' other tensors (AlexNet's classifier) are not needed: strict=False
        load_weights(model, state, f"--lpips-weights {files}", "the LPIPS-Alex weights (torchvision's AlexNet "
                     "features.* and lpips' v0.1 lin*.model.1.weight)", strict=False)
    except ValueError as err:
        raise MetricSkipped(str(err)) from None
    return model.eval().to(device)


@register_metric("lpips")
class LPIPSMetric(Metric):
    def __init__(self, opts: MetricOptions):
        super().__init__(opts)
        if not opts.lpips_weights:
            raise MetricSkipped("no LPIPS weights given (--lpips-weights: torchvision's AlexNet file and lpips' "
                                "v0.1 alex.pth; none can be downloaded here)")
        self.model = load_lpips(opts.lpips_weights, opts.device)
        self.scores: list[float] = []
        paths = [opts.lpips_weights] if isinstance(opts.lpips_weights, (str, Path)) else opts.lpips_weights
        self.settings = {
            "protocol": "lpips.LPIPS(net='alex', version='0.1') as GFLA, PIDM, DPTN and CFLD call it "
                        "(checked against the lpips package in tests/test_metrics_reference.py)",
            "network": "LPIPS v0.1, AlexNet backbone", "weights": [str(p) for p in paths],
            "input": "RGB in [-1, 1] at the ground truth's size (a render of another size is resized to it "
                     "with PIL bicubic)", "reduction": "mean over pairs",
        }

    @torch.inference_mode()
    def update(self, batch: Sequence[PairSample]) -> None:
        groups: dict[tuple, list[PairSample]] = {}
        for s in batch:
            groups.setdefault(s.target.shape, []).append(s)
        for items in groups.values():
            def t(ims):
                x = torch.from_numpy(np.stack(ims)).permute(0, 3, 1, 2).float()
                return (x / 127.5 - 1).to(self.opts.device)
            d = self.model(t([s.target for s in items]), t([s.generated for s in items]))
            self.scores.extend(d.cpu().double().tolist())
        self.n = len(self.scores)

    def result(self) -> dict[str, Any]:
        a = np.asarray(self.scores)
        return {"value": float(a.mean()) if a.size else None, "std": float(a.std()) if a.size else None}
