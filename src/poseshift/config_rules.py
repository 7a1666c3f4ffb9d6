"""What a configuration value may be: choices, plausible bounds, rules between fields.

Checked when a config is read (a file, ``--set``, or a checkpoint's own), so that nothing is
built from a value that cannot work. :mod:`poseshift.config` holds the fields themselves.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from poseshift.config import Config


class ConfigError(ValueError):
    """A configuration file, preset name or override that cannot be used."""


CHOICES = {
    ("loss", "identity"): ("content_style", "l1"),
    ("model", "g_upsample"): ("deconv", "resize"),
    ("model", "g_arch"): ("resnet", "warp", "flow"),
    ("data", "silhouettes"): ("pose", "photo"),
    ("model", "psi_backbone"): ("vgg16", "efficientnet_lite0"),
    ("train", "device"): ("auto", "cpu", "cuda", "mps"),
    ("train", "schedule"): ("epochs", "budget"),
    ("train", "flip"): ("none", "mirror", "all"),
    ("data", "fit"): ("pad", "resize"),
}
# Plausible bounds: a zero interval, a network that would need terabytes, a weight that
# overflows are refused. (lo, hi), inclusive; floats must also be finite.
BOUNDS: dict[tuple[str, str], tuple[float, float]] = {
    ("pose", "sigma_frac"): (1e-4, 1.0),
    ("model", "image_size"): (16, 512),  # the field trains at 256 (DeepFashion) and 512 at most
    ("model", "g_channels"): (1, 512), ("model", "g_blocks"): (0, 64),
    ("model", "d_channels"): (1, 512), ("model", "d_layers"): (1, 6), ("model", "d_tail_padding"): (0, 1),
    ("model", "phi_channels"): (1, 512), ("model", "phi_blocks"): (0, 64),
    ("loss", "lambda_pose"): (0, 1e6), ("loss", "lambda_id"): (0, 1e6),
    ("loss", "lambda_style"): (0, 1e8), ("loss", "lambda_colour"): (0, 1e8), ("loss", "cycle_grad_scale"): (0, 10),
    ("train", "batch_size"): (1, 65536),
    ("train", "lr_g"): (0, 1), ("train", "lr_d"): (0, 1),
    ("train", "epochs"): (1, 10**6), ("train", "decay_after"): (0, 10**6),
    ("train", "pool_size"): (0, 10**5), ("train", "seed"): (0, 2**32 - 1),
    ("train", "workers"): (0, 256),
    ("train", "log_every"): (1, 10**9), ("train", "sample_every"): (1, 10**9),
    ("train", "checkpoint_every"): (1, 10**9),
    ("train", "phi_warmup_steps"): (0, 10**12), ("train", "g_ema_decay"): (0, 0.999999),
    ("data", "pad_value"): (0, 255),
}
MAX_TEXT = 4096  # characters of a string field (a path at most)


def patch_output_size(size: int, n_layers: int = 3, tail_padding: int = 1) -> int:
    """Side of D_I's output grid (nets/patchgan.py) for a square input of ``size`` pixels:
    ``n_layers`` stride-2 4x4 convolutions padded by 1, then two stride-1 4x4 convolutions
    padded by ``tail_padding``. 30 at 256 with CycleGAN's padding (1), 26 unpadded (0)."""
    for _ in range(n_layers):
        size = (size + 2 - 4) // 2 + 1
    for _ in range(2):
        size = size + 2 * tail_padding - 4 + 1
    return size


def check_bounds(section: str, name: str, value: Any, source: str) -> None:
    bounds = BOUNDS.get((section, name))
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{source}: {section}.{name} must be finite, got {value!r}")
    if bounds is None:
        return
    lo, hi = bounds
    if not lo <= value <= hi:
        want = f"{lo}" if lo == hi else f"between {lo} and {hi}"
        raise ConfigError(f"{source}: {section}.{name} must be {want}, got {value!r}")


def check_config(cfg: Config, source: str) -> None:
    """Rules between fields, checked before anything is built."""
    m = cfg.model
    size = m.image_size
    if size % 4:
        raise ConfigError(f"{source}: model.image_size must be a multiple of 4 (G halves it twice), got {size}")
    # Each stride-2 layer floors the side by 2 and the tail takes 6 - 4 x padding pixels: D's grid
    # needs one cell, and the side at least 4 before the tail (the check before d_tail_padding).
    need = max(2 ** (m.d_layers + 2), (7 - 4 * m.d_tail_padding) * 2 ** m.d_layers)
    if size < need:
        raise ConfigError(f"{source}: model.image_size={size} is too small for model.d_layers={m.d_layers} "
                          f"with model.d_tail_padding={m.d_tail_padding} (D needs at least {need})")
    if cfg.train.decay_after > cfg.train.epochs:
        raise ConfigError(f"{source}: train.decay_after={cfg.train.decay_after} is past "
                          f"train.epochs={cfg.train.epochs}")


def coerce(want: type, section: str, name: str, value: Any, source: str) -> Any:
    """``value`` as the field's type ``want`` (its default's), bounded and among its choices."""
    if (section, name) == ("train", "flip") and isinstance(value, bool):  # a bool until 2026-12-07
        value = "mirror" if value else "none"                                 # (synthetic-64 says true)
    try:
        if want is bool and isinstance(value, str):
            low = value.strip().lower()
            if low not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            value = low in ("true", "1", "yes")
        elif want is bool:
            value = bool(value)
        elif want is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        elif want is str:
            if isinstance(value, (dict, list)) or len(str(value)) > MAX_TEXT:
                raise ValueError(value)
            value = str(value)
        elif isinstance(value, (dict, list)):
            raise ValueError(value)
        else:
            value = want(value)
    except (TypeError, ValueError, OverflowError):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise ConfigError(f"{source}: {section}.{name} must be {want.__name__}, got {shown}") from None
    check_bounds(section, name, value, source)
    choices = CHOICES.get((section, name))
    if choices and value not in choices:
        raise ConfigError(f"{source}: {section}.{name} must be one of {', '.join(choices)}, got {value!r}")
    return value
