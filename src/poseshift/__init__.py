"""poseshift: unsupervised person image synthesis in arbitrary poses (Pumarola et al., CVPR 2018).

    >>> from poseshift import Reposer
    >>> reposer = Reposer.from_checkpoint("runs/tiny/checkpoints/last.safetensors")
    >>> image = reposer("person.jpg", "target_pose.json")   # uint8 [S, S, 3]
"""
__version__ = "0.1.0"

__all__ = ["Reposer", "__version__"]


def __getattr__(name: str):
    if name == "Reposer":  # imported on first use, so `poseshift --help` stays fast
        from poseshift.transfer import Reposer

        return Reposer
    raise AttributeError(f"module 'poseshift' has no attribute {name!r}")
