"""Animating a photo along a pose sequence: built-in motions, CSV and OpenPose-folder sequences,
GIF and MP4 output with one frame a pose, in the photo's own size, and the refusals."""
import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

import poseshift
from poseshift.animate import animate, read_sequence, render_sequence, write_animation
from poseshift.images import read_image
from poseshift.motions import MOTIONS, motion
from poseshift.pose.keypoints_io import read_keypoints, write_annotations_csv, write_openpose_json
from poseshift.transfer import Reposer
from tests.helpers import figures

SHIPPED = Path(poseshift.__file__).parent / "assets/synthetic-64.safetensors"


@pytest.fixture(scope="module")
def reposer():
    return Reposer.from_checkpoint(str(SHIPPED), device="cpu")


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    folder = figures(tmp_path_factory.mktemp("animate")) / "images"
    return sorted(folder.iterdir())[0]


@pytest.fixture(scope="module")
def own_pose(photo):
    """The drawn person's own pose (MediaPipe finds nobody in a drawing; a warping model needs it)."""
    return read_keypoints(photo.parent.parent / "annotations.csv", photo.name)


def gif_frames(path):
    with Image.open(path) as im:
        return im.n_frames, im.size, im.info.get("loop"), im.info.get("duration")


def mp4_frames(path):
    frames = list(iio.imiter(path, plugin="FFMPEG"))
    return len(frames), frames[0].shape


def no_temporaries(folder):
    return not [p for p in Path(folder).iterdir() if p.name.startswith(".")]


# ----------------------------------------------------------------------------- motions

def test_motions_shape_and_unknown_name():
    for name in MOTIONS:
        m = motion(name, 6, 96, 64)
        assert m.shape == (6, 18, 2) and m.dtype == np.float32
        ok = np.isfinite(m)
        assert ok.any(axis=(1, 2)).all()  # every frame has a person
        assert (m[..., 0][ok[..., 0]] >= 0).all() and (m[..., 0][ok[..., 0]] < 64).all()
        assert (m[..., 1][ok[..., 1]] >= 0).all() and (m[..., 1][ok[..., 1]] < 96).all()
    with pytest.raises(ValueError, match="unknown motion 'dance'; choose one of: turn, walk") as err:
        motion("dance", 4, 64, 64)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="frames"):
        motion("turn", 0, 64, 64)


def test_walk_swings_the_legs_and_loops():
    m = motion("walk", 8, 128, 128)
    ankles = m[:, [10, 13]]
    assert np.isfinite(ankles[:, 0]).all()  # the near (right) ankle is always seen
    assert np.nanmax(np.abs(ankles[1:] - ankles[:-1])) > 3  # pixels: the feet move
    assert len({tuple(np.nan_to_num(a).round(1).ravel()) for a in ankles}) == 8
    wrists = m[:, [4, 7]]
    assert np.nanmax(np.abs(wrists - wrists[:1])) > 3  # and the arms swing


def test_turn_swaps_left_and_right_halfway():
    m = motion("turn", 8, 128, 128)
    r, l = m[:, 2, 0], m[:, 5, 0]  # right and left shoulder x
    assert r[0] < l[0]  # front view: the person's right on the image left
    assert r[4] > l[4]  # back view, 180 degrees later: swapped
    assert np.isnan(m[4, 0]).all()  # the face is turned away
    assert np.isfinite(m[0, [0, 14, 15]]).all()


def test_motion_placement_default_and_on_a_source():
    m = motion("turn", 4, 100, 80)[0]
    centre_x = 0.5 * (np.nanmin(m[:, 0]) + np.nanmax(m[:, 0]))
    assert abs(centre_x - 39.5) < 1
    assert 0.6 * 100 < np.nanmax(m[:, 1]) - np.nanmin(m[:, 1]) < 0.8 * 100  # eyes to ankles, 80% figure
    # A small person low on the right of the frame: the motion takes their size and place.
    source = motion("turn", 1, 200, 200)[0] * 0.5 + np.array([120, 90], np.float32)
    source[[3, 4]] = np.nan  # a missing arm does not matter
    placed = motion("walk", 4, 200, 200, source=source)
    sy = np.nanmax(source[:, 1]) - np.nanmin(source[:, 1])
    py = np.nanmax(placed[0, :, 1]) - np.nanmin(placed[0, :, 1])
    assert abs(py - sy) < 0.15 * sy
    assert abs(np.nanmean(placed[:, 1, 0]) - source[1, 0]) < 6  # the neck where the source's is
    assert abs(np.nanmean(placed[:, 1, 1]) - source[1, 1]) < 6


# ----------------------------------------------------------------------------- sequences

def test_read_sequence_csv_folder_and_errors(tmp_path):
    poses = motion("walk", 5, 32, 32)
    names = ["c.jpg", "a.jpg", "e.jpg", "b.jpg", "d.jpg"]  # file order, not name order
    write_annotations_csv(tmp_path / "seq.csv", dict(zip(names, poses)))
    got = read_sequence(tmp_path / "seq.csv", 32, 32)
    assert got.shape == (5, 18, 2)
    np.testing.assert_array_equal(got, np.where(np.isnan(poses), np.nan, np.round(poses)))
    folder = tmp_path / "openpose"
    folder.mkdir()
    for k in (3, 0, 2):  # written out of order
        write_openpose_json(folder / f"clip_{k:012d}_keypoints.json", poses[k])
    (folder / "clip_000000000001_keypoints.json").write_text(json.dumps({"version": 1.3, "people": []}))
    (folder / "notes.txt").write_text("not a frame")
    got = read_sequence(folder, 32, 32)
    assert got.shape == (4, 18, 2)
    assert np.isnan(got[1]).all()  # nobody in that frame
    np.testing.assert_allclose(got[[0, 2, 3]], poses[[0, 2, 3]], atol=1e-4)
    assert read_sequence("turn", 40, 30, frames=3).shape == (3, 18, 2)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty: no OpenPose JSON frames"):
        read_sequence(tmp_path / "empty", 32, 32)
    (tmp_path / "none.csv").write_text("name:keypoints_y:keypoints_x\n")
    with pytest.raises(ValueError, match="none.csv: the annotation CSV has no rows"):
        read_sequence(tmp_path / "none.csv", 32, 32)
    with pytest.raises(FileNotFoundError, match="nowhere.csv: no such file"):
        read_sequence(tmp_path / "nowhere.csv", 32, 32)
    with pytest.raises(ValueError, match="unknown motion 'dance'; choose one of: turn, walk"):
        read_sequence("dance", 32, 32)


# ----------------------------------------------------------------------------- renders and files

def test_render_sequence_is_render_in_frame(reposer, photo, own_pose):
    image = read_image(photo)
    poses = motion("walk", 5, *image.shape[:2])
    frames = render_sequence(reposer, image, poses, own_pose, batch=2, progress=True)
    assert len(frames) == 5
    for f, p in zip(frames, poses):
        assert f.shape == image.shape and f.dtype == np.uint8
        alone = reposer.render_in_frame(image, p, own_pose, retarget=False)  # render_sequence: poses as given
        assert np.abs(f.astype(int) - alone.astype(int)).max() <= 1
    assert np.abs(frames[0].astype(int) - frames[2].astype(int)).max() > 10  # a new pose, a new frame


def test_gif_and_mp4_one_frame_a_pose(reposer, photo, own_pose, tmp_path):
    h, w = read_image(photo).shape[:2]
    csv = tmp_path / "seq.csv"
    write_annotations_csv(csv, {f"f{k}.jpg": p for k, p in enumerate(motion("walk", 5, h, w))})
    folder = tmp_path / "frames"
    folder.mkdir()
    for k, p in enumerate(motion("turn", 4, h, w)):
        write_openpose_json(folder / f"v_{k:012d}_keypoints.json", p)
    for seq, n in (("walk", 4), (csv, 5), (folder, 4)):
        gif = animate(reposer, photo, seq, tmp_path / f"{Path(seq).stem}.gif", fps=10, frames=4,
                      source_pose=own_pose)
        frames, size, loop, duration = gif_frames(gif)
        assert (frames, size, loop, duration) == (n, (w, h), 0, 100)
        mp4 = animate(reposer, str(photo), seq, tmp_path / f"{Path(seq).stem}.mp4", fps=10, frames=4,
                      source_pose=own_pose)
        assert mp4_frames(mp4) == (n, (h, w, 3))
    assert no_temporaries(tmp_path)


def test_write_animation_refusals_and_odd_sizes(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (15, 21, 3), dtype=np.uint8) for _ in range(3)]
    out = write_animation(frames, tmp_path / "odd.mp4", fps=24)
    assert mp4_frames(out) == (3, (16, 22, 3))  # padded to even for x264
    with pytest.raises(FileExistsError, match=r"odd.mp4 exists; pass --overwrite to replace it"):
        write_animation(frames, out)
    before = out.stat().st_mtime_ns
    write_animation(frames[:2], out, overwrite=True)
    assert mp4_frames(out) == (2, (16, 22, 3)) and out.stat().st_mtime_ns >= before
    gif = write_animation(frames, tmp_path / "odd.gif", fps=4)
    assert gif_frames(gif) == (3, (21, 15), 0, 250)
    with pytest.raises(ValueError, match="unknown animation extension '.avi'"):
        write_animation(frames, tmp_path / "x.avi")
    for fps in (0, -1, 121, float("nan")):
        with pytest.raises(ValueError, match=r"fps must be in \(0, 120\]"):
            write_animation(frames, tmp_path / "x.gif", fps=fps)
    with pytest.raises(ValueError, match="frame 1 must be uint8"):
        write_animation([frames[0], frames[1][:-1]], tmp_path / "x.gif")
    assert no_temporaries(tmp_path) and not (tmp_path / "x.gif").exists()


def test_animate_refuses_before_rendering(photo, tmp_path):
    class Boom:
        needs_source_pose = False

        def render_batch(self, *a, **k):
            raise AssertionError("rendered")

    (tmp_path / "a.gif").write_bytes(b"mine")
    with pytest.raises(FileExistsError, match="pass --overwrite"):
        animate(Boom(), photo, "turn", tmp_path / "a.gif")
    assert (tmp_path / "a.gif").read_bytes() == b"mine"
    with pytest.raises(ValueError, match="fps"):
        animate(Boom(), photo, "turn", tmp_path / "b.gif", fps=500)
    with pytest.raises(ValueError, match="unknown motion"):
        animate(Boom(), photo, "dance", tmp_path / "b.gif")
