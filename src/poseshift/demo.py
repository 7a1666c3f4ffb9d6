"""``poseshift demo``: offline, no arguments. Makes simple figures, trains the ``tiny``
preset on them for a short, time-boxed run, and re-poses figures it never trained on."""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from poseshift.config import load_config
from poseshift.data import PoseImageFolder
from poseshift.figures import write_figures
from poseshift.images import to_uint8, write_image
from poseshift.pose.draw import draw_skeleton
from poseshift.pose.heatmaps import belief_maps
from poseshift.sheets import grid
from poseshift.train import Trainer
from poseshift.transfer import Reposer

log = logging.getLogger(__name__)
MARKER = ".poseshift-demo"


def _claim(out: Path) -> None:
    """Use ``out`` only if it is new, empty or an earlier demo's folder; never clobber user files."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise FileExistsError(f"{out} exists and is not a poseshift demo folder; move it or run elsewhere")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by poseshift demo; safe to delete\n")


def run_demo(out: str | Path = "poseshift-demo", train_seconds: float = 100.0, max_steps: int = 400,
             seed: int = 0, progress: bool = True) -> Path:
    started = time.perf_counter()
    out = Path(out).resolve()
    _claim(out)
    data = write_figures(out / "figures", people=24, poses_per_person=3, size=64, seed=seed)
    cfg = load_config("tiny", [f"train.seed={seed}", "train.sample_every=100", "train.checkpoint_every=100"])
    trainer = Trainer(cfg, data, out / "run", progress=progress)
    trainer.train(max_steps=max_steps, time_limit=train_seconds)
    ckpt = trainer.ckpt_path
    # Re-pose the held-out figures (split == test) into poses of other figures.
    reposer = Reposer.from_checkpoint(ckpt, device=cfg.train.device)
    test = PoseImageFolder(data, 64, split="test")
    rng = np.random.default_rng(seed + 7)
    targets = trainer.data.poses[rng.choice(len(trainer.data.poses), size=4, replace=False)]
    rows = []
    for i in range(min(6, len(test))):
        item = test[i]
        maps = belief_maps(torch.from_numpy(targets), 64, 64, reposer.sigma)
        renders = reposer.render_tensor(item["image"][None].expand(len(targets), -1, -1, -1), maps)
        row = [to_uint8(item["image"])]
        for t, r in zip(targets, renders):
            row += [draw_skeleton(t, 64, 64), to_uint8(r)]
        rows.append(row)
    header = ["input"] + ["pose", "render"] * len(targets)
    sheet = write_image(out / "sheet.png", grid(rows, header=header))
    log.info("trained %d steps; demo took %.0f s", trainer.step_count, time.perf_counter() - started)
    return sheet
