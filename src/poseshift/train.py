"""Training (section 4.3 and 5): G's, Phi's and D_I's updates written out in plain sight.

Per step, on a batch of real images I_po with poses p_o and random target poses p_f:
  1. G  : minimise eq. (8)'s generator terms (D_I and Phi frozen; Psi always frozen).
  2. Phi: minimise lambda_P L_Phi on the real images (Phi is trained on real images only).
  3. D_I: LSGAN on real images against renders drawn from the 50-image buffer.

With ``train.g_ema_decay`` > 0 an average of G's weights (``G_ema``) follows each G step and
is what samples, inference and export use (not in the paper; see TrainConfig).

The run folder gets ``checkpoints/last.safetensors`` (+ ``last.json``), ``config.json``,
``samples/step_*.png`` and ``log.jsonl``. ``resume=True`` continues from the last
checkpoint with the optimisers, the buffer, the schedule and the random generators.
"""
from __future__ import annotations

import copy
import json
import logging
import math
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from poseshift.checkpoint import Checkpoint, save_checkpoint
from poseshift.config import Config
from poseshift.data import PoseImageFolder, flip_batch, pair_indices, sample_target_poses
from poseshift.images import to_uint8, write_image
from poseshift.nets import Networks, build_networks
from poseshift.objective import (
    Batch,
    discriminator_loss,
    generator_terms,
    pose_regressor_loss,
    supervised_terms,
)
from poseshift.pool import ImagePool
from poseshift.pose.draw import draw_skeleton
from poseshift.pose.heatmaps import belief_maps, sigma_pixels, visible
from poseshift.sheets import grid
from poseshift.warp import warp_only

log = logging.getLogger(__name__)

LOG_KEYS = ("loss_G", "loss_D", "loss_pose", "loss_content", "loss_style", "loss_colour", "loss_identity",
            "loss_Phi")


class TrainError(RuntimeError):
    """A run that cannot start as asked (for example, it would overwrite another run)."""


def select_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; an explicit choice that is absent is an error."""
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainError("--device cuda: no CUDA device is available here")
    if name == "mps" and not has_mps:
        raise TrainError("--device mps: no MPS device is available here")
    return torch.device(name)


def lr_factor(step: int, steps_per_epoch: float, epochs: int, decay_after: int) -> float:
    """Section 5: constant for ``decay_after`` epochs, then linear decay to zero at ``epochs``.
    A pure function of the step (the epoch is fractional, and so may be ``steps_per_epoch``)."""
    epoch = step / max(1e-9, steps_per_epoch)
    if epoch < decay_after:
        return 1.0
    return max(0.0, 1.0 - (epoch - decay_after) / max(1e-9, epochs - decay_after))


def set_requires_grad(module: torch.nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


class Trainer:
    def __init__(self, cfg: Config, data_dir: str | Path, run_dir: str | Path, resume: bool = False,
                 progress: bool = True, psi_pretrained: bool = True, init: str | Path | None = None):
        self.run = Path(run_dir)
        self.ckpt_path = self.run / "checkpoints" / "last.safetensors"
        self.progress = progress
        ckpt = None
        if self.ckpt_path.is_file():
            if not resume:
                raise TrainError(f"{self.run} already holds a run ({self.ckpt_path}); "
                                 "pass --resume to continue it or choose another --out")
            ckpt = Checkpoint(self.ckpt_path)
            if ckpt.config.model != cfg.model or ckpt.config.loss != cfg.loss:
                log.warning("resuming with the checkpoint's model and loss settings, not the given config")
            cfg = Config(pose=ckpt.config.pose, model=ckpt.config.model, loss=ckpt.config.loss,
                         train=cfg.train, data=cfg.data)
        elif resume:
            log.warning("%s: no checkpoint to resume from; starting a new run", self.ckpt_path)
        start = Checkpoint(init) if init is not None and ckpt is None else None
        if start is not None:
            # Fine-tuning: the networks must be the ones the checkpoint holds.
            if start.config.model != cfg.model:
                log.warning("--init %s: using its model settings, not the given config's", init)
            cfg = Config(pose=cfg.pose, model=start.config.model, loss=cfg.loss, train=cfg.train, data=cfg.data)
        self.cfg = cfg
        t = cfg.train
        self.device = select_device(t.device)
        torch.manual_seed(t.seed)
        self.size = cfg.model.image_size
        self.sigma = sigma_pixels(self.size, cfg.pose.sigma_frac)
        self.data = PoseImageFolder(data_dir, self.size, cfg.data.split, cfg.data.fit, cfg.data.pad_value)
        self.batch_size = min(t.batch_size, self._items())
        self.steps_per_epoch = max(1, self._items() // self.batch_size)
        self.total_steps = t.epochs * self.steps_per_epoch
        # Steps per epoch of the learning-rate schedule: the data's, or under
        # train.schedule = "budget" the run's budget over `epochs` (set by train()).
        self.schedule_epoch_steps: float = float(self.steps_per_epoch)

        self.nets: Networks = build_networks(cfg, psi_pretrained).to(self.device)
        if t.channels_last:
            self.nets.to(memory_format=torch.channels_last)
        betas = (t.beta1, t.beta2)
        self.opt = {
            "G": torch.optim.Adam(self.nets.G.parameters(), lr=t.lr_g, betas=betas),
            "D": torch.optim.Adam(self.nets.D.parameters(), lr=t.lr_d, betas=betas),
            "Phi": torch.optim.Adam(self.nets.Phi.parameters(), lr=t.lr_phi, betas=betas),
        }
        self.base_lr = {"G": t.lr_g, "D": t.lr_d, "Phi": t.lr_phi}
        # train.g_ema_decay: an averaged copy of G for inference (not in the paper).
        self.G_ema = copy.deepcopy(self.nets.G).eval().requires_grad_(False) if t.g_ema_decay > 0 else None
        self.ema_updates = 0
        self.rng = np.random.default_rng(t.seed)
        self.pool_gen = torch.Generator().manual_seed(t.seed)
        self.pool = ImagePool(t.pool_size, self.pool_gen)
        self.step_count = 0
        self.perm = self.rng.permutation(self._items())
        self.pos = 0
        if ckpt is not None:
            if ckpt.config.train.mode != cfg.train.mode:
                raise TrainError(f"{self.ckpt_path} was trained with train.mode={ckpt.config.train.mode}")
            self._restore(ckpt)
        else:
            if start is not None:
                self._initialise_from(start)
            self.run.mkdir(parents=True, exist_ok=True)
            (self.run / "config.json").write_text(cfg.to_json() + "\n")
            self._truncate_log(0)  # lines of an earlier attempt that died before its first checkpoint
        self._fixed = self._fixed_samples()

    # ------------------------------------------------------------------ state
    def _restore(self, ckpt: Checkpoint) -> None:
        for name, module in self.nets.trainable().items():
            ckpt.load_module(name, module)
        for name, opt in self.opt.items():
            ckpt.load_optimizer(name, opt)
        st = ckpt.state
        if self.G_ema is not None:
            if ckpt.module_state("G_ema"):
                ckpt.load_module("G_ema", self.G_ema)
                self.ema_updates = int(st.get("ema_updates", 0))
            else:  # a run started without averaging: the average starts here, from G
                self.G_ema.load_state_dict(self.nets.G.state_dict())
        self.step_count = int(st["step"])
        self.pos = int(st["data_pos"])
        self.perm = ckpt.tensor("data.perm").numpy()
        self.rng.bit_generator.state = st["numpy_rng"]
        self.pool_gen.set_state(ckpt.tensor("rng.pool"))
        self.pool.load_state_tensor(ckpt.tensor("pool.images"), self.device)
        self._truncate_log(self.step_count)
        log.info("resumed %s at step %d", self.ckpt_path, self.step_count)

    def _initialise_from(self, ckpt: Checkpoint) -> None:
        """A new run (step 0, fresh optimisers) whose networks start from another run's
        weights: G from its averaged G where it holds one, D and Phi where it holds them (an
        export holds G only; the others then start from scratch)."""
        ckpt.load_module("G_ema" if ckpt.module_state("G_ema") else "G", self.nets.G)
        fresh = [name for name in ("D", "Phi") if not ckpt.module_state(name)]
        for name in ("D", "Phi"):
            if name not in fresh:
                ckpt.load_module(name, getattr(self.nets, name))
        if self.G_ema is not None:
            self.G_ema.load_state_dict(self.nets.G.state_dict())
        log.info("initialised from %s%s", ckpt.path, f" ({' and '.join(fresh)} from scratch)" if fresh else "")

    def _truncate_log(self, step: int) -> None:
        """Drop log lines written after the checkpoint we resume from."""
        path = self.run / "log.jsonl"
        if path.is_file():
            keep = [ln for ln in path.read_text().splitlines() if ln.strip() and json.loads(ln)["step"] <= step]
            path.write_text("".join(ln + "\n" for ln in keep))

    def save(self) -> Path:
        extra = {"data.perm": torch.from_numpy(np.asarray(self.perm, dtype=np.int64)),
                 "rng.pool": self.pool_gen.get_state()}
        pool = self.pool.state_tensor()
        if pool is not None:
            extra["pool.images"] = pool
        state = {"step": self.step_count, "epoch": self.step_count / self.steps_per_epoch,
                 "data_pos": self.pos, "numpy_rng": self.rng.bit_generator.state}
        modules = self.nets.trainable()
        if self.G_ema is not None:
            modules["G_ema"] = self.G_ema
            state["ema_updates"] = self.ema_updates
        return save_checkpoint(self.ckpt_path, self.cfg, modules, self.opt, extra, state)

    # ------------------------------------------------------------------ data
    def _items(self) -> int:
        """How many sampling units an epoch has (images here, pairs for the supervised baseline)."""
        return len(self.data)

    def _next_indices(self) -> np.ndarray:
        if self.pos + self.batch_size > len(self.perm):
            self.perm = self.rng.permutation(self._items())
            self.pos = 0
        idx = self.perm[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        return idx

    def _make_batch(self, images: torch.Tensor, kp_o: torch.Tensor, kp_f: torch.Tensor) -> Batch:
        dev = self.device
        images = images.to(dev)
        if self.cfg.train.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        kp_o, kp_f = kp_o.to(dev), kp_f.to(dev)
        return Batch(images, belief_maps(kp_o, self.size, self.size, self.sigma),
                     belief_maps(kp_f, self.size, self.size, self.sigma), visible(kp_o), visible(kp_f),
                     kp_o, kp_f)

    def next_batch(self) -> Batch:
        items = [self.data[int(i)] for i in self._next_indices()]
        images = torch.stack([it["image"] for it in items])
        kp_o = torch.stack([it["keypoints"] for it in items])
        if self.cfg.train.flip:
            mask = torch.from_numpy(self.rng.random(len(items)) < 0.5)
            images, kp_o = flip_batch(images, kp_o, mask)
        kp_f = sample_target_poses(self.data.poses, len(items), self.rng, self.size, self.cfg.train.flip)
        return self._make_batch(images, kp_o, kp_f)

    def _fixed_samples(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = min(4, len(self.data))
        rng = np.random.default_rng(self.cfg.train.seed + 1)
        items = [self.data[i] for i in range(n)]
        kp_f = sample_target_poses(self.data.poses, n, rng, self.size, flip=False)
        return torch.stack([it["image"] for it in items]), torch.stack([it["keypoints"] for it in items]), kp_f

    # ------------------------------------------------------------------ steps
    def _autocast(self):
        if not self.cfg.train.bf16:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def _set_lr(self) -> float:
        t = self.cfg.train
        f = lr_factor(self.step_count, self.schedule_epoch_steps, t.epochs, t.decay_after)
        for name, opt in self.opt.items():
            for group in opt.param_groups:
                group["lr"] = self.base_lr[name] * f
        return f

    @torch.no_grad()
    def update_ema(self) -> None:
        """G_ema <- d G_ema + (1 - d) G, with d = min(decay, (1 + n) / (10 + n))."""
        if self.G_ema is None:
            return
        self.ema_updates += 1
        n = self.ema_updates
        d = min(self.cfg.train.g_ema_decay, (1 + n) / (10 + n))
        for avg, cur in zip(self.G_ema.parameters(), self.nets.G.parameters()):
            avg.lerp_(cur, 1.0 - d)
        for avg, cur in zip(self.G_ema.buffers(), self.nets.G.buffers()):
            avg.copy_(cur)

    def inference_generator(self) -> torch.nn.Module:
        return self.G_ema if self.G_ema is not None else self.nets.G

    def phi_step(self, batch: Batch) -> dict[str, float]:
        """Phi alone on real images (train.phi_warmup_steps): lambda_P L_Phi(I, p_o)."""
        self._set_lr()
        with self._autocast():
            loss_phi = pose_regressor_loss(self.nets, batch, self.cfg.loss)
        self.opt["Phi"].zero_grad(set_to_none=True)
        (self.cfg.loss.lambda_pose * loss_phi).backward()
        self.opt["Phi"].step()
        self.step_count += 1
        return {"loss_Phi": float(loss_phi.detach())}

    def train_step(self, batch: Batch) -> dict[str, float]:
        nets, lc = self.nets, self.cfg.loss
        self._set_lr()
        # 1. G: D_I and Phi act as fixed critics for this update.
        set_requires_grad(nets.D, False)
        set_requires_grad(nets.Phi, False)
        with self._autocast():
            terms, fake, recovered = generator_terms(nets, batch, lc)
        self.opt["G"].zero_grad(set_to_none=True)
        terms["total"].backward()
        self.opt["G"].step()
        self.update_ema()
        # 2. Phi on real images: lambda_P L_Phi(I, p_o).
        set_requires_grad(nets.Phi, True)
        with self._autocast():
            loss_phi = pose_regressor_loss(nets, batch, lc)
        self.opt["Phi"].zero_grad(set_to_none=True)
        (lc.lambda_pose * loss_phi).backward()
        self.opt["Phi"].step()
        # 3. D_I: real against buffered renders (both I_pf and I^_po are renders).
        set_requires_grad(nets.D, True)
        fakes = self.pool.query(torch.cat([fake, recovered]).detach())
        with self._autocast():
            loss_d = discriminator_loss(nets, batch.real, fakes)
        self.opt["D"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt["D"].step()
        self.step_count += 1
        out = {"loss_G": terms["total"], "loss_D": loss_d, "loss_adv": terms["adv_f"] + terms["adv_o"],
               "loss_pose": terms["pose_f"] + terms["pose_o"], "loss_content": terms.get("content"),
               "loss_style": terms.get("style"), "loss_colour": terms.get("colour"),
               "loss_identity": terms["identity"], "loss_Phi": loss_phi}
        return {k: float(v.detach()) if v is not None else 0.0 for k, v in out.items()}

    @torch.no_grad()
    def write_samples(self) -> Path:
        """Sheet: input | target skeleton | (warp only) | render I_pf | render back I^_po, a row per sample."""
        images, kp_o, kp_f = self._fixed
        batch = self._make_batch(images, kp_o, kp_f)
        G = self.inference_generator()
        was_training = G.training
        G.eval()
        with self._autocast():
            fake = G(batch.real, batch.maps_f, batch.kp_o, batch.kp_f)
            back = G(fake, batch.maps_o, batch.kp_f, batch.kp_o)
        G.train(was_training)
        # A warping G (model.g_arch = warp): its untrained floor beside the render.
        warped = warp_only(batch.real, batch.kp_o, batch.kp_f) if getattr(G, "needs_source_pose", False) else None
        rows = []
        for i in range(len(images)):
            row = [to_uint8(images[i]), draw_skeleton(kp_f[i].numpy(), self.size, self.size)]
            row += [] if warped is None else [to_uint8(warped[i])]
            rows.append(row + [to_uint8(fake[i]), to_uint8(back[i])])
        header = ["input", "target", *([] if warped is None else ["warp"]), "render", "back"]
        path = self.run / "samples" / f"step_{self.step_count:07d}.png"
        write_image(path, grid(rows, header=header))
        return path

    def _log(self, record: dict[str, Any]) -> None:
        with (self.run / "log.jsonl").open("a") as fh:
            fh.write(json.dumps(record) + "\n")

    def train(self, max_steps: int | None = None, time_limit: float | None = None) -> dict[str, float]:
        """Run until global step ``max_steps`` (or the schedule's end), or until ``time_limit``
        seconds have passed (checkpointing there); returns the last logged losses."""
        t = self.cfg.train
        end = max_steps or t.max_steps or self.total_steps
        if t.schedule == "budget":
            self.schedule_epoch_steps = end / t.epochs
        if self.step_count >= end:
            log.info("already at step %d >= %d; nothing to do", self.step_count, end)
            return {}
        for net in (self.nets.G, self.nets.D, self.nets.Phi):
            net.train()
        start = time.perf_counter()
        bar = tqdm(total=end, initial=self.step_count, disable=not self.progress, unit="step",
                   dynamic_ncols=True, desc="train")
        window, seen, last = time.perf_counter(), 0, {}
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        try:
            while self.step_count < end:
                batch = self.next_batch()
                warmup = self.step_count < t.phi_warmup_steps and t.mode == "unsupervised"
                losses = self.phi_step(batch) if warmup else self.train_step(batch)
                if not all(math.isfinite(v) for v in losses.values()):
                    raise TrainError(f"step {self.step_count}: a loss is not finite {losses}; "
                                     f"the last good checkpoint is {self.ckpt_path}")
                seen += batch.real.shape[0]
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + v
                    counts[k] = counts.get(k, 0) + 1
                bar.update(1)
                if time_limit is not None and time.perf_counter() - start > time_limit:
                    end = self.step_count  # stop here, logging, sampling and saving as at the end
                if self.step_count % t.log_every == 0 or self.step_count == end:
                    elapsed = time.perf_counter() - window
                    last = {k: v / counts[k] for k, v in sums.items()}
                    rate = seen / max(elapsed, 1e-9)
                    self._log({"step": self.step_count, "epoch": round(self.step_count / self.steps_per_epoch, 4),
                               **{k: round(v, 6) for k, v in last.items()},
                               "lr_g": self.opt["G"].param_groups[0]["lr"], "images_per_s": round(rate, 2)})
                    short = {"loss_G": "G", "loss_D": "D", "loss_pose": "pose", "loss_Phi": "Phi"}
                    shown = {s: f"{last[k]:.4g}" for k, s in short.items() if k in last}
                    bar.set_postfix(shown | {"ips": f"{rate:.1f}"})
                    window, seen, sums, counts = time.perf_counter(), 0, {}, {}
                if self.step_count % t.sample_every == 0 or self.step_count == end:
                    self.write_samples()
                if self.step_count % t.checkpoint_every == 0 or self.step_count == end:
                    self.save()
        except KeyboardInterrupt:
            self.save()
            bar.close()
            raise
        bar.close()
        return last


class SupervisedTrainer(Trainer):
    """The ablation's supervised baseline: the same G on ground-truth pairs (pairs.csv),
    L1 + lambda_Id x content; no D, no Phi (they are kept, untrained, in checkpoints)."""

    def _items(self) -> int:
        if not hasattr(self, "pairs"):
            self.pairs = pair_indices(self.data)
        return len(self.pairs)

    def next_batch(self) -> Batch:
        idx = self.pairs[self._next_indices()]
        src = [self.data[int(i)] for i in idx[:, 0]]
        tgt = [self.data[int(i)] for i in idx[:, 1]]
        images = torch.stack([it["image"] for it in src])
        targets = torch.stack([it["image"] for it in tgt])
        kp_o = torch.stack([it["keypoints"] for it in src])
        kp_f = torch.stack([it["keypoints"] for it in tgt])
        if self.cfg.train.flip:  # the same mirror for a source and its ground truth
            mask = torch.from_numpy(self.rng.random(len(src)) < 0.5)
            images, kp_o = flip_batch(images, kp_o, mask)
            targets, kp_f = flip_batch(targets, kp_f, mask)
        batch = self._make_batch(images, kp_o, kp_f)
        batch.target = targets.to(self.device)
        return batch

    def train_step(self, batch: Batch) -> dict[str, float]:
        self._set_lr()
        with self._autocast():
            terms, _ = supervised_terms(self.nets, batch, self.cfg.loss)
        self.opt["G"].zero_grad(set_to_none=True)
        terms["total"].backward()
        self.opt["G"].step()
        self.update_ema()
        self.step_count += 1
        out = {k: 0.0 for k in ("loss_D", "loss_adv", "loss_pose", "loss_style", "loss_Phi")}
        return {**out, "loss_G": float(terms["total"].detach()), "loss_content": float(terms["content"].detach()),
                "loss_identity": float(terms["l1"].detach())}


def build_trainer(cfg: Config, data_dir: str | Path, run_dir: str | Path, **kwargs) -> Trainer:
    """The trainer for ``cfg.train.mode``."""
    cls = SupervisedTrainer if cfg.train.mode == "supervised" else Trainer
    return cls(cfg, data_dir, run_dir, **kwargs)
