"""FID and KID on feature sets with known answers, and the FID Inception's loader."""
from __future__ import annotations

import numpy as np
import pytest

from poseshift.metrics import fid_from_features, kid_from_features
from poseshift.metrics.fid import FID_HELPER_PIP, find_fid_inception


def _features(n=400, d=16, seed=0):
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    return rng.normal(size=(n, d)) @ mix + rng.normal(size=d)


def test_fid_identical_sets_is_zero():
    a = _features()
    assert fid_from_features(a, a) == pytest.approx(0.0, abs=1e-6)


def test_fid_mean_shift_is_squared_norm():
    a = _features()
    shift = np.arange(16) * 0.1
    b = a + shift  # same covariance exactly
    assert fid_from_features(a, b) == pytest.approx(float(shift @ shift), rel=1e-6, abs=1e-6)


def test_fid_matches_scipy_sqrtm_reference():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    a, b = _features(seed=1), _features(seed=2) * 1.3
    mu = a.mean(0) - b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy_linalg.sqrtm(sa @ sb).real
    ref = mu @ mu + np.trace(sa + sb - 2 * covmean)
    assert fid_from_features(a, b) == pytest.approx(ref, rel=1e-6)


def test_fid_few_samples_stays_finite():
    a, b = _features(n=5, d=32, seed=3), _features(n=7, d=32, seed=4)
    v = fid_from_features(a, b)
    assert np.isfinite(v) and v > 0


def test_kid_near_zero_for_same_distribution_and_grows_with_shift():
    # one population split in two: the same distribution (the mixing matrix depends on the seed)
    pop = _features(n=2000, seed=5)
    a, b = pop[:1000], pop[1000:]
    same = kid_from_features(a, b)
    assert abs(same["value"]) < 0.01
    assert same["subset_size"] == 1000 and same["subsets"] == 1
    # identical sets: the unbiased estimator is -2 (mean k(x, x) - mean k(x, y != x)) / m, not 0
    ident = kid_from_features(a, a)["value"]
    k = (a @ a.T / a.shape[1] + 1) ** 3
    m = len(a)
    off = (k.sum() - np.trace(k)) / (m * (m - 1))
    assert ident == pytest.approx(-2 * (np.trace(k) / m - off) / m, rel=1e-9)
    assert -0.1 < ident < 0
    values = [kid_from_features(a, b + s)["value"] for s in (0.5, 1.0, 2.0)]
    assert values[0] > 10 * abs(same["value"]) and values[0] < values[1] < values[2]


def test_kid_subsets_when_sets_are_larger_than_subset():
    pop = _features(n=600, seed=8)
    r = kid_from_features(pop[:300], pop[300:] + 1.0, num_subsets=5, max_subset_size=100, seed=0)
    assert r["subset_size"] == 100 and r["subsets"] == 5 and r["std"] > 0 and r["value"] > 0
    r2 = kid_from_features(pop[:300], pop[300:] + 1.0, num_subsets=5, max_subset_size=100, seed=0)
    assert r2["value"] == r["value"]  # seeded


def test_fid_inception_features_when_installed():
    path = find_fid_inception()
    if path is None:
        pytest.skip(f"FID Inception not installed ({FID_HELPER_PIP})")
    from poseshift.metrics.fid import InceptionFeatures
    ex = InceptionFeatures()
    rng = np.random.default_rng(0)
    ims = [rng.integers(0, 256, (64, 32, 3), dtype=np.uint8), np.zeros((64, 32, 3), np.uint8)]
    f = ex(ims)
    assert f.shape == (2, 2048) and np.isfinite(f).all() and (f >= 0).all()
    assert not np.allclose(f[0], f[1])
