"""Choosing the device a command runs on."""
from __future__ import annotations

import torch

__all__ = ["DeviceError", "select_device"]


class DeviceError(ValueError):
    """A device that was asked for and is not here."""


def select_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; an explicit choice that is absent is an error."""
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(f"--device {name}: no CUDA device is available here")
    if name == "mps" and not has_mps:
        raise DeviceError(f"--device mps: no MPS device is available here")
    return torch.device(name)
