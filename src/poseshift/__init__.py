"""poseshift: unsupervised person image synthesis in arbitrary poses (Pumarola et al., CVPR 2018)."""
__version__ = "0.1.0"
