"""Networks built from checkpoint files: the generator inference uses, and an export that keeps
what inference and ``--adapt`` need (poseshift.checkpoint reads and writes the files)."""
from __future__ import annotations

from pathlib import Path

import torch

from poseshift.checkpoint import Checkpoint, save_checkpoint
from poseshift.nets import build_discriminator, build_generator, build_pose_regressor


def load_inference_generator(path: str | Path) -> tuple[torch.nn.Module, Checkpoint]:
    """The generator that inference uses, built from the checkpoint's own config: ``G_ema``
    (the averaged G, train.g_ema_decay > 0) where the checkpoint holds one, else ``G``."""
    ckpt = Checkpoint(path, prefixes=("G", "G_ema"))
    generator = build_generator(ckpt.config)
    ckpt.load_module("G_ema" if ckpt.module_state("G_ema") else "G", generator)
    return generator, ckpt


def export_generator(src: str | Path, dst: str | Path) -> Path:
    """Keep what inference needs: the inference generator's weights (G_ema where present, saved
    as ``G``), the config, and D_I and Phi where the run has them, so that ``--adapt`` can
    fine-tune G on a user's photo with eq. (8)'s own terms (poseshift.adapt)."""
    generator, ckpt = load_inference_generator(src)
    modules: dict[str, torch.nn.Module] = {"G": generator}
    critics = Checkpoint(src, prefixes=("D", "Phi"))
    if critics.module_state("D") and critics.module_state("Phi"):
        d, phi = build_discriminator(ckpt.config), build_pose_regressor(ckpt.config)
        critics.load_module("D", d)
        critics.load_module("Phi", phi)
        modules.update(D=d, Phi=phi)
    state = {"step": ckpt.state.get("step"), "exported_from": Path(src).name}
    return save_checkpoint(dst, ckpt.config, modules, state=state)
