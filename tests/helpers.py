"""Small builders shared by the tests: a micro config and a generated training folder."""
from __future__ import annotations

from pathlib import Path

from poseshift.config import Config, load_config
from poseshift.stick_figures import write_figures

MICRO = [
    "model.image_size=32", "model.g_channels=8", "model.g_blocks=1", "model.d_channels=8",
    "model.phi_channels=8", "model.phi_blocks=1", "train.batch_size=4", "train.log_every=5",
    "train.sample_every=10", "train.checkpoint_every=10", "train.workers=0",
]


def micro_config(*extra: str) -> Config:
    """The tiny preset shrunk to 32 px and 8-channel nets: a training step takes ~50 ms on CPU."""
    return load_config("tiny", [*MICRO, *extra])


def figures(tmp: Path, people: int = 6, size: int = 32) -> Path:
    return write_figures(tmp / "figures", people=people, poses_per_person=2, size=size, seed=3)
