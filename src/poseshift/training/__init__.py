"""Training G, D_I and Phi (section 4.3 and 5), in parts:

* :mod:`.step`: one step, top to bottom: the learning rate, G's, Phi's and D_I's updates, G's average;
* :mod:`.loop`: the Trainer: data, checkpoints, logs and samples around the step;
* :mod:`.state`: the run's state and its checkpoint round trip;
* :mod:`.batches`: the batch source (DataLoader workers, a seeded plan that resumes exactly);
* :mod:`.distributed`: many processes under torchrun (DDP).
"""
from __future__ import annotations

from poseshift.devices import select_device
from poseshift.training.loop import Trainer
from poseshift.training.state import TrainError
from poseshift.training.step import lr_factor, train_step

__all__ = ["Trainer", "TrainError", "lr_factor", "select_device", "train_step"]
