"""Choosing the device a command runs on, and whether bfloat16 is fast on it."""
from __future__ import annotations

import logging
import platform
from pathlib import Path

import torch

__all__ = ["DeviceError", "select_device", "bf16_is_fast", "resolve_bf16"]

log = logging.getLogger(__name__)

# x86 flags of native bf16 arithmetic (AVX512-BF16 from Cooper Lake / Zen 4, AMX from Sapphire Rapids);
# "bf16" is the Arm feature (ARMv8.6). Without them a CPU bf16 matmul runs hundreds of times slower.
_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


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
        raise DeviceError("--device mps: no MPS device is available here")
    return torch.device(name)


def _cpu_flags() -> set[str] | None:
    """The CPU's feature flags from /proc/cpuinfo (x86 ``flags``, Arm ``Features``); None where unreadable."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return None


def bf16_is_fast(device: torch.device | str) -> tuple[bool, str]:
    """Whether bfloat16 runs at least as fast as float32 on ``device``, and why (a short phrase).

    CUDA: compute capability 8.0 (Ampere) or newer, where bf16 has tensor cores (older GPUs
    emulate it). CPU: native bf16 units, i.e. a capability naming them or the flag
    avx512_bf16 / amx_bf16 (x86) or bf16 (Arm) in /proc/cpuinfo; an AVX2 or plain AVX512 CPU
    emulates bf16 and a matmul runs hundreds of times slower than fp32. MPS: fast (Apple GPUs
    compute in half precision natively)."""
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return False, "no CUDA device"
        major, minor = torch.cuda.get_device_capability(device)
        name = torch.cuda.get_device_name(device)
        if major >= 8:
            return True, f"{name}, compute capability {major}.{minor}"
        return False, f"{name} has compute capability {major}.{minor}; bf16 tensor cores need 8.0 (Ampere)"
    if device.type == "mps":
        return True, "MPS"
    if device.type != "cpu":
        return True, f"{device.type}: not checked"
    cap = torch.backends.cpu.get_cpu_capability()
    if "BF16" in cap.upper() or "AMX" in cap.upper():
        return True, f"CPU capability {cap}"
    flags = _cpu_flags()
    native = [f for f in _BF16_FLAGS if f in (flags or ())]
    if native:
        return True, f"CPU capability {cap} with {native[0]}"
    seen = "no avx512_bf16, amx_bf16 or bf16 in /proc/cpuinfo" if flags is not None else \
        f"no /proc/cpuinfo to show bf16 units on this {platform.system() or 'system'}"
    return False, f"CPU capability {cap}, {seen}: a bf16 matmul runs far slower than fp32 here"


def resolve_bf16(requested: bool, device: torch.device | str, what: str) -> bool:
    """Whether to run under bf16 autocast: ``requested`` where bf16 is fast on ``device``; else
    False (fp32) with one warning line naming the setting ``what`` and why."""
    if not requested:
        return False
    fast, why = bf16_is_fast(device)
    if not fast:
        log.warning("%s: using fp32, not bf16: %s", what, why)
    return fast
