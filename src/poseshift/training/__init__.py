"""Training G, D_I and Phi (section 4.3 and 5), in parts:

* :mod:`.state`: the run's state and its checkpoint round trip;
* :mod:`.batches`: the batch source (DataLoader workers, a seeded plan that resumes exactly);
* :mod:`.step`: the G, Phi and D updates of one step, written out;
* :mod:`.loop`: the loop (logging, samples, checkpoint cadence, progress);
* :mod:`.distributed`: many processes under torchrun (DDP).
"""
from __future__ import annotations

from pathlib import Path

from poseshift.config import Config
from poseshift.devices import select_device
from poseshift.training.loop import Trainer
from poseshift.training.state import TrainError
from poseshift.training.step import lr_factor

__all__ = ["Trainer", "TrainError", "build_trainer", "lr_factor", "select_device"]


def build_trainer(cfg: Config, data_dir: str | Path, run_dir: str | Path, **kwargs) -> Trainer:
    """The trainer for ``cfg.train.mode``: the paper's, or the ablation's supervised baseline."""
    if cfg.train.mode == "supervised":
        from poseshift.baselines.supervised import SupervisedTrainer

        return SupervisedTrainer(cfg, data_dir, run_dir, **kwargs)
    return Trainer(cfg, data_dir, run_dir, **kwargs)
