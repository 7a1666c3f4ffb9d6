"""Procedural synthetic people: sample a person and a 3D pose, render them from any yaw, and write
datasets in the layout training reads (images/, annotations.csv, pairs.csv, split.csv).

Example::

    >>> import numpy as np
    >>> from poseshift.synth import sample_person, sample_pose, render
    >>> rng = np.random.default_rng(0)
    >>> person, pose = sample_person(rng), sample_pose(rng)
    >>> image, keypoints, mask = render(person, pose, yaw=0.0, size=128)
    >>> image.shape, keypoints.shape, mask.dtype
    ((128, 128, 3), (18, 2), dtype('bool'))
"""

from poseshift.synth.appearance import Body, Person, sample_body, sample_person
from poseshift.synth.dataset import encode_png, person_seed_rng, turntable, write_dataset
from poseshift.synth.parts import PART_NAMES
from poseshift.synth.render import Rendering, render, render_full
from poseshift.synth.skeleton import Pose3D, forward_kinematics, sample_pose, sample_yaw

__all__ = [
    "Body",
    "Person",
    "Pose3D",
    "Rendering",
    "PART_NAMES",
    "sample_body",
    "sample_person",
    "sample_pose",
    "sample_yaw",
    "forward_kinematics",
    "render",
    "render_full",
    "turntable",
    "write_dataset",
    "person_seed_rng",
    "encode_png",
]
