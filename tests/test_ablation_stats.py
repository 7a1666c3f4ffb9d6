"""The ablation benchmark's paired bootstrap: a known shift gives an interval at the shift,
identical rows give zero, and unrelated noise gives an interval around zero."""
import importlib.util
from pathlib import Path

import numpy as np

_spec = importlib.util.spec_from_file_location(
    "ablation_bench", Path(__file__).resolve().parents[1] / "benchmarks" / "ablation.py")
ablation = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ablation)


def _row(rng, n=100):
    return {"ssim": rng.random(n), "err": rng.random(n) * 5, "n": rng.integers(5, 18, n).astype(float)}


def test_a_constant_shift_is_found_exactly_and_identical_rows_give_zero():
    a = _row(np.random.default_rng(1))
    b = {"ssim": a["ssim"] - 0.05, "err": a["err"] + 1.0, "n": a["n"]}
    ci = ablation.paired_bootstrap(a, b)
    assert np.allclose(ci["ssim"], [0.05, 0.05]) and np.allclose(ci["pose_error_px"], [-1.0, -1.0])
    same = ablation.paired_bootstrap(a, a)
    assert same == {"ssim": [0.0, 0.0], "pose_error_px": [0.0, 0.0]}


def test_independent_rows_give_an_interval_around_zero_and_missing_renders_are_ignored():
    rng = np.random.default_rng(2)
    a, b = _row(rng, 400), _row(rng, 400)
    a["ssim"][:10] = np.nan  # renders that were missing
    ci = ablation.paired_bootstrap(a, b)
    assert ci["ssim"][0] < 0 < ci["ssim"][1]
    assert ci["pose_error_px"][0] < 0 < ci["pose_error_px"][1]
    assert ci["ssim"][1] - ci["ssim"][0] < 0.1
