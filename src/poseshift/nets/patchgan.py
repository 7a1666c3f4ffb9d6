"""The PatchGAN discriminator D_I of section 4.2 (Isola et al. [6]), 70x70 receptive field.

[B,3,H,W] -> [B,1,H/8-2,W/8-2] of unbounded scores (LSGAN, section 5): 30x30 at 256,
6x6 at 64. The paper quotes 26x26; with CycleGAN's padded convolutions the 70x70
PatchGAN gives 30x30 at 256 and we keep CycleGAN's network (DESIGN.md section 2).
"""
from __future__ import annotations

import torch
from torch import nn

from poseshift.nets.resnet import norm_layer


class PatchDiscriminator(nn.Module):
    def __init__(self, channels: int = 64, n_layers: int = 3, norm: str = "instance"):
        super().__init__()
        bias = norm == "instance"
        layers: list[nn.Module] = [nn.Conv2d(3, channels, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(channels * prev, channels * mult, 4, stride=stride, padding=1, bias=bias),
                       norm_layer(norm, channels * mult), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(channels * mult, 1, 4, stride=1, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        assert image.ndim == 4 and image.shape[1] == 3, f"expected [B, 3, H, W], got {list(image.shape)}"
        return self.net(image)


def patch_output_size(size: int, n_layers: int = 3) -> int:
    """Side of D's output grid for a square input of `size` pixels."""
    for _ in range(n_layers):
        size = (size + 2 - 4) // 2 + 1
    for _ in range(2):
        size = size + 2 - 4 + 1
    return size
