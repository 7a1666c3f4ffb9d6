"""Evaluation metrics, registered by name (``ssim``, ``ssim_gfla``, ``ssim_256``, ``ssim_256_pidm``,
``mask_ssim``, ``pckh``, ``sharpness``, ``silhouette_iou``, ``face_found``, ``head_ssim``, ``fid`` (the papers'), ``fid_tf`` (offline), ``kid``, ``lpips``, ``is``); see :mod:`poseshift.metrics.registry` and
:func:`poseshift.evaluate.evaluate_pairs`."""
from poseshift.metrics import face as _face  # noqa: F401
from poseshift.metrics import fid as _fid  # noqa: F401
from poseshift.metrics import fid_papers as _fid_papers  # noqa: F401
from poseshift.metrics import inception_score as _is  # noqa: F401
from poseshift.metrics import lpips as _lpips  # noqa: F401
from poseshift.metrics import pckh as _pckh  # noqa: F401
from poseshift.metrics import shape as _shape  # noqa: F401
from poseshift.metrics import ssim as _ssim  # noqa: F401  (registers)
from poseshift.metrics.fid import fid_from_features, kid_from_features
from poseshift.metrics.pckh import head_box, pckh, pckh_joints
from poseshift.metrics.registry import (
    Metric,
    MetricOptions,
    MetricSkipped,
    PairSample,
    create_metric,
    is_valid_metric,
    list_metrics,
    register_metric,
)
from poseshift.metrics.ssim import body_mask, mask_ssim, ssim_gfla, ssim_patn

DEFAULT_METRICS: tuple[str, ...] = ("ssim", "ssim_gfla", "ssim_256", "ssim_256_pidm", "mask_ssim", "pckh", "sharpness",
                                     "silhouette_iou", "face_found", "head_ssim", "fid", "fid_tf", "kid", "lpips", "is")

__all__ = [
    "DEFAULT_METRICS", "Metric", "MetricOptions", "MetricSkipped", "PairSample", "body_mask",
    "create_metric", "fid_from_features", "head_box", "is_valid_metric", "kid_from_features",
    "list_metrics", "mask_ssim", "pckh", "pckh_joints", "register_metric", "ssim_gfla", "ssim_patn",
]
