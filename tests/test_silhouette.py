"""The silhouette cache (by content: an edited image gets a new mask; a corrupt file is rebuilt with a
warning; a killed write leaves nothing trusted) and the two shape metrics (sharpness, silhouette IoU)."""
import numpy as np
import pytest

from poseshift.metrics.registry import MetricOptions, PairSample
from poseshift.metrics.shape import Sharpness, iou, sharpness
from poseshift.silhouette import SilhouetteCache, pixel_key


class CountingSegmenter:
    """Stands in for MediaPipe: the mask is where the image is dark; counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, image):
        self.calls += 1
        return (image.mean(-1) < 100).astype(np.float32)

    def close(self):
        pass


def person(shift: int = 0) -> np.ndarray:
    img = np.full((40, 30, 3), 230, np.uint8)
    img[8:36, 10 + shift : 20 + shift] = 20
    return img


def test_a_mask_is_computed_once_and_an_edited_image_gets_its_own(tmp_path):
    seg = CountingSegmenter()
    cache = SilhouetteCache(tmp_path, seg)
    first = cache(person())
    assert seg.calls == 1 and first[20, 15] == 1 and first[20, 25] == 0
    again = SilhouetteCache(tmp_path, seg)(person())           # a later run: served from disk
    assert seg.calls == 1 and np.array_equal(again, first)
    edited = person(shift=8)                                    # same size, pixels changed
    assert pixel_key(edited) != pixel_key(person())
    mask = cache(edited)
    assert seg.calls == 2 and mask[20, 25] == 1 and mask[20, 12] == 0, "an edited image is never served a stale mask"


def test_a_bounded_cache_keeps_the_most_recently_used_masks(tmp_path, monkeypatch):
    """The user's cache (a web server's, say) stays bounded: past max_files the least recently
    used masks go (down to 90%), a mask read again counts as recent; a data set's folder is not bounded."""
    import os
    import time

    import poseshift.silhouette as silhouette

    seg = CountingSegmenter()
    cache = SilhouetteCache(tmp_path, seg, max_files=4)
    images = [person(shift) for shift in range(6)]
    for k, image in enumerate(images[:4]):
        cache(image)
        os.utime(cache.path_for(image), (time.time() - 100 + k, time.time() - 100 + k))  # an age order
    cache(images[0])                      # read again: now the most recent
    cache(images[4])                      # the fifth mask: past the bound, the oldest go
    kept = {f.name for f in tmp_path.glob("*.png")}
    assert len(kept) == 3 and cache.path_for(images[0]).name in kept and cache.path_for(images[4]).name in kept
    assert cache.path_for(images[1]).name not in kept
    monkeypatch.setattr(silhouette, "default_cache_dir", lambda: tmp_path / "user")
    assert SilhouetteCache(segmenter=seg).max_files == silhouette.USER_CACHE_MAX
    assert SilhouetteCache(tmp_path / "data", seg).max_files is None


def test_a_corrupt_cache_file_is_rebuilt_with_a_warning(tmp_path, capsys):
    seg = CountingSegmenter()
    cache = SilhouetteCache(tmp_path, seg)
    cache(person())
    path = cache.path_for(person())
    path.write_bytes(b"\x89PNG not really")
    mask = cache(person())
    assert seg.calls == 2 and cache.rebuilt == 1 and mask[20, 15] == 1
    assert "unreadable" in capsys.readouterr().err
    assert np.array_equal(SilhouetteCache(tmp_path, seg)(person()), mask)   # and the rebuilt file is good


def test_a_write_killed_midway_leaves_nothing_a_later_run_trusts(tmp_path, monkeypatch):
    seg = CountingSegmenter()
    cache = SilhouetteCache(tmp_path, seg)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr("PIL.Image.Image.save", killed)
    with pytest.raises(KeyboardInterrupt):
        cache(person())
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == [], "no half-written mask and no temporary file is left"
    SilhouetteCache(tmp_path, seg)(person())
    assert seg.calls == 2


def test_sharpness_is_one_for_the_truth_and_falls_for_a_blur():
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 255, (64, 64, 3)).astype(np.uint8)
    mask = np.zeros((64, 64), bool)
    mask[10:50, 10:50] = True
    assert sharpness(gt, gt, mask) == pytest.approx(1.0)
    from PIL import Image, ImageFilter
    blurred = np.asarray(Image.fromarray(gt).filter(ImageFilter.GaussianBlur(1.5)))
    up = np.asarray(Image.fromarray(gt).resize((16, 16), Image.BILINEAR).resize((64, 64), Image.BILINEAR))
    assert sharpness(gt, blurred, mask) < 0.2 and sharpness(gt, up, mask) < 0.2
    kp = np.full((18, 2), np.nan, np.float32)
    kp[[1, 8, 11]] = [[32, 12], [28, 40], [36, 40]]
    m = Sharpness(MetricOptions())
    m.update([PairSample(0, "a", "b", None, gt, gt, None, kp), PairSample(1, "a", "c", None, gt, blurred, None, kp)])
    r = m.result()
    assert m.n == 2 and 0.5 < r["value"] < 0.6


def test_iou_of_masks():
    a = np.zeros((10, 10), bool)
    a[:, :5] = True
    assert iou(a, a) == 1.0
    b = np.zeros((10, 10), bool)
    b[:, 5:] = True
    assert iou(a, b) == 0.0
    c = np.zeros((10, 10), bool)
    c[:, 2:7] = True
    assert iou(a, c) == pytest.approx(30 / 70)
    assert iou(np.zeros((3, 3), bool), np.zeros((3, 3), bool)) is None
