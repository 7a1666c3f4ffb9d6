"""The procedural renderer of synthetic people and the dataset writer."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from poseshift.pose.keypoints_io import read_annotations_csv
from poseshift.pose.schema import JOINT_INDEX, JOINTS
from poseshift.synth import (
    Pose3D,
    encode_png,
    person_seed_rng,
    render,
    render_full,
    sample_person,
    sample_pose,
    sample_yaw,
    turntable,
    write_dataset,
)
from poseshift.synth.appearance import EYE_COLOR, MOUTH_COLOR
from poseshift.synth.keypoints import ALLOWED_PARTS
from poseshift.synth.parts import EYE, MOUTH


def _near(pixels: np.ndarray, base, tol: float = 30.0) -> np.ndarray:
    """Pixels that are ``base`` under some shading factor in [0.55, 1.1], within ``tol``."""
    p = pixels.astype(np.float64)
    b = np.asarray(base, np.float64)
    k = np.clip((p @ b) / max(b @ b, 1.0), 0.55, 1.1)
    return np.linalg.norm(p - k[..., None] * b, axis=-1) < tol


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_dataset_is_deterministic_by_seed(tmp_path):
    write_dataset(tmp_path / "a", 3, 2, 64, seed=7, progress=False)
    write_dataset(tmp_path / "b", 3, 2, 64, seed=7, progress=False, workers=2)
    write_dataset(tmp_path / "c", 3, 2, 64, seed=8, progress=False)
    a, b, c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert a == b
    assert {k for k in a if not k.startswith("silhouettes")} == {k for k in c if not k.startswith("silhouettes")}
    assert a["annotations.csv"] != c["annotations.csv"]
    assert all(a[k] != c[k] for k in a if k.startswith("images"))


def test_write_dataset_layout_and_split(tmp_path):
    counts = write_dataset(tmp_path, 5, 3, 64, seed=1, progress=False)
    assert counts["images"] == 15 and counts["people"] == 5 and counts["test_people"] == 1
    lines = {
        n: (tmp_path / n).read_text().splitlines()
        for n in ("annotations.csv", "pairs.csv", "split.csv")
    }
    assert lines["annotations.csv"][0] == "name:keypoints_y:keypoints_x"
    assert lines["pairs.csv"][0] == "from,to"
    assert lines["split.csv"][0] == "name,person,split"
    row = lines["annotations.csv"][1]
    assert row.startswith("p00000_0.jpg: [") and "]: [" in row
    ann = read_annotations_csv(tmp_path / "annotations.csv")
    stems = sorted(p.stem for p in (tmp_path / "images").glob("*.png"))
    assert sorted(n[:-4] for n in ann) == stems and len(stems) == 15
    im = Image.open(tmp_path / "images" / "p00000_0.png")
    assert im.size == (64, 64) and im.mode == "RGB"
    split = [ln.split(",") for ln in lines["split.csv"][1:]]
    assert {n for n, _, _ in split} == set(ann)
    train = {p for _, p, s in split if s == "train"}
    test = {p for _, p, s in split if s == "test"}
    assert test == {"p00004"} and not train & test and len(train) == 4
    person_of = {n: p for n, p, _ in split}
    pairs = [ln.split(",") for ln in lines["pairs.csv"][1:]]
    assert len(pairs) == counts["pairs"] == 5 * 3 * 2
    assert all(person_of[f] == person_of[t] and f != t for f, t in pairs)
    for kp in ann.values():  # visible keypoints lie in the frame
        ok = ~np.isnan(kp[:, 0])
        assert ok.sum() >= 6
        assert (kp[ok] >= 0).all() and (kp[ok] <= 63).all()


def test_dataset_stores_exact_silhouettes(tmp_path):
    from poseshift.images import read_image
    from poseshift.silhouette import cache_for_data

    def no_segmenter(image):
        raise AssertionError("a synthetic data set needs no segmenter")

    write_dataset(tmp_path, 3, 2, 48, seed=5, progress=False, close_ups=0.0)
    cache = cache_for_data(tmp_path)
    assert cache.folder == tmp_path / "silhouettes"
    cache._segmenter = no_segmenter
    ann = read_annotations_csv(tmp_path / "annotations.csv")
    assert len(list(cache.folder.glob("*.png"))) == len(ann) == 6
    for name, kp in ann.items():
        image = read_image(tmp_path / "images" / (name[:-4] + ".png"))
        mask = cache(image)
        assert mask.shape == image.shape[:2]
        for j, x_y in enumerate(kp):
            if not np.isnan(x_y[0]):  # every visible joint lies on the person
                x, y = np.round(x_y).astype(int)
                assert mask[y, x] >= (1.0 if JOINTS[j] in ("neck", "r_hip", "l_hip") else 0.5), JOINTS[j]
        assert (mask[[0, 0, -1, -1], [0, -1, 0, -1]] == 0).all()  # the corners are background
        assert ((mask > 0) & (mask < 1)).any()  # an anti-aliased edge
    assert cache.computed == 0 and cache.rebuilt == 0


def test_png_encoder_is_lossless():
    im = np.random.default_rng(0).integers(0, 256, (9, 17, 3)).astype(np.uint8)
    assert (np.asarray(Image.open(io.BytesIO(encode_png(im)))) == im).all()


def _samples(n: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield sample_person(rng), sample_pose(rng), sample_yaw(rng), rng


def test_render_outputs_and_framing():
    person = sample_person(np.random.default_rng(0))
    image, kp, mask = render(person, Pose3D(), 0.0, 64)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    assert kp.shape == (18, 2) and kp.dtype == np.float32
    assert mask.shape == (64, 64) and mask.dtype == bool
    assert not np.isnan(kp).any()  # a standing front view shows every joint
    rows = np.nonzero(mask.any(axis=1))[0]
    height = (rows[-1] - rows[0] + 1) / 64
    assert 0.78 <= height <= 0.95  # the person fills most of the frame height
    cols = np.nonzero(mask.any(axis=0))[0]
    assert abs((cols[0] + cols[-1]) / 2 - 31.5) < 6  # and stands in the middle


def test_left_and_right_are_the_persons_own():
    person = sample_person(np.random.default_rng(1))
    _, front, _ = render(person, Pose3D(), 0.0, 96)
    _, back, _ = render(person, Pose3D(), np.pi, 96)
    rs, ls = JOINT_INDEX["r_shoulder"], JOINT_INDEX["l_shoulder"]
    assert front[rs, 0] < front[ls, 0]  # facing us: their right is on the image left
    assert back[rs, 0] > back[ls, 0]  # from behind: their right is on the image right


def test_visible_keypoints_lie_on_the_part_they_name():
    checked = 0
    for person, pose, yaw, rng in _samples(25):
        r = render_full(person, pose, yaw, 128, "textured", rng)
        ups = person.upper_colors
        colours = {
            "nose": [person.skin],
            "neck": [person.skin, *ups, person.hair],
            "wrist": [person.skin, *ups],
            "hip": [person.lower, *ups],
            "ankle": [person.shoes, person.lower, person.skin],
            "knee": [person.lower, person.skin],
        }
        for j, name in enumerate(JOINTS):
            x, y = r.keypoints[j]
            if np.isnan(x):
                continue
            c, rr = int(round(x)), int(round(y))
            assert 0 <= c < 128 and 0 <= rr < 128
            assert r.mask[rr, c], name
            assert r.parts[rr, c] in ALLOWED_PARTS[j], name
            key = name.split("_")[-1]
            if key in colours:
                # the pixel or a neighbour: a joint may sit on an anti-aliased seam (a skirt hem)
                patch = r.image[max(rr - 1, 0) : rr + 2, max(c - 1, 0) : c + 2]
                assert any(_near(patch, col).any() for col in colours[key]), (name, r.image[rr, c])
                checked += 1
    assert checked > 150


def test_a_pair_shows_the_same_person(tmp_path):
    write_dataset(tmp_path, 2, 2, 64, seed=11, progress=False)
    pairs = [ln.split(",") for ln in (tmp_path / "pairs.csv").read_text().splitlines()[1:]]
    assert pairs
    for f, t in pairs:
        person = sample_person(person_seed_rng(11, int(f[1:6])))
        for name in (f, t):
            img = np.asarray(Image.open(tmp_path / "images" / (name[:-4] + ".png")))
            assert _near(img, person.upper, 20).sum() >= 15, name
            assert _near(img, person.lower, 20).sum() >= 10, name


def _plain_person(seed: int = 2):
    """A person whose colours are far from the eye and mouth colours."""
    p = sample_person(np.random.default_rng(seed))
    return dataclasses.replace(
        p,
        hair=(215.0, 180.0, 110.0),
        upper=(90.0, 150.0, 220.0),
        upper_alt=(240.0, 240.0, 240.0),
        lower=(60.0, 160.0, 90.0),
        shoes=(230.0, 230.0, 230.0),
        skin=(238.0, 196.0, 160.0),
        pattern="plain",
    )


def test_back_view_has_no_face():
    person = _plain_person()
    front = render_full(person, Pose3D(), 0.0, 128)
    back = render_full(person, Pose3D(), np.pi, 128)
    assert (front.parts == EYE).sum() >= 2 and (front.parts == MOUTH).sum() >= 1
    assert (back.parts == EYE).sum() == 0 and (back.parts == MOUTH).sum() == 0
    for img, want in ((front.image, True), (back.image, False)):
        eyes = (np.abs(img.astype(int) - EYE_COLOR).max(-1) < 30).sum()
        mouth = (np.abs(img.astype(int) - MOUTH_COLOR).max(-1) < 25).sum()
        assert (eyes > 0 and mouth > 0) == want
    face = [JOINT_INDEX[n] for n in ("nose", "r_eye", "l_eye", "r_ear", "l_ear")]
    assert not np.isnan(front.keypoints[face]).any()
    assert np.isnan(back.keypoints[face]).all()
    assert not np.isnan(back.keypoints[[1, 2, 5, 8, 11]]).any()  # neck, shoulders, hips still show


def test_side_view_hides_the_far_eye_and_ear():
    person = _plain_person()
    kp = render_full(person, Pose3D(), np.pi / 2, 128).keypoints  # the person's right side faces us
    seen = {
        n: not np.isnan(kp[JOINT_INDEX[n], 0]) for n in ("nose", "r_eye", "l_eye", "r_ear", "l_ear")
    }
    assert seen == {"nose": True, "r_eye": True, "l_eye": False, "r_ear": True, "l_ear": False}


def test_out_of_frame_joints_are_missing():
    person = _plain_person()
    _, kp, mask = render(person, Pose3D(), 0.0, 64, zoom=1.8)  # a close-up cuts the legs off
    assert np.isnan(kp[[JOINT_INDEX[n] for n in ("r_knee", "l_knee", "r_ankle", "l_ankle")]]).all()
    assert not np.isnan(kp[[0, 1, 2, 5, 14, 15]]).any()
    assert mask[-1].any() and not mask[0].all()


def test_turntable_keeps_person_and_pose():
    person = _plain_person()
    frames = turntable(person, sample_pose(np.random.default_rng(0)), 64, n=6)
    assert len(frames) == 6 and all(f.shape == (64, 64, 3) for f in frames)
    assert not np.array_equal(frames[0], frames[3])
    for f in frames:
        assert _near(f, person.lower, 20).sum() >= 10


def test_render_rejects_unknown_background():
    with pytest.raises(ValueError):
        render(_plain_person(), Pose3D(), 0.0, 32, background="sparkly")
