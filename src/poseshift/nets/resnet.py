"""CycleGAN's ResNet generator (Johnson et al. [7] as used by Zhu et al. [38]).

Section 4.2 uses this trunk twice: as the generator G(I|p) on concat(I, p), 3 + 18
channels in, an RGB image out through tanh; and as the pose regressor Phi(I), an RGB
image in and 18 belief maps out with no output activation.

    c7s1-C, d2C, d4C, R4C x n_blocks, u2C, uC, c7s1-out     (reflection padding)
"""
from __future__ import annotations

import torch
from torch import nn


def norm_layer(kind: str, channels: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    raise ValueError(f"unknown norm {kind!r}: expected instance or batch")


class ResnetBlock(nn.Module):
    def __init__(self, channels: int, norm: str):
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), norm_layer(norm, channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), norm_layer(norm, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class ResnetTrunk(nn.Module):
    """[B, in_ch, H, W] -> [B, out_ch, H, W]; H and W must be multiples of 4."""

    def __init__(self, in_ch: int, out_ch: int, channels: int = 64, n_blocks: int = 9,
                 norm: str = "instance", tanh: bool = True, upsample: str = "deconv"):
        super().__init__()
        if upsample not in ("deconv", "resize"):
            raise ValueError(f"upsample must be 'deconv' or 'resize', got {upsample!r}")
        bias = norm == "instance"  # CycleGAN: conv bias only where the norm has no affine shift
        c = channels
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3), nn.Conv2d(in_ch, c, 7, bias=bias), norm_layer(norm, c), nn.ReLU(True),
        ]
        for mult in (1, 2):  # two stride-2 downsamplings
            layers += [nn.Conv2d(c * mult, c * mult * 2, 3, stride=2, padding=1, bias=bias),
                       norm_layer(norm, c * mult * 2), nn.ReLU(True)]
        layers += [ResnetBlock(c * 4, norm) for _ in range(n_blocks)]
        for mult in (4, 2):  # two x2 upsamplings
            if upsample == "deconv":  # CycleGAN's transposed convolution
                layers.append(nn.ConvTranspose2d(c * mult, c * mult // 2, 3, stride=2, padding=1,
                                                 output_padding=1, bias=bias))
            else:  # nearest-neighbour resize then a 3x3 convolution: no checkerboard (Odena et al. 2016)
                layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1),
                           nn.Conv2d(c * mult, c * mult // 2, 3, bias=bias)]
            layers += [norm_layer(norm, c * mult // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, out_ch, 7)]
        if tanh:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)
        self.in_ch, self.out_ch = in_ch, out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.ndim == 4 and x.shape[1] == self.in_ch, f"expected [B, {self.in_ch}, H, W], got {list(x.shape)}"
        assert x.shape[2] % 4 == 0 and x.shape[3] % 4 == 0, "H and W must be multiples of 4"
        return self.net(x)


class Generator(nn.Module):
    """G(I | p): image [B,3,H,W] in [-1,1] and target belief maps [B,18,H,W] -> [B,3,H,W] in [-1,1].
    Keypoints may be passed, as to every generator, and are not used: the paper's G sees only (I, p)."""

    needs_source_pose = False

    def __init__(self, num_joints: int = 18, channels: int = 64, n_blocks: int = 9, norm: str = "instance",
                 upsample: str = "deconv"):
        super().__init__()
        self.trunk = ResnetTrunk(3 + num_joints, 3, channels, n_blocks, norm, tanh=True, upsample=upsample)

    def forward(self, image: torch.Tensor, maps: torch.Tensor, kp_src: torch.Tensor | None = None,
                kp_tgt: torch.Tensor | None = None) -> torch.Tensor:
        assert image.shape[0] == maps.shape[0] and image.shape[2:] == maps.shape[2:], \
            f"image {list(image.shape)} and maps {list(maps.shape)} disagree"
        return self.trunk(torch.cat([image, maps.to(image.dtype)], dim=1))


class PoseRegressor(nn.Module):
    """Phi(I): image [B,3,H,W] in [-1,1] -> belief maps [B,18,H,W] (linear output)."""

    def __init__(self, num_joints: int = 18, channels: int = 64, n_blocks: int = 9, norm: str = "instance"):
        super().__init__()
        self.trunk = ResnetTrunk(3, num_joints, channels, n_blocks, norm, tanh=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.trunk(image)
