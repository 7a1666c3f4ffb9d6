"""``poseshift demo``: offline, no arguments, seconds on a CPU.

The default re-poses synthetic people the shipped model never saw (``poseshift synth``
with a seed outside its training set), including a full turn so that backs and fronts
are hallucinated: ``poseshift-demo/sheet.png`` and ``poseshift-demo/turn.gif``.
``--train`` instead trains the ``tiny`` preset briefly on simple figures and re-poses
held-out ones, showing the whole training loop offline.
"""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from poseshift.config import load_config
from poseshift.data import PoseImageFolder
from poseshift.images import to_uint8, write_image
from poseshift.pose.draw import draw_skeleton
from poseshift.pose.heatmaps import belief_maps
from poseshift.sheets import grid
from poseshift.stick_figures import write_figures
from poseshift.synth import person_seed_rng, render, sample_person, sample_pose
from poseshift.training import Trainer
from poseshift.transfer import Reposer

log = logging.getLogger(__name__)
MARKER = ".poseshift-demo"
SHIPPED = Path(__file__).parent / "assets" / "synthetic-64.safetensors"
DEMO_SEED = 90210  # people of this seed are not in the shipped model's training set (seed 0)


def _claim(out: Path) -> None:
    """Use ``out`` only if it is new, empty or an earlier demo's folder; never clobber user files."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise FileExistsError(f"{out} exists and is not a poseshift demo folder; move it or run elsewhere")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by poseshift demo; safe to delete\n")


def run_training_demo(out: str | Path = "poseshift-demo", train_seconds: float = 100.0, max_steps: int = 400,
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
        n = len(targets)
        renders = reposer.render_tensor(item["image"][None].expand(n, -1, -1, -1), maps,
                                        item["keypoints"][None].expand(n, -1, -1), torch.from_numpy(targets))
        row = [to_uint8(item["image"])]
        for t, r in zip(targets, renders):
            row += [draw_skeleton(t, 64, 64), to_uint8(r)]
        rows.append(row)
    header = ["input"] + ["pose", "render"] * len(targets)
    sheet = write_image(out / "sheet.png", grid(rows, header=header))
    log.info("trained %d steps; demo took %.0f s", trainer.step_count, time.perf_counter() - started)
    return sheet


def _person_views(index: int, size: int, n_targets: int):
    """A new person: a front-ish source view and ``n_targets`` other poses and yaws, with
    ground truth (the same person rendered there) for the sheet."""
    rng = person_seed_rng(DEMO_SEED, index)
    person = sample_person(rng)
    source, source_kp, _ = render(person, sample_pose(rng), float(rng.uniform(-0.4, 0.4)), size)
    views = []
    for k in range(n_targets):
        yaw = float(np.pi * k / max(1, n_targets - 1) * (1 if index % 2 else -1))  # front -> back
        image, kp, _ = render(person, sample_pose(rng), yaw, size)
        views.append((kp, image))
    return person, (source, source_kp), views


def run_demo(out: str | Path = "poseshift-demo", checkpoint: str | Path | None = None, people: int = 4,
             turn_frames: int = 24) -> tuple[Path, Path]:
    """Re-pose new synthetic people with the shipped model -> (sheet.png, turn.gif)."""
    started = time.perf_counter()
    if checkpoint is None and not SHIPPED.is_file():
        raise FileNotFoundError(f"{SHIPPED}: the shipped demo model is missing from this install")
    checkpoint = Path(checkpoint) if checkpoint else SHIPPED
    out = Path(out).resolve()
    _claim(out)
    reposer = Reposer.from_checkpoint(checkpoint, device="cpu")
    size = reposer.size
    rows = []
    for i in range(people):
        _, (source, source_kp), views = _person_views(i, size, 4)
        row = [source]
        for kp, truth in views:
            # the same person's own pose, shown beside its truth: rendered as it is, not retargeted
            row += [draw_skeleton(kp, size, size), reposer(source, kp, source_kp, retarget=False), truth]
        rows.append(row)
    header = ["input"] + ["pose", "render", "truth"] * 4
    sheet = write_image(out / "sheet.png", grid(rows, header=header))
    # A full turn: one person, one articulation, yaw 0..360; the model sees only the front.
    rng = person_seed_rng(DEMO_SEED, 1000)
    person, pose = sample_person(rng), sample_pose(rng)
    source, source_kp, _ = render(person, pose, 0.0, size)
    frames = []
    for k in range(turn_frames):
        truth, kp, _ = render(person, pose, 2 * np.pi * k / turn_frames, size)
        frame = grid([[source, draw_skeleton(kp, size, size), reposer(source, kp, source_kp, retarget=False), truth]],
                     header=["input", "pose", "render", "truth"])
        frames.append(Image.fromarray(frame).resize((frame.shape[1] * 2, frame.shape[0] * 2), Image.NEAREST))
    gif = out / "turn.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=150, loop=0)
    log.info("demo took %.1f s with %s", time.perf_counter() - started, checkpoint.name)
    return sheet, gif
