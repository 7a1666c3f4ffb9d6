"""Checkpoints: tensors in safetensors, everything else as JSON; never a pickle.

``RUN/checkpoints/last.safetensors`` holds the networks (``G.*``, ``D.*``, ``Phi.*``, and
``G_ema.*`` when training averages G),
the optimisers' moment tensors (``opt.<name>.<param index>.<key>``), the image buffer
and the random generators' states; its metadata holds the config and the training
state as JSON strings. ``last.json`` beside it repeats that JSON for people to read.
Both are written atomically (a temporary file in the same folder, then a rename), so
an interrupted write never leaves a broken checkpoint behind; a kill between the two renames
leaves ``last.json`` one checkpoint behind, which :func:`sync_sidecar` repairs from the
checkpoint itself, and :func:`poseshift.files.remove_stray` deletes temporary files a kill left.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from poseshift.config import Config, config_from_json
from poseshift.files import atomic_write, atomic_write_text

FORMAT = "poseshift-checkpoint-1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read; the message names the file."""


def flatten_optimizer(name: str, state_dict: dict[str, Any]) -> tuple[dict[str, torch.Tensor], list]:
    """An optimiser's state_dict -> flat tensors and its JSON-able param_groups."""
    tensors = {}
    for idx, state in state_dict["state"].items():
        for key, value in state.items():
            t = value if isinstance(value, torch.Tensor) else torch.tensor(value)
            tensors[f"opt.{name}.{idx}.{key}"] = t.detach().cpu().contiguous()
    return tensors, state_dict["param_groups"]


def unflatten_optimizer(name: str, tensors: dict[str, torch.Tensor], groups: list) -> dict[str, Any]:
    prefix = f"opt.{name}."
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix):
            idx, sub = key[len(prefix):].split(".", 1)
            state.setdefault(int(idx), {})[sub] = value
    groups = [dict(g, betas=tuple(g["betas"])) if "betas" in g else dict(g) for g in groups]
    return {"state": dict(sorted(state.items())), "param_groups": groups}


def save_checkpoint(path: str | Path, config: Config, modules: dict[str, torch.nn.Module],
                    optimizers: dict[str, torch.optim.Optimizer] | None = None,
                    extra_tensors: dict[str, torch.Tensor] | None = None,
                    state: dict[str, Any] | None = None) -> Path:
    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    for prefix, module in modules.items():
        for key, value in module.state_dict().items():
            tensors[f"{prefix}.{key}"] = value.detach().cpu().contiguous().clone()
    state = dict(state or {})
    groups = {}
    for name, opt in (optimizers or {}).items():
        flat, groups[name] = flatten_optimizer(name, opt.state_dict())
        tensors.update(flat)
    for key, value in (extra_tensors or {}).items():
        tensors[key] = value.detach().cpu().contiguous().clone()
    state["optimizer_groups"] = groups
    meta = {"format": FORMAT, "config": config.to_json(), "state": json.dumps(state)}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=meta))
    write_sidecar(path, config, state)
    return path


def write_sidecar(path: Path, config: Config, state: dict[str, Any]) -> None:
    """``last.json`` beside ``last.safetensors``: its config and state for people to read."""
    readable = {"format": FORMAT, "config": config.to_dict(),
                "state": {k: v for k, v in state.items() if k != "optimizer_groups"}}
    atomic_write_text(path.with_suffix(".json"), json.dumps(readable, indent=2) + "\n")


def sync_sidecar(ckpt: "Checkpoint") -> bool:
    """Rewrite the JSON beside ``ckpt`` where it is missing or describes another step."""
    side = ckpt.path.with_suffix(".json")
    try:
        seen = json.loads(side.read_text()).get("state", {}).get("step")
    except (OSError, ValueError, AttributeError, RecursionError):
        seen = None
    if seen == ckpt.state.get("step") and side.is_file():
        return False
    write_sidecar(ckpt.path, ckpt.config, ckpt.state)
    return True


class Checkpoint:
    """A loaded checkpoint: ``config``, ``state`` (dict) and ``tensors`` (name -> tensor)."""

    def __init__(self, path: str | Path, prefixes: tuple[str, ...] | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise CheckpointError(f"{self.path}: checkpoint not found")
        try:
            with safe_open(str(self.path), framework="pt", device="cpu") as fh:
                meta = fh.metadata() or {}
                keys = [k for k in fh.keys() if prefixes is None or k.split(".", 1)[0] in prefixes]
                self.tensors = {k: fh.get_tensor(k) for k in keys}
        except (SafetensorError, OSError) as err:
            raise CheckpointError(f"{self.path}: not a readable safetensors checkpoint ({err})") from None
        if meta.get("format") != FORMAT or "config" not in meta:
            raise CheckpointError(f"{self.path}: not a poseshift checkpoint (no {FORMAT} metadata)")
        self.config = config_from_json(meta["config"], str(self.path))
        self.state: dict[str, Any] = _read_state(meta.get("state", "{}"), self.path)

    def module_state(self, prefix: str) -> dict[str, torch.Tensor]:
        p = prefix + "."
        return {k[len(p):]: v for k, v in self.tensors.items() if k.startswith(p)}

    def load_module(self, prefix: str, module: torch.nn.Module) -> None:
        sd = self.module_state(prefix)
        if not sd:
            raise CheckpointError(f"{self.path}: holds no {prefix} weights")
        try:
            module.load_state_dict(sd)
        except RuntimeError as err:
            first = str(err).splitlines()[0]
            raise CheckpointError(f"{self.path}: {prefix} weights do not fit the network ({first})") from None

    def load_optimizer(self, name: str, optimizer: torch.optim.Optimizer) -> None:
        groups = self.state.get("optimizer_groups", {})
        groups = groups.get(name) if isinstance(groups, dict) else None
        if groups is None:
            raise CheckpointError(f"{self.path}: holds no state for optimiser {name}")
        bad = f"{self.path}: the state of optimiser {name} does not fit its network"
        try:
            sd = unflatten_optimizer(name, self.tensors, groups)
            params = [p for g in optimizer.param_groups for p in g["params"]]
            need = {"step", "exp_avg", "exp_avg_sq"} if isinstance(optimizer, torch.optim.Adam) else set()
            if sd["state"] and (set(sd["state"]) != set(range(len(params)))
                                or any(set(st) != need | set(st) or set(st) != set(sd["state"][0])
                                       for st in sd["state"].values())):
                raise CheckpointError(f"{bad} (moments missing)")
            for idx, st in sd["state"].items():
                for key, value in st.items():
                    shape_ok = value.numel() == 1 if key == "step" else tuple(value.shape) == tuple(params[idx].shape)
                    if not shape_ok or not value.is_floating_point():
                        raise CheckpointError(f"{bad} ({key} of parameter {idx})")
            optimizer.load_state_dict(sd)
        except CheckpointError:
            raise
        except (ValueError, KeyError, IndexError, TypeError, AttributeError, RuntimeError) as err:
            raise CheckpointError(f"{bad} ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
                                  ) from None

    def tensor(self, key: str) -> torch.Tensor | None:
        return self.tensors.get(key)


def _read_state(text: str, path: Path) -> dict[str, Any]:
    """The training state's JSON, checked where a tampered value would break a resume."""
    try:
        state = json.loads(text)
    except (ValueError, RecursionError):
        raise CheckpointError(f"{path}: its training state is not valid JSON") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: its training state is not a JSON object")
    for key in ("step", "batches", "ema_updates", "world_size"):
        if key not in state or (key == "step" and state[key] is None):  # an export may have no step
            continue
        value = state[key]
        if (not isinstance(value, int) or isinstance(value, bool) or not
                                  0 <= value < 2 ** 53 or (key == "world_size" and value < 1)):
            raise CheckpointError(f"{path}: its training state has an impossible {key} ({value!r})")
    return state
