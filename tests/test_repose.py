"""Re-posing a photo: every pose source, the photo's own frame, packaged models by name,
folders in one call, and a help text for every flag."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from poseshift.cli import COMMANDS, main
from poseshift.config import load_config, preset_names
from poseshift.pose.keypoints_io import write_annotations_csv, write_keypoints_json, write_openpose_json
from poseshift.transfer import Reposer

S = 32


class Painter(torch.nn.Module):
    """A stand-in G that paints the target's belief maps: where a joint was asked, a bright peak."""

    def forward(self, image, maps, kp_o=None, kp_f=None):
        return (maps.max(1, keepdim=True).values * 2 - 1).expand(-1, 3, -1, -1)


def _reposer():
    return Reposer(Painter(), load_config("tiny", [f"model.image_size={S}"]), torch.device("cpu"))


def _pose(seed=0, h=60, w=40):
    rng = np.random.default_rng(seed)
    kp = np.stack([rng.uniform(4, w - 4, 18), rng.uniform(4, h - 4, 18)], 1).astype(np.float32)
    kp[3] = np.nan
    return kp


def _photo(path, h=60, w=40):
    Image.fromarray(np.full((h, w, 3), 128, np.uint8)).save(path)
    return path


class FakeDetector:
    """MediaPipe's place: answers the pose it was told for each image size."""
    poses: dict = {}

    def __call__(self, image):
        return self.poses[image.shape[:2]].copy()

    def close(self):
        pass


@pytest.fixture
def detector(monkeypatch):
    import poseshift.detect

    monkeypatch.setattr(poseshift.detect, "PoseDetector", FakeDetector)
    FakeDetector.poses = {}
    return FakeDetector


def test_every_pose_source_gives_the_same_render(tmp_path, detector):
    from poseshift.detect import write_detections

    reposer, kp = _reposer(), _pose()
    photo = _photo(tmp_path / "a.png")
    write_annotations_csv(tmp_path / "one.csv", {"b.jpg": kp})
    write_annotations_csv(tmp_path / "many.csv", {"x.jpg": _pose(1), "b.jpg": kp, "y.jpg": _pose(2)})
    write_openpose_json(tmp_path / "openpose.json", kp)
    write_keypoints_json(tmp_path / "plain.json", kp)
    write_detections(tmp_path / "detected.json", {"b.jpg": kp})
    _photo(tmp_path / "b.png")
    detector.poses[(60, 40)] = kp
    want = reposer.render_in_frame(str(photo), kp)
    csv_kp = np.round(kp)  # the annotation CSV stores whole pixels, as the literature's files do
    sources = {"one.csv": (tmp_path / "one.csv", None, csv_kp), "many.csv": (tmp_path / "many.csv", "b.jpg", csv_kp),
               "openpose": (tmp_path / "openpose.json", None, kp), "plain": (tmp_path / "plain.json", None, kp),
               "poseshift pose": (tmp_path / "detected.json", None, np.round(kp, 2)),
               "photo": (tmp_path / "b.png", None, kp)}
    for what, (path, name, truth) in sources.items():
        got = reposer.keypoints(str(path), name=name)
        assert np.allclose(got, truth, equal_nan=True, atol=1e-4), what
    assert np.array_equal(reposer.render_in_frame(str(photo), str(tmp_path / "b.png")), want)


def test_a_photo_pose_moves_into_the_source_photos_frame(tmp_path, detector):
    reposer, kp_b = _reposer(), _pose(h=120, w=80)
    detector.poses[(120, 80)] = kp_b
    _photo(tmp_path / "b.png", 120, 80)
    got = reposer.keypoints(str(tmp_path / "b.png"), frame_of=(60, 40))  # the same picture at half the size
    assert np.allclose(got, (kp_b + 0.5) / 2 - 0.5, equal_nan=True, atol=0.05)


def test_the_render_in_the_photos_frame_puts_each_joint_where_it_was_asked(tmp_path):
    reposer = _reposer()
    h, w = 90, 50  # not square: the render's letterbox must be undone
    kp = np.full((18, 2), np.nan, np.float32)
    kp[0] = (12.0, 70.0)
    out = reposer.render_in_frame(np.full((h, w, 3), 100, np.uint8), kp)
    assert out.shape == (h, w, 3)
    y, x = np.unravel_index(out[..., 0].astype(int).argmax(), (h, w))
    assert abs(x - 12) <= 1.5 and abs(y - 70) <= 1.5
    square = reposer(np.full((h, w, 3), 100, np.uint8), kp)
    assert square.shape == (S, S, 3)


def test_transfer_by_model_name_with_a_photo_as_the_pose_keeps_the_photos_size(tmp_path, detector, capsys):
    a, b = _photo(tmp_path / "a.png", 75, 50), _photo(tmp_path / "b.png", 64, 64)
    detector.poses[(64, 64)] = _pose(h=64, w=64)
    detector.poses[(75, 50)] = _pose(3, h=75, w=50)  # the photo's own pose, where the model warps its pixels
    out = tmp_path / "out.png"
    assert main(["transfer", "--checkpoint", "synthetic-64", "--image", str(a), "--pose", str(b), "--out",
                 str(out)]) == 0
    assert Image.open(out).size == (50, 75)
    assert main(["transfer", "--checkpoint", "synthetic-64", "--image", str(a), "--pose", str(b), "--out",
                 str(tmp_path / "sq.png"), "--frame", "model"]) == 0
    assert Image.open(tmp_path / "sq.png").size == (64, 64)
    write_annotations_csv(tmp_path / "many.csv", {"x.jpg": _pose(1, 75, 50), "y.jpg": _pose(2, 75, 50)})
    assert main(["transfer", "--checkpoint", "synthetic-64", "--image", str(a), "--pose", str(tmp_path / "many.csv"),
                 "--pose-name", "y.jpg", "--out", str(tmp_path / "named.png")]) == 0
    assert main(["transfer", "--checkpoint", "no-such-model", "--image", str(a), "--pose", str(b), "--out",
                 str(tmp_path / "x.png")]) == 2
    assert "synthetic-64" in capsys.readouterr().err


def test_a_folder_is_rendered_in_one_call_each_in_its_own_size(tmp_path, monkeypatch):
    photos = tmp_path / "photos"
    photos.mkdir()
    sizes = [(60, 40), (64, 64), (50, 80)]
    for i, (h, w) in enumerate(sizes):
        _photo(photos / f"p{i}.png", h, w)
    write_keypoints_json(tmp_path / "pose.json", _pose(h=50, w=40))
    sources = {f"p{i}.png": _pose(i, h, w) for i, (h, w) in enumerate(sizes)}  # each photo's own pose
    write_annotations_csv(tmp_path / "sources.csv", sources)
    out = tmp_path / "out"
    assert main(["transfer", "--checkpoint", "synthetic-64", "--image", str(photos), "--pose",
                 str(tmp_path / "pose.json"), "--source-pose", str(tmp_path / "sources.csv"), "--out", str(out),
                 "--batch", "2", "--quiet"]) == 0
    for i, (h, w) in enumerate(sizes):
        assert Image.open(out / f"p{i}.png").size == (w, h)
    # One pass of G for a batch (its trunk runs once on all three) gives what one call per photo
    # gives, each at its own size.
    reposer = Reposer.from_checkpoint("synthetic-64")
    passes = []
    reposer.G.inner.trunk.register_forward_hook(lambda mod, args, out: passes.append(out.shape[0]))
    paths = sorted(photos.iterdir())
    batch = reposer.render_batch(paths, [_pose(h=50, w=40)] * 3, [sources[p.name] for p in paths])
    assert passes == [3] and [b.shape[:2] for b in batch] == sizes
    # Large photos go in smaller groups (transfer.PHOTO_PIXELS: what a group holds at full
    # resolution at once), with the same renders.
    import poseshift.transfer

    monkeypatch.setattr(poseshift.transfer, "PHOTO_PIXELS", 5000)
    grouped = reposer.render_batch(paths, [_pose(h=50, w=40)] * 3, [sources[p.name] for p in paths])
    assert passes == [3, 1, 1, 1] and all(np.abs(a.astype(int) - b).max() <= 1 for a, b in zip(batch, grouped))
    assert all(np.abs(b.astype(int) - reposer.render_in_frame(str(p), _pose(h=50, w=40), sources[p.name])
                      .astype(int)).max() <= 1 for b, p in zip(batch, paths))


def test_models_lists_the_packaged_ones(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "synthetic-64" in out and "64 px" in out


def test_python_m_poseshift_help_and_every_flag_has_help():
    done = subprocess.run([sys.executable, "-m", "poseshift", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "examples:" in done.stdout
    from poseshift.cli_parser import build_parser

    parser = build_parser(COMMANDS)
    subs = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert set(subs.choices) == set(COMMANDS)
    for name, sub in subs.choices.items():
        for action in sub._actions:
            if action.dest != "help":
                assert action.help, f"{name} {action.option_strings or action.dest} has no help"
    train_help = " ".join(subs.choices["train"].format_help().split())
    assert "--config CONFIG --data" in train_help and "default: tiny" not in train_help  # required, every preset named
    assert all(name in train_help for name in preset_names())
    assert "(default: photo)" in subs.choices["transfer"].format_help()


def test_a_read_only_array_of_a_pil_image_renders_without_a_warning():
    import warnings

    photo = np.asarray(Image.fromarray(np.full((60, 40, 3), 128, np.uint8)))  # read-only, as PIL gives it
    assert not photo.flags.writeable
    reposer = Reposer.from_checkpoint("synthetic-64")  # warps the photo itself, at its own size
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        square = reposer(photo, _pose(), _pose(1))
        framed = reposer.render_batch([photo], [_pose()], [_pose(1)])[0]
    assert square.shape == (64, 64, 3) and framed.shape == (60, 40, 3)
    assert not [str(w.message) for w in caught if "writ" in str(w.message)], [str(w.message) for w in caught]


def test_a_source_pose_file_naming_several_photos_gives_the_photos_own_entry(tmp_path, capsys):
    """--source-pose all.json with one --image: the entry of the image's name (or stem), as for a
    folder; animate takes --pose-name to name another entry."""
    a = _photo(tmp_path / "s1.png", 60, 40)
    own = {i: np.round(_pose(i)) for i in range(3)}  # whole pixels, as an annotation CSV holds them
    write_keypoints_json(tmp_path / "target.json", _pose(5))
    write_keypoints_json(tmp_path / "s1_only.json", own[1])
    many = {f"s{i}.jpg": own[i] for i in range(3)}  # x.jpg names the photo x.png, as for folders
    write_annotations_csv(tmp_path / "all.csv", many)
    (tmp_path / "all.json").write_text(json.dumps({k: [[float(x), float(y)] if np.isfinite(x) else None
                                                       for x, y in v] for k, v in many.items()}))

    def transfer(source, out, image=a):
        return main(["transfer", "--image", str(image), "--pose", str(tmp_path / "target.json"),
                     "--source-pose", str(tmp_path / source), "--out", str(tmp_path / out)])

    assert transfer("s1_only.json", "want.png") == 0
    want = np.asarray(Image.open(tmp_path / "want.png"))
    for source in ("all.csv", "all.json"):
        assert transfer(source, f"{source}.png") == 0
        assert np.array_equal(np.asarray(Image.open(tmp_path / f"{source}.png")), want), source
    capsys.readouterr()
    assert transfer("all.json", "none.png", image=_photo(tmp_path / "s9.png")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "all.json" in err[0] and "s9.png" in err[0] and "--pose-name" not in err[0]
    assert not (tmp_path / "none.png").exists()

    def animate(out, *extra):
        return main(["animate", "--image", str(a), "--poses", "walk", "--frames", "2", "--source-pose",
                     str(tmp_path / "all.json"), "--out", str(tmp_path / out), "--quiet", *extra])

    write_keypoints_json(tmp_path / "s2_only.json", own[2])
    assert animate("own.gif") == 0 and animate("named.gif", "--pose-name", "s2.jpg") == 0
    assert main(["animate", "--image", str(a), "--poses", "walk", "--frames", "2", "--source-pose",
                 str(tmp_path / "s2_only.json"), "--out", str(tmp_path / "s2.gif"), "--quiet"]) == 0
    assert (tmp_path / "named.gif").read_bytes() == (tmp_path / "s2.gif").read_bytes()
    assert (tmp_path / "own.gif").read_bytes() != (tmp_path / "s2.gif").read_bytes()
    capsys.readouterr()
    assert animate("bad.gif", "--pose-name", "nobody.png") == 2
    assert "nobody.png" in capsys.readouterr().err and not (tmp_path / "bad.gif").exists()


def test_one_photo_in_many_poses_computes_its_mask_once_and_renders_as_a_fresh_call(monkeypatch):
    """The photo's mask, scene and source parts are kept for the photo last seen
    (poseshift.scenes): later poses give the same render as a fresh Reposer, and an edited photo
    is not answered from the memo."""
    import poseshift.silhouette

    calls = []
    real = poseshift.silhouette.SilhouetteCache.__call__
    monkeypatch.setattr(poseshift.silhouette.SilhouetteCache, "__call__",
                        lambda self, image: calls.append(1) or real(self, image))
    rng = np.random.default_rng(3)
    photo = rng.integers(0, 255, (60, 40, 3), dtype=np.uint8)
    kept = Reposer.from_checkpoint("synthetic-64")
    kept.retarget = False
    renders = [kept.render_in_frame(photo, _pose(seed), _pose(9)) for seed in (1, 2, 3)]
    assert len(calls) == 1
    for seed, render in zip((1, 2, 3), renders):
        fresh = Reposer.from_checkpoint("synthetic-64")
        fresh.retarget = False
        assert np.array_equal(fresh.render_in_frame(photo, _pose(seed), _pose(9)), render)
    edited = photo.copy()
    edited[30, 20] = 255 - edited[30, 20]
    kept.render_in_frame(edited, _pose(1), _pose(9))
    assert len(calls) == 5  # the three fresh Reposers and the edited photo
