"""Faces in photos: MediaPipe's full-range face detector (it ships in the ``mediapipe`` wheel).

``FaceFinder()(image)`` answers whether a photo shows a face, as the face metrics
(:mod:`poseshift.metrics.face`) and the warp's head facing for a photo need: the image is
upscaled ``UPSCALE`` x first (a DeepFashion face is 30-40 px; the detector's anchors start
larger) and a face counts above ``CONFIDENCE``. Both values are the definition of
``face_found`` in docs/evaluation.md: change them only with it.
"""
from __future__ import annotations

import warnings

import numpy as np
from PIL import Image

from poseshift.detect import _as_rgb, _import_mediapipe, open_solution, quiet_native

__all__ = ["FaceFinder", "UPSCALE", "CONFIDENCE"]

UPSCALE = 2          # the image is upscaled this many times before detection
CONFIDENCE = 0.5     # the least detection score that counts as a face


class FaceFinder:
    """``finder(image uint8 [H, W, 3]) -> list of (score, (x0, y0, x1, y1))`` in the image's pixels,
    best first; ``finder.shows_face(image) -> bool``. Loads the model once; ``close()`` frees it."""

    def __init__(self, confidence: float = CONFIDENCE, upscale: int = UPSCALE):
        self.confidence, self.upscale = confidence, upscale
        mp = _import_mediapipe()
        # model_selection=1: the full-range model (faces up to 5 m away), the one the metric names.
        self._det = open_solution(mp.solutions.face_detection.FaceDetection, model_selection=1,
                                  min_detection_confidence=confidence)

    def __call__(self, image: np.ndarray) -> list[tuple[float, tuple[float, float, float, float]]]:
        if self._det is None:
            raise RuntimeError("FaceFinder is closed")
        rgb = _as_rgb(image)
        h, w = rgb.shape[:2]
        if self.upscale != 1:
            rgb = np.asarray(Image.fromarray(rgb).resize((w * self.upscale, h * self.upscale), Image.BICUBIC))
        with warnings.catch_warnings(), quiet_native():
            warnings.simplefilter("ignore")
            res = self._det.process(rgb)
        faces = []
        for d in res.detections or []:
            score = float(d.score[0]) if d.score else 0.0
            if score < self.confidence:
                continue
            b = d.location_data.relative_bounding_box
            faces.append((score, (b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h)))
        return sorted(faces, key=lambda f: -f[0])

    def shows_face(self, image: np.ndarray) -> bool:
        return bool(self(image))

    def close(self) -> None:
        if self._det is not None:
            with quiet_native():
                self._det.close()
            self._det = None

    def __enter__(self) -> FaceFinder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
