"""poseshift.letterbox (fit_to_frame) and poseshift.prepare (a training set from unlabeled photos)."""
from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest

from poseshift.letterbox import fit_to_frame, frame_size
from poseshift.prepare import pose_failure


def _dot_image(h, w, x, y, r=4):
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 2] = 60
    yy, xx = np.mgrid[:h, :w]
    img[(xx - x) ** 2 + (yy - y) ** 2 <= r * r] = (255, 0, 0)
    return img


@pytest.mark.parametrize("mode", ["pad", "resize"])
@pytest.mark.parametrize("src,dst", [((128, 64), (256, 256)), ((300, 200), (128, 96)),
                                     ((100, 250), (256, 176)), ((256, 256), (256, 256))])
def test_keypoint_stays_on_content(mode, src, dst):
    h, w = src
    x, y = 0.3 * w, 0.7 * h
    img = _dot_image(h, w, x, y, r=max(4, min(h, w) // 12))
    out, fit = fit_to_frame(img, dst[0], dst[1], mode=mode)
    assert out.shape == (dst[0], dst[1], 3) and out.dtype == np.uint8
    kp = np.array([[x, y], [np.nan, np.nan]], np.float32)
    moved = fit.apply(kp)
    assert np.isnan(moved[1]).all()
    px, py = np.rint(moved[0]).astype(int)
    r, g, b = out[py, px].astype(int)
    assert r > 200 and g < 60 and b < 60, out[py, px]
    np.testing.assert_allclose(fit.invert(moved)[0], (x, y), atol=1e-3)


def test_pad_fill_and_centering():
    img = np.zeros((100, 50, 3), np.uint8)
    out, fit = fit_to_frame(img, 200, 200, mode="pad")
    assert (out[:, :50] == 255).all() and (out[:, -50:] == 255).all() and (out[:, 50:150] == 0).all()
    out, _ = fit_to_frame(img, 200, 200, mode="pad", pad_value=(10, 20, 30))
    assert tuple(out[0, 0]) == (10, 20, 30)
    out, _ = fit_to_frame(img, 64, mode="resize")
    assert out.shape == (64, 64, 3) and (out == 0).all()


def test_frame_size_and_errors():
    assert frame_size(256) == (256, 256) and frame_size((128, 64)) == (128, 64)
    for bad in [0, (1, 2, 3), (-1, 5)]:
        with pytest.raises(ValueError):
            frame_size(bad)
    with pytest.raises(ValueError, match="fit mode"):
        fit_to_frame(np.zeros((4, 4, 3), np.uint8), 8, mode="crop")
    with pytest.raises(ValueError, match="pad value"):
        fit_to_frame(np.zeros((4, 4, 3), np.uint8), 8, pad_value=300)


def test_pose_failure_rules():
    kp = np.zeros((18, 2), np.float32)
    assert pose_failure(kp) is None
    assert pose_failure(np.full((18, 2), np.nan)) == "no person detected"
    k = kp.copy(); k[5] = np.nan
    assert pose_failure(k) == "shoulders not found"
    k = kp.copy(); k[[8, 11]] = np.nan
    assert pose_failure(k) == "hips not found"
    k = np.full((18, 2), np.nan, np.float32); k[[0, 1, 2, 5, 8]] = 1
    assert pose_failure(k) == "fewer than 8 joints"


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_prepare_dataset(shared_data, tmp_path):
    pytest.importorskip("mediapipe")
    from poseshift.images import write_image
    from poseshift.pose.keypoints_io import read_annotations_csv
    from poseshift.prepare import prepare_dataset
    src_dir = shared_data / "deepfashion-mini" / "images"
    names = (sorted(p.name for p in src_dir.glob("*1front.png"))[:2]
             + sorted(p.name for p in src_dir.glob("*4full.png"))[:1])
    inp = tmp_path / "photos"
    inp.mkdir()
    for n in names:
        shutil.copy(src_dir / n, inp / n)
    write_image(inp / "blank.png", np.full((256, 256, 3), 255, np.uint8))
    (inp / "notes.txt").write_text("ignored")
    before = _digest(inp)

    out = tmp_path / "train"
    stats = prepare_dataset(inp, out, size=(128, 96), mode="pad", progress=False, masks=True)
    assert _digest(inp) == before
    assert stats["images"] == 4 and stats["kept"] == 3 and stats["dropped"] == 1
    assert stats["dropped_names"] == {"blank.png": "no person detected"}
    assert stats["dropped_by_reason"] == {"no person detected": 1}
    ann = read_annotations_csv(out / "annotations.csv")
    assert sorted(ann) == sorted(names)
    from poseshift.images import read_image
    for n in names:
        im = read_image(out / "images" / n)
        assert im.shape == (128, 96, 3)
        kp = ann[n]
        ok = np.isfinite(kp).all(1)
        assert ok.sum() >= 8
        assert (kp[ok, 0] >= 0).all() and (kp[ok, 0] <= 95).all() and (kp[ok, 1] <= 127).all()
        # padding columns left and right are white (256x256 -> 96x96 centred in 128 rows)
        assert (im[:15] == 255).all()
        m = read_image(out / "masks" / n)[..., 0]
        x, y = np.rint(kp[1]).astype(int)
        assert m.shape == (128, 96) and m[y, x] == 255
    # The warp's silhouettes are stored beside the data and served from there, not segmented again.
    from poseshift.silhouette import cache_for_data
    assert len(list((out / "silhouettes").glob("*.png"))) == 3
    cache = cache_for_data(out)
    for n in names:
        sil = cache(read_image(out / "images" / n))
        x, y = np.rint(ann[n][1]).astype(int)
        assert sil.shape == (128, 96) and sil[y + 3, x] > 0.5    # just below the neck: the person
    assert cache.computed == 0

    with pytest.raises(FileExistsError, match="not empty"):
        prepare_dataset(inp, out, size=64, progress=False)
    stats = prepare_dataset(inp, out, size=64, mode="resize", progress=False, overwrite=True)
    assert stats["kept"] == 3 and not list((out / "masks").glob("*.png"))
    assert read_image(out / "images" / names[0]).shape == (64, 64, 3)
    with pytest.raises(ValueError, match="input folder"):
        prepare_dataset(inp, inp, progress=False)
    assert _digest(inp) == before


def test_prepare_prints_one_summary(tmp_path, capsys):
    pytest.importorskip("mediapipe")
    from PIL import Image

    from poseshift.cli import main

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        Image.new("RGB", (40, 60), (90 * i, 120, 200)).save(photos / f"p{i}.png")
    assert main(["prepare", "--images", str(photos), "--out", str(tmp_path / "out"), "--size", "32"]) == 0
    captured = capsys.readouterr()
    lines = [ln for ln in (captured.out + captured.err).splitlines() if "2 images" in ln or "/2 images" in ln]
    assert lines == [f"wrote {tmp_path / 'out'}: kept 0 of 2 images; dropped 2 no person detected"], lines
