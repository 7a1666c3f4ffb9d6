"""Shared test fixtures: seeding, and the real data slices of ../shared/data when present."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$POSESHIFT_SHARED_DATA`` or ``../shared/data`` beside the checkout."""
    env = os.environ.get("POSESHIFT_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    root = shared_data_dir()
    if not (root / "deepfashion-mini" / "annotations.csv").is_file():
        pytest.skip(f"real data slices absent: {root} has no deepfashion-mini (only in the dev checkout)")
    return root


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    yield


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Silhouettes and other caches go to a folder of this run, not the user's ~/.cache."""
    old = os.environ.get("POSESHIFT_CACHE")
    os.environ["POSESHIFT_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("POSESHIFT_CACHE", None)
    else:
        os.environ["POSESHIFT_CACHE"] = old
