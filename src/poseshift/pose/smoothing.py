"""Pose sequences over time: the One-Euro filter against jitter, and gaps filled from neighbours.

The One-Euro filter (Casiez, Roussel and Vogel, "1 Euro Filter: A Simple Speed-based Low-pass
Filter for Noisy Input in Interactive Systems", CHI 2012) is a first-order low-pass filter whose
cutoff rises with the signal's speed: a joint that stands still is smoothed hard (no jitter), one
that moves fast is followed closely (little lag). :func:`smooth_poses` runs one on every
coordinate of a ``[T, 18, 2]`` sequence, measured in body sizes (the sequence's median neck to
mid-hip), so its settings hold for a person of any size in the picture.

:func:`fill_gaps` fills the frames where nobody was detected, each joint interpolated between its
neighbouring frames (held at the ends), and short gaps of single joints.
"""
from __future__ import annotations

import math

import numpy as np

from poseshift.pose.retarget import body_size
from poseshift.pose.schema import NUM_JOINTS

__all__ = ["OneEuroFilter", "smooth_poses", "fill_gaps"]

MIN_CUTOFF = 1.0  # Hz: the cutoff of a joint standing still
BETA = 2.0  # Hz more per body size a second of speed
D_CUTOFF = 1.0  # Hz: the cutoff of the speed estimate


class OneEuroFilter:
    """One-Euro filter on arrays: ``f(x)`` filters each element of ``x`` (any fixed shape) as its
    own signal, sampled at ``freq`` Hz. A NaN element is passed through and restarts that
    element's filter at its next value (a joint that went missing comes back where it is)."""

    def __init__(self, freq: float, min_cutoff: float = MIN_CUTOFF, beta: float = BETA, d_cutoff: float = D_CUTOFF):
        for name, value in (("freq", freq), ("min_cutoff", min_cutoff), ("d_cutoff", d_cutoff)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if not (math.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta must be >= 0, got {beta!r}")
        self.freq, self.min_cutoff = float(freq), float(min_cutoff)
        self.beta, self.d_cutoff = float(beta), float(d_cutoff)
        self._x: np.ndarray | None = None  # the last filtered value
        self._dx: np.ndarray | None = None  # the last filtered speed

    def _alpha(self, cutoff):
        tau = 1.0 / (2 * np.pi * cutoff)
        return 1.0 / (1.0 + tau * self.freq)

    def __call__(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._x is None:
            self._x, self._dx = x.copy(), np.zeros_like(x)
            return x.copy()
        fresh = ~np.isfinite(self._x)  # no history: start from this value
        prev = np.where(fresh, x, self._x)
        dx = np.where(fresh, 0.0, (x - prev) * self.freq)
        a_d = self._alpha(self.d_cutoff)
        dx_hat = a_d * dx + (1 - a_d) * np.where(fresh, 0.0, self._dx)
        a = self._alpha(self.min_cutoff + self.beta * np.abs(dx_hat))
        out = a * x + (1 - a) * prev
        self._x, self._dx = out, np.where(np.isfinite(dx_hat), dx_hat, 0.0)
        return out.copy()


def smooth_poses(poses, fps: float, min_cutoff: float = MIN_CUTOFF, beta: float = BETA,
                 d_cutoff: float = D_CUTOFF) -> np.ndarray:
    """``[T, 18, 2]`` poses at ``fps`` frames a second, One-Euro filtered; ``beta`` is per body size
    a second (the sequence's median :func:`~poseshift.pose.retarget.body_size`); NaN stay NaN."""
    seq = np.asarray(poses, dtype=np.float64)
    if seq.ndim != 3 or seq.shape[1:] != (NUM_JOINTS, 2):
        raise ValueError(f"poses must be [T, {NUM_JOINTS}, 2] keypoints, got shape {list(seq.shape)}")
    sizes = np.array([body_size(kp) for kp in seq])
    sizes = sizes[np.isfinite(sizes) & (sizes > 1e-6)]
    unit = float(np.median(sizes)) if sizes.size else 1.0
    filt = OneEuroFilter(fps, min_cutoff, beta, d_cutoff)
    return np.stack([filt(kp / unit) * unit for kp in seq]).astype(np.float32) if len(seq) else seq.astype(np.float32)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True in a 1-D mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2], edges[1::2]))


def fill_gaps(poses, max_gap: int = 3) -> tuple[np.ndarray, int]:
    """``[T, 18, 2]`` with the frames where nobody is detected (every joint missing) filled, and
    -> ``(filled float32 [T, 18, 2], how many empty frames were filled)``.

    In an empty frame each joint that its nearest detected frame before or after shows is
    interpolated linearly between its neighbouring detections (held at the sequence's ends).
    A joint missing for at most ``max_gap`` frames between two that show it, in frames where
    the person is detected, is interpolated too. Raises ValueError where no frame has anybody."""
    seq = np.asarray(poses, dtype=np.float64)
    if seq.ndim != 3 or seq.shape[1:] != (NUM_JOINTS, 2):
        raise ValueError(f"poses must be [T, {NUM_JOINTS}, 2] keypoints, got shape {list(seq.shape)}")
    seen = np.isfinite(seq).all(axis=2)  # [T, 18]
    empty = ~seen.any(axis=1)
    if empty.all():
        raise ValueError(f"nobody was detected in any of the {len(seq)} frames")
    out = seq.copy()
    idx = np.arange(len(seq))
    detected = np.flatnonzero(~empty)
    for j in range(NUM_JOINTS):
        ok = seen[:, j]
        if not ok.any():
            continue
        wanted = np.zeros(len(seq), bool)
        for start, end in _runs(empty):  # empty frames: where a neighbouring detection shows j
            before, after = detected[detected < start], detected[detected >= end]
            if (before.size and ok[before[-1]]) or (after.size and ok[after[0]]):
                wanted[start:end] = True
        for start, end in _runs(~ok):  # short gaps between two frames that show it
            if start > 0 and end < len(seq) and end - start <= max_gap:
                wanted[start:end] = True
        for c in range(2):
            out[wanted, j, c] = np.interp(idx[wanted], idx[ok], seq[ok, j, c])
    return out.astype(np.float32), int(empty.sum())
