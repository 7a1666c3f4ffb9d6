"""A photo's full-resolution inputs for a warping generator's ``render_photo``, kept for the
photo last seen: its person mask and inpainted scene (at its own size and letterboxed into the
model's frame) as tensors, and the warp's source parts for its pose.

One photo rendered in many poses (``animate``, the web page's edits, a folder of targets for one
source) pays for MediaPipe's mask, OpenCV's inpainting, the tensors and the source's part shares
once: each further pose costs only what depends on it. The memo is keyed by the photo's pixels
(poseshift.silhouette.pixel_key), so an edited photo is never answered from it.
"""
from __future__ import annotations

import numpy as np
import torch

from poseshift.images import to_tensor
from poseshift.letterbox import FrameFit, fit_to_frame


class PhotoScenes:
    """Per-photo inputs of ``render_photo`` for frames of ``size`` x ``size`` (``fit`` mode and
    ``pad_value`` as the config's data section), on ``device``."""

    def __init__(self, size: int, fit: str, pad_value, device: torch.device):
        self.size, self.fit, self.pad_value, self.device = size, fit, pad_value, device
        self._cache = None  # poseshift.silhouette.SilhouetteCache, opened on first use
        self._key = None
        self._arrays = None  # (mask float32 [H,W], scene uint8 [H,W,3])
        self._tensors = None  # (mask in frame, scene in frame, photo, mask, scene) on device
        self._parts = None  # (source pose bytes, poseshift.warp.SourceParts)

    def scene(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The photo's person mask (float32 [H, W], cached on disk by content) and its scene with
        the person inpainted (uint8 [H, W, 3]), at the photo's own resolution."""
        from poseshift.silhouette import SilhouetteCache, pixel_key
        from poseshift.warp import inpaint_background

        key = pixel_key(image)
        if key != self._key:
            if self._cache is None:
                self._cache = SilhouetteCache()
            sil = self._cache(image)
            self._arrays = (sil, inpaint_background(image, sil))
            self._key, self._tensors, self._parts = key, None, None
        return self._arrays

    def photo(self, image: np.ndarray, fit: FrameFit, kp_o: torch.Tensor, kp_f: torch.Tensor):
        """-> (mask [1,1,S,S] and scene [1,3,S,S] in the model's frame, the Photo) for poses
        ``kp_o`` (the photo's own) and ``kp_f`` (the target), [1,18,2] in the model's frame."""
        from poseshift.nets.warping import Photo
        from poseshift.warp.photo import photo_source_parts

        sil, scene = self.scene(image)
        S, dev = self.size, self.device
        if self._tensors is None:
            mask = np.repeat(np.round(sil * 255).astype(np.uint8)[..., None], 3, 2)
            sil_m = fit_to_frame(mask, S, S, self.fit, 0)[0]
            sil_m = torch.from_numpy(sil_m[..., 0].astype(np.float32) / 255)[None, None].to(dev)
            scene_m = to_tensor(fit_to_frame(scene, S, S, self.fit, self.pad_value)[0])[None].to(dev)
            self._tensors = (sil_m, scene_m, to_tensor(image)[None].to(dev),
                             torch.from_numpy(sil)[None, None].to(dev), to_tensor(scene)[None].to(dev))
        sil_m, scene_m, image_t, sil_t, scene_t = self._tensors
        src = torch.from_numpy(fit.invert(kp_o[0].cpu().numpy()))[None].to(dev)
        tgt = torch.from_numpy(fit.invert(kp_f[0].cpu().numpy()))[None].to(dev)
        pose_key = src.cpu().numpy().tobytes()
        if self._parts is None or self._parts[0] != pose_key:
            self._parts = (pose_key, photo_source_parts(src, image.shape[0], image.shape[1], sil_t))
        photo = Photo(image_t, src, tgt, sil_t, scene_t, fit.box, S, source=self._parts[1])
        return sil_m, scene_m, photo

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        self._key = self._arrays = self._tensors = self._parts = None
