"""The training loop: build the parts, then step, log, sample and checkpoint, top to bottom. The
step itself, G's, Phi's and D_I's updates with the learning rate and G's average, is
:func:`poseshift.training.step.train_step`.

The run folder gets ``checkpoints/last.safetensors`` (+ ``last.json``), ``config.json``,
``samples/step_*.png`` and ``log.jsonl`` (rank 0 writes them all). ``resume=True`` continues
from the last checkpoint with the optimisers, the buffers, the schedule and the data position,
bit-exactly. With ``train.g_ema_decay`` > 0 an average of G's weights (``G_ema``) follows each G
step and is what samples, inference and export use (not in the paper; see TrainConfig).

Losses stay on the device between log steps (``train.log_every``): only then are they
averaged over the steps and ranks and read, and checked to be finite. Before every checkpoint
the weights and Adam's moments are checked too: a run that went non-finite stops with the step
and leaves the last good checkpoint as it was.
"""
from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from poseshift.config import Config
from poseshift.data import PoseImageFolder
from poseshift.devices import resolve_bf16, select_device
from poseshift.files import atomic_write_text
from poseshift.images import to_uint8, write_image
from poseshift.nets import Networks, build_networks
from poseshift.objective import Batch, render_cycle
from poseshift.pool import ImagePool
from poseshift.pose.draw import draw_skeleton
from poseshift.pose.heatmaps import sigma_pixels
from poseshift.sheets import grid
from poseshift.training.batches import BatchPlan, BatchSource, TrainingItems, to_batch
from poseshift.training.distributed import any_rank, init_distributed, mean, wrap
from poseshift.training.state import (
    RunState,
    TrainError,
    initialise_from,
    nonfinite,
    open_run,
    restore_run,
    save_run,
    truncate_log,
)
from poseshift.training.step import Learner, make_optimizers, train_step
from poseshift.warp import warp_only

__all__ = ["Trainer"]

log = logging.getLogger(__name__)

SHORT = {"loss_G": "G", "loss_D": "D", "loss_pose": "pose", "loss_Phi": "Phi"}


class Trainer:
    """The paper's unsupervised training (eq. 8) of G, D_I and Phi on ``data_dir``: the data, the
    checkpoints and the log around :func:`poseshift.training.step.train_step`, which holds the step."""

    def __init__(self, cfg: Config, data_dir: str | Path, run_dir: str | Path, resume: bool = False,
                 progress: bool = True, psi_pretrained: bool = True, init: str | Path | None = None,
                 overwrite: bool = False):
        self.run = Path(run_dir)
        self.ckpt_path = self.run / "checkpoints" / "last.safetensors"
        cfg, ckpt, start = open_run(cfg, self.run, resume, init, overwrite)
        self.cfg, t = cfg, cfg.train
        self.world, self.device = init_distributed(select_device(t.device))
        self.progress = progress and self.world.main
        torch.manual_seed(t.seed)
        self.size = cfg.model.image_size
        self.sigma = sigma_pixels(self.size, cfg.pose.sigma_frac)
        # data.silhouettes: photo gives a warping G each photo's own mask (computed once, here).
        masks = cfg.data.silhouettes == "photo" and cfg.model.g_arch in ("warp", "flow")
        self.data = PoseImageFolder(data_dir, self.size, "train", cfg.data.fit, cfg.data.pad_value,
                                    cache=cfg.data.cache, silhouettes=masks)
        if masks:  # rank 0 segments what is missing; the other ranks then only find the files
            if self.world.enabled and not self.world.main:
                torch.distributed.barrier()
            self.data.prepare_silhouettes(self.progress)
            if self.world.enabled and self.world.main:
                torch.distributed.barrier()
        items = self._items()
        self.batch_size = min(t.batch_size, len(items))
        self.plan = BatchPlan(len(items), self.batch_size, t.seed, t.flip, len(self.data))
        self.steps_per_epoch = self.plan.per_epoch
        self.total_steps = t.epochs * self.steps_per_epoch

        # The networks, their optimisers, the averaged G and this rank's image buffer.
        nets = build_networks(cfg, psi_pretrained).to(self.device)
        if t.channels_last:
            nets.to(memory_format=torch.channels_last)
        opt = make_optimizers(nets, cfg, self.device)
        G_ema = copy.deepcopy(nets.G).eval().requires_grad_(False) if t.g_ema_decay > 0 else None
        self.pool_gen = torch.Generator().manual_seed(t.seed + 1000 * self.world.rank)
        pool = ImagePool(t.pool_size, self.pool_gen)
        state = RunState()
        self.saved_step: int | None = None  # the step of the last good checkpoint
        if ckpt is not None:
            state = restore_run(ckpt, nets, G_ema, opt, pool, self.pool_gen, self.world, self.device)
            if self.world.main:
                truncate_log(self.run, state.step)
            self.saved_step = state.step
            log.info("resumed %s at step %d", self.ckpt_path, state.step)
        else:
            if start is not None:
                initialise_from(start, nets, G_ema)
            if self.world.main:
                self.run.mkdir(parents=True, exist_ok=True)
                atomic_write_text(self.run / "config.json", cfg.to_json() + "\n")
                if overwrite:  # the run there is replaced, so none of it can be resumed by mistake later
                    for old in (self.run / "log.jsonl", self.ckpt_path, self.ckpt_path.with_suffix(".json")):
                        old.unlink(missing_ok=True)

        # The step runs G, D and Phi under DDP (several processes) and torch.compile (train.compile),
        # wrapped after the weights are loaded (DDP starts every rank from rank 0's).
        wrapped = {name: wrap(m, self.world, self.device) for name, m in nets.trainable().items()}
        if t.compile:
            wrapped = {name: torch.compile(m) for name, m in wrapped.items()}
        # fp32, with a warning, where bf16 has no fast units (an AVX2 CPU: hundreds of times slower)
        bf16 = resolve_bf16(t.bf16, self.device, "train.bf16=true")
        self.learner = Learner(cfg, nets, replace(nets, **wrapped), opt, pool, G_ema, state, bf16, self.device,
                               epoch_steps=float(self.steps_per_epoch))
        self.batches = BatchSource(items, self.plan, self.world, self.device, self.sigma, t.channels_last,
                                   t.workers, consumed=state.consumed)
        self._fixed = self._fixed_samples()

    def _items(self) -> Dataset:
        """The samples of an epoch: images (an experiment may train on pairs instead)."""
        return TrainingItems(self.data)

    # ------------------------------------------------------------- the step and what it changes
    def train_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        return train_step(self.learner, batch)

    def next_batch(self) -> Batch:
        batch = self.batches.next()
        self.state.consumed = self.batches.consumed
        return batch

    @property
    def nets(self) -> Networks:
        return self.learner.nets

    @property
    def opt(self) -> dict[str, torch.optim.Optimizer]:
        return self.learner.opt

    @property
    def G_ema(self) -> torch.nn.Module | None:
        return self.learner.G_ema

    @property
    def pool(self) -> ImagePool:
        return self.learner.pool

    @property
    def state(self) -> RunState:
        return self.learner.state

    @property
    def step_count(self) -> int:
        return self.state.step

    def inference_generator(self) -> torch.nn.Module:
        return self.G_ema if self.G_ema is not None else self.nets.G

    # ------------------------------------------------------------- checkpoints
    def last_good(self) -> str:
        if self.saved_step is None:
            return "no checkpoint was written"
        return f"the last good checkpoint is {self.ckpt_path} (step {self.saved_step})"

    def save(self) -> Path | None:
        """The checkpoint (written by rank 0; every rank calls this), only from finite weights and
        optimiser states: otherwise ``TrainError``, and the last good checkpoint stays."""
        modules = dict(self.nets.trainable(), **({"G_ema": self.G_ema} if self.G_ema is not None else {}))
        bad = nonfinite(modules, self.opt)
        if any_rank(bool(bad), self.world, self.device):
            raise TrainError(f"step {self.state.step}: {', '.join(bad) or 'another rank'} went non-finite "
                             f"(NaN or inf); nothing was saved, {self.last_good()}")
        path = save_run(self.ckpt_path, self.cfg, self.nets, self.G_ema, self.opt, self.state, self.pool,
                        self.pool_gen, self.world, self.device, self.steps_per_epoch)
        self.saved_step = self.state.step
        return path

    # ------------------------------------------------------------- samples and log
    def _fixed_samples(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = min(4, len(self.data))
        rng = np.random.default_rng(self.cfg.train.seed + 1)
        picks = self.data.poses[rng.integers(0, len(self.data), size=n)]
        images = torch.stack([torch.from_numpy(self.data.framed(i).transpose(2, 0, 1).copy()) for i in range(n)])
        return images, torch.from_numpy(self.data.poses[:n].copy()), torch.from_numpy(picks.copy())

    @torch.no_grad()
    def write_samples(self) -> Path:
        """Sheet: input | target skeleton | (warp only) | render I_pf | render back I^_po, a row per sample."""
        images, kp_o, kp_f = self._fixed
        batch = to_batch({"image": images, "kp_o": kp_o, "kp_f": kp_f}, self.device, self.sigma,
                         self.cfg.train.channels_last)
        G = self.inference_generator()
        was_training = G.training
        G.eval()
        with self.learner.autocast():
            fake, back = render_cycle(G, batch)
        G.train(was_training)
        # A warping G (model.g_arch = warp): its untrained floor beside the render.
        warped = warp_only(batch.real, batch.kp_o, batch.kp_f) if getattr(G, "needs_source_pose", False) else None
        rows = []
        for i in range(len(images)):
            row = [images[i].permute(1, 2, 0).numpy(), draw_skeleton(kp_f[i].numpy(), self.size, self.size)]
            row += [] if warped is None else [to_uint8(warped[i])]
            rows.append(row + [to_uint8(fake[i]), to_uint8(back[i])])
        header = ["input", "target", *([] if warped is None else ["warp"]), "render", "back"]
        path = self.run / "samples" / f"step_{self.state.step:07d}.png"
        write_image(path, grid(rows, header=header))
        return path

    def _read_losses(self, sums: dict[str, torch.Tensor], count: int) -> dict[str, float]:
        """The losses since the last read, averaged over steps and ranks: the one host sync."""
        if not sums:
            return {}
        keys = sorted(sums)
        values = mean(torch.stack([sums[k] for k in keys]) / count, self.world).tolist()
        out = dict(zip(keys, values))
        if not all(np.isfinite(v) for v in values):
            raise TrainError(f"step {self.state.step}: a loss is not finite "
                             f"({', '.join(k for k, v in out.items() if not np.isfinite(v))}); {self.last_good()}")
        return out

    def _log(self, record: dict[str, Any]) -> None:
        if self.world.main:
            with (self.run / "log.jsonl").open("a") as fh:
                fh.write(json.dumps(record) + "\n")

    # ------------------------------------------------------------- the loop
    def train(self, max_steps: int | None = None, time_limit: float | None = None) -> dict[str, float]:
        """Run until global step ``max_steps`` (or the schedule's end), or until ``time_limit``
        seconds have passed (checkpointing there); returns the last logged losses."""
        t = self.cfg.train
        end = max_steps or self.total_steps
        if t.schedule == "budget":
            self.learner.epoch_steps = end / t.epochs
        if self.state.step >= end:
            log.info("already at step %d >= %d; nothing to do", self.state.step, end)
            return {}
        for net in self.nets.trainable().values():
            net.train()
        start = time.perf_counter()
        bar = tqdm(total=end, initial=self.state.step, disable=not self.progress, unit="step",
                   dynamic_ncols=True, desc="train")
        window, seen, last = time.perf_counter(), 0, {}
        sums: dict[str, torch.Tensor] = {}
        count = 0
        try:
            while self.state.step < end:
                batch = self.next_batch()
                losses = self.train_step(batch)
                if sums and sums.keys() != losses.keys():  # Phi's warm-up ended: its losses apart
                    last, sums, count = self._read_losses(sums, count), {}, 0
                for k, v in losses.items():
                    sums[k] = sums[k] + v if k in sums else v
                count += 1
                seen += batch.real.shape[0] * self.world.size
                bar.update(1)
                if time_limit is not None and any_rank(time.perf_counter() - start > time_limit,
                                                       self.world, self.device):
                    end = self.state.step  # stop here, logging, sampling and saving as at the end
                step = self.state.step
                at_end = step == end
                if step % t.log_every == 0 or step % t.checkpoint_every == 0 or at_end:
                    last = self._read_losses(sums, count)  # also the finiteness check before a save
                    sums, count = {}, 0
                if step % t.log_every == 0 or at_end:
                    elapsed = time.perf_counter() - window
                    rate = seen / max(elapsed, 1e-9)
                    self._log({"step": step, "epoch": round(step / self.steps_per_epoch, 4),
                               **{k: round(v, 6) for k, v in last.items()},
                               "lr_g": self.opt["G"].param_groups[0]["lr"], "images_per_s": round(rate, 2)})
                    bar.set_postfix({s: f"{last[k]:.4g}" for k, s in SHORT.items() if k in last} | {"ips": f"{rate:.1f}"})
                    window, seen = time.perf_counter(), 0
                if self.world.main and (step % t.sample_every == 0 or at_end):
                    self.write_samples()
                if step % t.checkpoint_every == 0 or at_end:
                    self.save()
        except KeyboardInterrupt:
            if not self.world.enabled:  # several processes: the last checkpoint stands
                self.save()
            raise
        finally:
            bar.close()
            self.batches.close()
        return last
