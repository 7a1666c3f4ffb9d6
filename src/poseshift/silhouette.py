"""The person's silhouette in a photo, computed once per image and cached.

MediaPipe's ``solutions.pose`` with ``enable_segmentation=True`` gives a full-body mask at the
photo's own resolution; where it finds nobody, ``solutions.selfie_segmentation`` is asked. Both
ship inside the mediapipe wheel and run offline.

The cache is keyed by a hash of the image's pixels (not its name or date), so an edited image
is never served the mask of its earlier self. A mask is written to a temporary file and renamed
into place, so a run killed while writing leaves nothing a later run trusts; a cache file that
cannot be read is rebuilt with a warning.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

__all__ = ["Segmenter", "SilhouetteCache", "default_cache_dir", "pixel_key"]


def default_cache_dir() -> Path:
    """``$POSESHIFT_CACHE/silhouettes``, else ``$XDG_CACHE_HOME/poseshift/silhouettes`` (``~/.cache``
    without it)."""
    root = os.environ.get("POSESHIFT_CACHE") or \
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "poseshift"
    return Path(root) / "silhouettes"


def pixel_key(image: np.ndarray) -> str:
    """A name for the image's content: SHA-1 of its shape and pixels."""
    arr = np.ascontiguousarray(image)
    h = hashlib.sha1(f"{arr.shape}|{arr.dtype}".encode())
    h.update(arr.tobytes())
    return h.hexdigest()[:24]


class Segmenter:
    """``Segmenter()(image)``: uint8 RGB [H,W,3] -> float32 [H,W] in [0,1], the person's mask
    (all zero where nobody is found). Loads MediaPipe's models once."""

    def __init__(self):
        from poseshift.detect import _import_mediapipe, open_solution, quiet_native

        self._quiet = quiet_native
        mp = _import_mediapipe()
        self._pose = open_solution(mp.solutions.pose.Pose, static_image_mode=True, model_complexity=1,
                                   enable_segmentation=True)
        self._selfie = open_solution(mp.solutions.selfie_segmentation.SelfieSegmentation, model_selection=0)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if self._pose is None:
            raise RuntimeError("Segmenter is closed")
        image = np.ascontiguousarray(image[..., :3], dtype=np.uint8)
        with warnings.catch_warnings(), self._quiet():
            warnings.simplefilter("ignore")
            res = self._pose.process(image)
            mask = res.segmentation_mask
            if mask is None:
                mask = self._selfie.process(image).segmentation_mask
        if mask is None:
            return np.zeros(image.shape[:2], np.float32)
        return np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0)

    def close(self) -> None:
        for attr in ("_pose", "_selfie"):
            model = getattr(self, attr, None)
            if model is not None:
                with self._quiet():
                    model.close()
                setattr(self, attr, None)


# The user's cache (not a data set's silhouettes/ folder) keeps at most this many masks, the least
# recently used going first: a web server that sees a new photo a request stays bounded (a
# 256x176 mask is a few kB).
USER_CACHE_MAX = 20_000


class SilhouetteCache:
    """Masks by image content in ``folder`` (default :func:`default_cache_dir`), computed with
    ``segmenter`` (a :class:`Segmenter`, made on first need) where absent. ``max_files``: the
    most masks kept (least recently used removed first); default USER_CACHE_MAX for the user's
    cache, no bound for a folder given (a data set's masks)."""

    def __init__(self, folder: str | Path | None = None, segmenter=None, max_files: int | None = None):
        self.max_files = max_files if max_files is not None or folder is not None else USER_CACHE_MAX
        self.folder = Path(folder) if folder is not None else default_cache_dir()
        self._segmenter = segmenter
        self._count: int | None = None  # masks in the folder, counted on the first store
        self.computed = 0
        self.rebuilt = 0
        self._sweep()

    def _sweep(self, older_than: float = 600.0) -> None:
        """Remove temporary files a killed run left (never read as masks; old enough that no live
        writer can own them)."""
        import time

        if not self.folder.is_dir():
            return
        for tmp in self.folder.glob(".tmp-*.png"):
            try:
                if time.time() - tmp.stat().st_mtime > older_than:
                    tmp.unlink()
            except OSError:
                pass

    def path_for(self, image: np.ndarray) -> Path:
        return self.folder / f"{pixel_key(image)}.png"

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """float32 [H,W] in [0,1]: the cached mask of ``image``, else computed and stored."""
        from poseshift.images import read_mask

        path = self.path_for(image)
        if path.is_file():
            try:
                mask = read_mask(path).astype(np.float32) / 255.0
                if mask.shape == image.shape[:2]:
                    if self.max_files is not None:
                        os.utime(path)  # recently used: kept longest
                    return mask
                raise ValueError(f"holds a {mask.shape} mask for a {image.shape[:2]} image")
            except Exception as err:  # noqa: BLE001 - any unreadable cache file is rebuilt
                print(f"poseshift: warning: silhouette cache {path} is unreadable ({err}); rebuilding it",
                      file=sys.stderr)
                self.rebuilt += 1
        if self._segmenter is None:
            self._segmenter = Segmenter()
        mask = self._segmenter(image)
        self.computed += 1
        self._store(path, mask)
        return np.round(mask * 255) / 255.0

    def put(self, image: np.ndarray, mask: np.ndarray) -> None:
        """Store ``mask`` (float [H,W] in [0,1]) as ``image``'s, e.g. one known exactly."""
        if mask.shape != image.shape[:2]:
            raise ValueError(f"a {mask.shape} mask for a {image.shape[:2]} image")
        self._store(self.path_for(image), mask)

    def _store(self, path: Path, mask: np.ndarray) -> None:
        from PIL import Image

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".png", dir=path.parent)
        except OSError:
            return  # a read-only place: the mask is used, not kept
        try:
            with os.fdopen(fd, "wb") as f:
                Image.fromarray(np.round(mask * 255).astype(np.uint8)).save(f, format="PNG")
            os.replace(tmp, path)
            if self.max_files is not None:
                if self._count is None:
                    self._count = sum(1 for _ in self.folder.glob("*.png"))
                else:
                    self._count += 1
                if self._count > self.max_files:
                    self._prune()
        except OSError as err:  # a full disk: the mask is used, not kept
            Path(tmp).unlink(missing_ok=True)
            print(f"poseshift: warning: silhouette cache {path.parent}: not written ({err})", file=sys.stderr)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _prune(self) -> None:
        """Remove the least recently used masks, down to 90% of ``max_files`` (so that a folder
        at its bound is not listed again at every store)."""
        try:
            masks = sorted(self.folder.glob("*.png"), key=lambda f: f.stat().st_mtime)
        except OSError:
            return
        keep = max(1, int(0.9 * self.max_files))
        for old in masks[:max(0, len(masks) - keep)]:
            old.unlink(missing_ok=True)
        self._count = min(len(masks), keep)

    def close(self) -> None:
        if self._segmenter is not None:
            self._segmenter.close()
            self._segmenter = None


def cache_for_data(data_dir: str | Path) -> SilhouetteCache:
    """The silhouette cache of a data folder: DATA/silhouettes where ``poseshift prepare`` or
    ``poseshift synth`` made it, else a folder of its own beside the user's cache, named after the
    data folder's path and never pruned (a training set may hold more images than the user's
    cache keeps; nothing is written into a data set poseshift did not make)."""
    folder = Path(data_dir) / "silhouettes"
    if folder.is_dir() and os.access(folder, os.W_OK):
        return SilhouetteCache(folder)
    key = hashlib.sha1(str(Path(data_dir).resolve()).encode()).hexdigest()[:16]
    return SilhouetteCache(default_cache_dir().with_name("silhouette-sets") / key)
