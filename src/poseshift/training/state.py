"""The run's state and its checkpoint round trip.

``RUN/checkpoints/last.safetensors`` holds G, D, Phi (and G_ema), the three optimisers, every
rank's image buffer and buffer generator, and as JSON the step, the number of global batches
consumed (all the batch source needs, see :mod:`poseshift.training.batches`) and the averaging
count. ``open_run`` decides, before anything is built, whether a run folder is new, resumed or
fine-tuned from another checkpoint, and which config wins.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from poseshift.checkpoint import Checkpoint, CheckpointError, save_checkpoint, sync_sidecar
from poseshift.config import Config
from poseshift.files import atomic_write_text, remove_stray
from poseshift.nets import Networks
from poseshift.packaged import resolve_checkpoint
from poseshift.pool import ImagePool
from poseshift.training.distributed import World, gather

__all__ = ["TrainError", "RunState", "open_run", "initialise_from", "truncate_log", "save_run", "restore_run",
           "nonfinite"]

RUN_FILES = ("config.json", "log.jsonl")  # what a run writes before its first checkpoint

log = logging.getLogger(__name__)


class TrainError(RuntimeError):
    """A run that cannot start or go on as asked; the message says why and what to do."""


@dataclass
class RunState:
    """What changes from step to step, besides the weights and optimisers."""

    step: int = 0
    consumed: int = 0  # global batches taken from the batch source
    ema_updates: int = 0


def open_run(cfg: Config, run: Path, resume: bool, init: str | Path | None, overwrite: bool = False
             ) -> tuple[Config, Checkpoint | None, Checkpoint | None]:
    """-> (the config to use, the checkpoint to resume, the checkpoint to fine-tune from).
    Nothing in ``run`` is replaced unless it is resumed or ``overwrite`` is given."""
    path = run / "checkpoints" / "last.safetensors"
    # Temporary files of writes that a kill cut short: the run's own files, nothing else.
    for folder, names in ((run, ("config.json.", "log.jsonl.")), (run / "checkpoints", ("last.",)),
                          (run / "samples", ("step_",))):
        for tmp in remove_stray(folder, names):
            log.info("removed %s (left by an interrupted write)", tmp)
    ckpt = None
    if path.is_file() and not overwrite:
        if not resume:
            raise TrainError(f"{run} already holds a run ({path}); pass --resume to continue it, "
                             f"--overwrite to replace it, or choose another --out")
        ckpt = Checkpoint(path)
        if sync_sidecar(ckpt):
            log.info("%s: rewrote it from the checkpoint (step %s)", path.with_suffix(".json"), ckpt.state.get("step"))
        if ckpt.config.model != cfg.model or ckpt.config.loss != cfg.loss:
            log.warning("resuming with the checkpoint's model and loss settings, not the given config")
        cfg = Config(pose=ckpt.config.pose, model=ckpt.config.model, loss=ckpt.config.loss,
                     train=cfg.train, data=cfg.data)
    elif not overwrite:
        held = [name for name in RUN_FILES if (run / name).is_file()]
        if held:
            what = " and ".join(held)
            raise TrainError(f"{run} holds {what} but no checkpoint ({path}); pass --overwrite to start "
                             f"a new run there, or choose another --out")
        if resume:
            log.warning("%s: no checkpoint to resume from; starting a new run", path)
    try:
        start = Checkpoint(resolve_checkpoint(init)) if init is not None and ckpt is None else None
    except CheckpointError as err:  # another network's file, or no checkpoint at all: say which option
        raise CheckpointError(f"--init {err}") from None
    if start is not None:
        if start.config.model != cfg.model:  # fine-tuning: the networks must be the checkpoint's
            log.warning("--init %s: using its model settings, not the given config's", init)
        cfg = Config(pose=cfg.pose, model=start.config.model, loss=cfg.loss, train=cfg.train, data=cfg.data)
    return cfg, ckpt, start


def initialise_from(ckpt: Checkpoint, nets: Networks, G_ema: torch.nn.Module | None) -> None:
    """A new run (step 0, fresh optimisers) whose networks start from another run's weights: G
    from its averaged G where it holds one, D and Phi where it holds them (an export holds G only;
    the others then start from scratch)."""
    fresh = [name for name in ("D", "Phi") if not ckpt.module_state(name)]
    try:
        ckpt.load_module("G_ema" if ckpt.module_state("G_ema") else "G", nets.G)
        for name in ("D", "Phi"):
            if name not in fresh:
                ckpt.load_module(name, getattr(nets, name))
    except CheckpointError as err:  # tensors that do not fit the networks its own config describes
        raise CheckpointError(f"--init {err}") from None
    if G_ema is not None:
        G_ema.load_state_dict(nets.G.state_dict())
    log.info("initialised from %s%s", ckpt.path, f" ({' and '.join(fresh)} from scratch)" if fresh else "")


def truncate_log(run: Path, step: int) -> None:
    """Keep the log lines up to the checkpoint's step, each step once; drop a cut last line (what a
    kill or a full disk leaves). The log is replaced atomically, never emptied in place."""
    path = run / "log.jsonl"
    if not path.is_file():
        return
    keep = {}
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            at = record["step"]
            if not isinstance(at, int):
                raise TypeError(at)
        except (ValueError, KeyError, TypeError, RecursionError):
            log.warning("%s: line %d is not a log record; dropped", path, n)
            continue
        if at <= step:
            keep[at] = line
    atomic_write_text(path, "".join(keep[k] + "\n" for k in sorted(keep)))


def nonfinite(modules: dict[str, torch.nn.Module], opt: dict[str, torch.optim.Optimizer]) -> list[str]:
    """Names of the networks and optimisers holding a NaN or inf (weights, buffers, moments)."""
    bad = []
    for name, module in modules.items():
        tensors = [t for t in module.state_dict().values() if t.is_floating_point()]
        if tensors and not bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all()):
            bad.append(name)
    for name, o in opt.items():
        tensors = [v for st in o.state.values() for v in st.values()
                   if isinstance(v, torch.Tensor) and v.is_floating_point()]
        if tensors and not bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all()):
            bad.append(f"Adam({name})")
    return bad


def _pool_tensors(pool: ImagePool, gen: torch.Generator, world: World, device: torch.device
                  ) -> dict[str, torch.Tensor]:
    """Every rank's buffer and generator state (collective: every rank calls it)."""
    out: dict[str, torch.Tensor] = {}
    images = pool.state_tensor()
    states = gather(gen.get_state().to(device), world)
    # The global generators: any draw from torch's default one (none in the step itself) resumes in turn.
    for r, t in enumerate(gather(torch.get_rng_state().to(device), world)):
        out[f"rng.torch.{r}"] = t.cpu()
    if device.type == "cuda":
        for r, t in enumerate(gather(torch.cuda.get_rng_state(device).to(device), world)):
            out[f"rng.cuda.{r}"] = t.cpu()
    # Every rank's buffer grows alike (each adds its share of every batch), so shapes agree.
    if images is not None:
        for r, t in enumerate(gather(images, world)):
            out[f"pool.images.{r}"] = t.cpu()
    for r, t in enumerate(states):
        out[f"rng.pool.{r}"] = t.cpu()
    return out


def save_run(path: Path, cfg: Config, nets: Networks, G_ema: torch.nn.Module | None,
             opt: dict[str, torch.optim.Optimizer], state: RunState, pool: ImagePool, gen: torch.Generator,
             world: World, device: torch.device, steps_per_epoch: int) -> Path | None:
    """Write the checkpoint (rank 0; every rank must call it, for the buffers)."""
    extra = _pool_tensors(pool, gen, world, device)
    if not world.main:
        return None
    modules = nets.trainable()
    meta = {"step": state.step, "epoch": state.step / steps_per_epoch, "batches": state.consumed,
            "world_size": world.size}
    if G_ema is not None:
        modules["G_ema"] = G_ema
        meta["ema_updates"] = state.ema_updates
    return save_checkpoint(path, cfg, modules, opt, extra, meta)


def restore_run(ckpt: Checkpoint, nets: Networks, G_ema: torch.nn.Module | None,
                opt: dict[str, torch.optim.Optimizer], pool: ImagePool, gen: torch.Generator, world: World,
                device: torch.device) -> RunState:
    for name, module in nets.trainable().items():
        ckpt.load_module(name, module)
    for name, o in opt.items():
        ckpt.load_optimizer(name, o)
    st = ckpt.state
    if not isinstance(st.get("step"), int):
        raise CheckpointError(f"{ckpt.path}: holds no training step (an export? resume needs a run's checkpoint)")
    state = RunState(step=int(st["step"]), consumed=int(st.get("batches", st["step"])))
    if G_ema is not None:
        if ckpt.module_state("G_ema"):
            ckpt.load_module("G_ema", G_ema)
            state.ema_updates = int(st.get("ema_updates", 0))
        else:  # a run started without averaging: the average starts here, from G
            G_ema.load_state_dict(nets.G.state_dict())
    r = world.rank
    saved_world = int(st.get("world_size", 1))
    if saved_world != world.size:
        log.warning("%s was written by %d processes, resumed by %d: the image buffers start empty",
                    ckpt.path, saved_world, world.size)
        return state
    try:
        gen_state = ckpt.tensor(f"rng.pool.{r}")
        if gen_state is not None:
            gen.set_state(gen_state.to(torch.uint8))
            images = ckpt.tensor(f"pool.images.{r}")
            size = ckpt.config.model.image_size
            if images is not None and (images.ndim != 4 or tuple(images.shape[1:]) != (3, size, size)
                                       or len(images) > pool.size or not images.is_floating_point()):
                raise ValueError(f"pool of shape {tuple(images.shape)}")
            pool.load_state_tensor(images, device)
        if ckpt.tensor(f"rng.torch.{r}") is not None:
            torch.set_rng_state(ckpt.tensor(f"rng.torch.{r}").to(torch.uint8))
        if device.type == "cuda" and ckpt.tensor(f"rng.cuda.{r}") is not None:
            torch.cuda.set_rng_state(ckpt.tensor(f"rng.cuda.{r}").to(torch.uint8), device)
    except (RuntimeError, ValueError, TypeError, IndexError) as err:
        raise CheckpointError(f"{ckpt.path}: its image buffer or random generators are damaged "
                              f"({type(err).__name__})") from None
    return state
