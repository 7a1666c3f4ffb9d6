"""The PatchGAN discriminator D_I of section 4.2 (Isola et al. [6]), 70x70 receptive field.

[B,3,H,W] -> [B,1,h,w] of unbounded scores (LSGAN, section 5). ``tail_padding`` pads D's
two stride-1 convolutions: 1 (CycleGAN's network) gives H/8-2, 30x30 at 256 and 6x6 at 64;
0 gives H/8-6, the paper's 26x26 at 256 (Y_1, section 4.2; the ``paper`` preset). Both have
the same weights and 70x70 receptive field; 0 has two fewer rings of patches at the border, the
ones reaching furthest into the zero padding. ``patch_output_size`` gives the side for any input.
"""
from __future__ import annotations

import torch
from torch import nn

from poseshift.config_rules import patch_output_size
from poseshift.nets.resnet import norm_layer

__all__ = ["PatchDiscriminator", "patch_output_size"]


class PatchDiscriminator(nn.Module):
    def __init__(self, channels: int = 64, n_layers: int = 3, norm: str = "instance", tail_padding: int = 1):
        super().__init__()
        if tail_padding not in (0, 1):
            raise ValueError(f"tail_padding must be 0 or 1, got {tail_padding!r}")
        bias = norm == "instance"
        layers: list[nn.Module] = [nn.Conv2d(3, channels, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride, pad = (2, 1) if n < n_layers else (1, tail_padding)
            layers += [nn.Conv2d(channels * prev, channels * mult, 4, stride=stride, padding=pad, bias=bias),
                       norm_layer(norm, channels * mult), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(channels * mult, 1, 4, stride=1, padding=tail_padding))
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        assert image.ndim == 4 and image.shape[1] == 3, f"expected [B, 3, H, W], got {list(image.shape)}"
        return self.net(image)
