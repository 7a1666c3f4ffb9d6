"""The four networks of figure 2: G, D_I, Phi and the frozen Psi, built from a Config."""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from poseshift.config import Config
from poseshift.nets.flow_generator import FlowGenerator
from poseshift.nets.patchgan import PatchDiscriminator
from poseshift.nets.psi import Psi, build_psi
from poseshift.nets.resnet import Generator, PoseRegressor
from poseshift.nets.warp_generator import WarpGenerator

# model.g_arch -> G's class. Each is built as cls(channels=, n_blocks=, upsample=) and called as
# G(image, maps_f, kp_o, kp_f); the paper's (resnet) ignores the keypoints.
GENERATORS: dict[str, type[nn.Module]] = {"resnet": Generator, "warp": WarpGenerator, "flow": FlowGenerator}


def build_generator(cfg: Config) -> nn.Module:
    """``model.g_arch``: the paper's G (``resnet``), the part-warping G (``warp``) or the G that
    corrects the warp's sampling field (``flow``)."""
    m = cfg.model
    return GENERATORS[m.g_arch](channels=m.g_channels, n_blocks=m.g_blocks, upsample=m.g_upsample)


def build_discriminator(cfg: Config) -> PatchDiscriminator:
    m = cfg.model
    return PatchDiscriminator(m.d_channels, m.d_layers, tail_padding=m.d_tail_padding)


def build_pose_regressor(cfg: Config) -> PoseRegressor:
    m = cfg.model
    return PoseRegressor(channels=m.phi_channels, n_blocks=m.phi_blocks)


def build_feature_net(cfg: Config, pretrained: bool = True) -> Psi:
    """Psi; ``pretrained=False`` (random weights) is for speed benchmarks only."""
    m = cfg.model
    return build_psi(m.psi_backbone, m.psi_layer or None, m.psi_weights or None, pretrained)


@dataclass
class Networks:
    G: nn.Module  # one of GENERATORS
    D: PatchDiscriminator
    Phi: PoseRegressor
    Psi: Psi

    def trainable(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D, "Phi": self.Phi}

    def to(self, *args, **kwargs) -> Networks:
        for name in ("G", "D", "Phi", "Psi"):
            setattr(self, name, getattr(self, name).to(*args, **kwargs))
        return self


def build_networks(cfg: Config, psi_pretrained: bool = True) -> Networks:
    return Networks(build_generator(cfg), build_discriminator(cfg), build_pose_regressor(cfg),
                    build_feature_net(cfg, psi_pretrained))
