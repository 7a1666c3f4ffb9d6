"""Weights files of other networks (VGG16, Inception-v3, LPIPS heads): reading a torchvision-format
state dict from ``.safetensors`` or a weights-only torch file, and loading it into a module with
one ValueError line naming the file and what does not fit, instead of ``load_state_dict``'s many
lines."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn


def load_state_dict_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` or torch (``.pth``/``.pt``, weights-only) state-dict file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any file at all may be named here: a text file, a pickle with code
        raise ValueError(f"{path}: not a weights file (a .safetensors or weights-only torch state dict; "
                         f"{type(err).__name__})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} does not hold a state dict (got {type(state).__name__})")
    return state


def _key(name: str) -> str:
    return repr(name[:60])  # key names come from the file: any length, any characters


def load_weights(module: nn.Module, state: Mapping[str, torch.Tensor], source: str, expected: str,
                 strict: bool = True) -> None:
    """Load ``state`` into ``module``, or one ValueError line ``{source}: not {expected} (...)``
    summarising the tensors missing, unexpected and of another shape: what a weights file of
    another network gives, instead of ``load_state_dict``'s many-line RuntimeError.
    ``strict=False`` ignores the file's keys the module lacks (a classifier's head, say)."""
    want = module.state_dict()
    missing = [k for k in want if k not in state]
    extra = [k for k in state if k not in want] if strict else []
    shaped = [k for k in want if k in state and tuple(state[k].shape) != tuple(want[k].shape)]
    problems = []
    if missing:
        problems.append(f"{len(missing)} of its {len(want)} tensors missing, e.g. {_key(missing[0])}")
    if extra:
        problems.append(f"{len(extra)} unexpected, e.g. {_key(extra[0])}")
    if shaped:
        k = shaped[0]
        problems.append(f"{len(shaped)} of another shape, e.g. {_key(k)} {tuple(state[k].shape)} "
                        f"instead of {tuple(want[k].shape)}")
    bad_type = [k for k in want if k in state and want[k].is_floating_point() and state[k].is_complex()]
    if bad_type:
        problems.append(f"{_key(bad_type[0])} is complex")
    if problems:
        raise ValueError(f"{source}: not {expected} ({'; '.join(problems)})".replace("\n", " "))
    try:
        module.load_state_dict({k: state[k] for k in want}, strict=True)
    except RuntimeError as err:  # what the checks above did not foresee, still one line
        raise ValueError(f"{source}: does not fit {expected} ({str(err).strip().splitlines()[0][:200]})") from None
