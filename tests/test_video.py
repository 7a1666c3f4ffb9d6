"""Motion from a video: the One-Euro filter, gaps filled from neighbours, videos read frame by frame
and refused in one line, `poseshift pose VIDEO` and `poseshift animate --poses VIDEO` end to end on
a video of a synthetic person that MediaPipe's video mode tracks."""
import numpy as np
import pytest

from poseshift.cli import main
from poseshift.motions import motion
from poseshift.pose.keypoints_io import read_annotations_csv
from poseshift.pose.retarget import body_size
from poseshift.pose.smoothing import OneEuroFilter, fill_gaps, smooth_poses

imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
iio = pytest.importorskip("imageio.v3")


def write_mp4(path, frames, fps):
    writer = imageio_ffmpeg.write_frames(str(path), (frames[0].shape[1], frames[0].shape[0]), fps=fps,
                                         macro_block_size=1)
    writer.send(None)
    for f in frames:
        writer.send(np.ascontiguousarray(f))
    writer.close()
    return path


@pytest.fixture(scope="module")
def walker(tmp_path_factory):
    """A synthetic person walking, 16 frames at 8 fps, 128 px; and their exact poses."""
    from poseshift.motions import _walk_pose
    from poseshift.synth import render, sample_person

    person = sample_person(np.random.default_rng(4))
    frames, truth = [], []
    for k in range(16):
        image, kp, _ = render(person, _walk_pose(2 * np.pi * k / 8), 0.3, 128)
        frames.append(image)
        truth.append(kp)
    path = write_mp4(tmp_path_factory.mktemp("video") / "walk.mp4", frames, 8)
    return path, np.stack(truth)


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """Another synthetic person, standing, in a photo of another size."""
    from PIL import Image

    from poseshift.synth import Pose3D, render, sample_person

    image, kp, _ = render(sample_person(np.random.default_rng(9)), Pose3D(), 0.0, 96)
    path = tmp_path_factory.mktemp("photo") / "me.png"
    Image.fromarray(image).save(path)
    return path, kp


# ----------------------------------------------------------------------------- One-Euro, gaps

def test_one_euro_removes_jitter_and_follows_fast_motion():
    rng = np.random.default_rng(0)
    fps, t = 30.0, np.arange(300) / 30.0
    still = 5 + rng.normal(0, 0.01, t.size)  # a joint standing still, jittering by 1% of a body size
    filt = OneEuroFilter(fps, min_cutoff=1.0, beta=2.0)
    out = np.array([filt(x) for x in still])
    assert out[30:].std() < 0.4 * still[30:].std()  # jitter mostly gone
    ramp = 3.0 * t  # fast: 3 units a second
    lag = {}
    for beta in (0.0, 2.0):
        filt = OneEuroFilter(fps, min_cutoff=1.0, beta=beta)
        lag[beta] = float(np.mean(ramp[60:] - np.array([filt(x) for x in ramp])[60:]))
    assert 0 < lag[2.0] < 0.25 * lag[0.0]  # speed opens the filter: little lag
    filt = OneEuroFilter(fps)
    got = [filt(np.array([x])) for x in (1.0, 2.0, np.nan, 10.0)]
    assert np.isnan(got[2]).all() and got[3][0] == 10.0  # a missing value restarts at the next one
    with pytest.raises(ValueError, match="freq must be a positive number"):
        OneEuroFilter(0)


def test_smooth_poses_is_scale_free_and_keeps_missing_joints():
    rng = np.random.default_rng(1)
    base = motion("turn", 8, 400, 300)[0]
    noisy = base[None] + rng.normal(0, 2.0, (60, 18, 2)).astype(np.float32)
    noisy[:, 17] = np.nan
    out = smooth_poses(noisy, 30)
    ok = np.isfinite(base).all(1) & (np.arange(18) != 17)
    assert np.isnan(out[:, 17]).all()
    assert np.abs(out[20:, ok] - base[ok]).std() < 0.5 * np.abs(noisy[20:, ok] - base[ok]).std()
    big = smooth_poses(noisy * 3, 30)  # the same motion, three times larger: the same smoothing
    assert np.allclose(big, out * 3, atol=1e-3, equal_nan=True)


def test_fill_gaps_interpolates_empty_frames_and_short_joint_gaps():
    poses = np.stack([np.full((18, 2), float(k), np.float32) for k in range(10)])
    poses[[0, 3, 4, 5]] = np.nan  # nobody: an end frame and a run of three
    poses[7:9, 2] = np.nan  # the right shoulder hidden for two frames
    poses[1:9, 6] = np.nan  # the left elbow for eight
    poses[:, 17] = np.nan  # an ear never seen
    filled, empty = fill_gaps(poses, max_gap=3)
    assert empty == 4
    assert np.allclose(filled[3:6, 0], [[3, 3], [4, 4], [5, 5]])  # linear between frames 2 and 6
    assert np.allclose(filled[0, 0], 1)  # held at the start
    assert np.allclose(filled[7:9, 2], [[7, 7], [8, 8]])
    assert np.isnan(filled[[1, 2, 6, 7, 8], 6]).all()  # a long gap of one joint stays a gap
    assert np.isnan(filled[:, 17]).all()
    with pytest.raises(ValueError, match="nobody was detected in any of the 3 frames"):
        fill_gaps(np.full((3, 18, 2), np.nan))


# ----------------------------------------------------------------------------- reading videos

def test_video_reads_frame_by_frame_and_refuses_bad_files_in_one_line(walker, tmp_path):
    from poseshift.video import Video

    path, _ = walker
    with Video(path) as video:
        assert (video.fps, video.width, video.height, video.frames) == (8.0, 128, 128, 16)
        frames = list(video)
    assert len(frames) == 16 and frames[0].shape == (128, 128, 3) and frames[0].dtype == np.uint8
    (tmp_path / "notes.mp4").write_text("not a video\n")
    empty = tmp_path / "empty.mp4"
    writer = imageio_ffmpeg.write_frames(str(empty), (16, 16), macro_block_size=1)
    writer.send(None)
    writer.close()  # a container with no frame in it
    cases = [(dict(path=tmp_path / "notes.mp4"), r"notes.mp4: not a video ffmpeg can read"),
             (dict(path=empty), r"empty.mp4: a file with no video frames"),
             (dict(path=path, max_side=100), r"walk.mp4: its frames are 128x128, over the 100x100 limit"),
             (dict(path=path, max_seconds=1.0), r"walk.mp4: 2.0 s long, over the 1 s limit"),
             (dict(path=tmp_path / "gone.mp4"), r"gone.mp4: no such video file")]
    for kwargs, message in cases:
        with pytest.raises((ValueError, FileNotFoundError), match=message) as err:
            Video(**kwargs)
        assert "\n" not in str(err.value)


def test_cli_refuses_bad_videos_in_one_line(walker, tmp_path, capsys):
    path, _ = walker
    (tmp_path / "notes.mp4").write_text("not a video\n")
    photo = tmp_path / "p.png"
    iio.imwrite(photo, np.zeros((32, 32, 3), np.uint8))
    runs = {"notes.mp4: not a video": ["pose", str(tmp_path / "notes.mp4"), "--out", str(tmp_path / "a.csv")],
            "over the 1 s limit": ["pose", str(path), "--out", str(tmp_path / "b.csv"), "--max-seconds", "1"],
            "a video is read alone": ["pose", str(path), str(photo), "--out", str(tmp_path / "c.csv")],
            "notes.mp4: not a video ffmpeg": ["animate", "--image", str(photo), "--poses",
                                              str(tmp_path / "notes.mp4"), "--out", str(tmp_path / "d.mp4")],
            "walk.mp4: 2.0 s long": ["animate", "--image", str(photo), "--poses", str(path), "--out",
                                     str(tmp_path / "d.mp4"), "--max-seconds", "1.5"]}
    for message, argv in runs.items():
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("poseshift: error: ") and message in err[0], err
    assert not list(tmp_path.glob("[abcd].*"))


# ----------------------------------------------------------------------------- end to end

def test_pose_writes_a_row_a_frame_that_animate_reads(walker, tmp_path, capsys):
    pytest.importorskip("mediapipe")
    path, truth = walker
    out = tmp_path / "walk.csv"
    assert main(["pose", str(path), "--out", str(out), "--quiet"]) == 0
    assert "16 frames at 8 fps" in capsys.readouterr().out
    rows = read_annotations_csv(out)
    assert list(rows) == [f"frame_{k:06d}" for k in range(16)]
    poses = np.stack(list(rows.values()))
    both = np.isfinite(poses).all(2) & np.isfinite(truth).all(2)
    assert both.mean() > 0.8
    assert np.median(np.linalg.norm(poses - truth, axis=2)[both]) < 4.0  # pixels of a 128 px frame
    assert main(["pose", str(path), "--out", str(out), "--quiet"]) == 2  # not replaced unasked
    from poseshift.animate import read_sequence

    assert np.array_equal(read_sequence(out, 128, 128), poses)


def test_animate_a_photo_along_a_video(walker, photo, tmp_path, capsys):
    pytest.importorskip("mediapipe")
    path, _ = walker
    image, _ = photo
    out = tmp_path / "me_walk.mp4"
    assert main(["animate", "--image", str(image), "--poses", str(path), "--out", str(out), "--quiet"]) == 0
    meta = iio.immeta(out, plugin="FFMPEG")
    frames = list(iio.imiter(out, plugin="FFMPEG"))
    assert meta["fps"] == 8.0 and len(frames) == 16 and frames[0].shape == (96, 96, 3)  # the video's rate
    assert np.abs(frames[0].astype(int) - frames[4].astype(int)).mean() > 1  # she moves
    assert main(["animate", "--image", str(image), "--poses", str(path), "--out", str(out)]) == 2


def test_a_video_too_long_for_a_gif_or_too_fast_is_refused_before_any_detection(walker, photo, tmp_path,
                                                                                 monkeypatch):
    import poseshift.animate as animate_mod

    path, truth = walker
    image, kp = photo
    detected = []

    def detector(frame):
        detected.append(1)
        return truth[0]

    reposer = Recorder(kp)
    monkeypatch.setattr(animate_mod, "MAX_GIF_FRAMES", 4)  # the walker has 16 frames
    with pytest.raises(ValueError, match="a GIF holds here; write .mp4"):
        animate_mod.animate(reposer, str(image), path, tmp_path / "a.gif", source_pose=kp, detector=detector)
    monkeypatch.setattr(animate_mod, "MAX_FPS", 5.0)  # the walker plays at 8 frames/s
    monkeypatch.setattr(animate_mod, "DEFAULT_FPS", 4.0)
    with pytest.raises(ValueError, match="frames/s is over the 5 an animation plays at; pass --fps"):
        animate_mod.animate(reposer, str(image), path, tmp_path / "a.mp4", source_pose=kp, detector=detector)
    assert not detected and not list(tmp_path.iterdir())


class Recorder:
    """A stand-in Reposer: records the poses it is asked to render, the photo's pose given."""
    needs_source_pose = False
    size = 64

    def __init__(self, own):
        from poseshift.config import load_config

        self.config, self.own, self.poses = load_config("tiny"), own, []

    def own_pose(self, image):
        return self.own

    def render_batch(self, images, poses, sources=None, frame="photo", retarget=None):
        assert retarget is False  # the sequence was retargeted as a whole
        self.poses += [np.asarray(p) for p in poses]
        return [np.asarray(images[0]) for _ in poses]


def test_animate_fills_frames_with_nobody_and_retargets_the_motion(photo, tmp_path, caplog):
    """A fake detector (a known walk, nobody in two frames) on a plain 256 px video; the photo's
    person is 96 px tall: the motion comes at her size and place, or, told not to, in her frame."""
    from poseshift.animate import animate

    image, own = photo
    walk = motion("walk", 12, 256, 256)
    video = write_mp4(tmp_path / "plain.mp4", [np.full((256, 256, 3), 90, np.uint8)] * 12, 6)

    def detector():
        calls = iter(range(12))

        def detect(frame):
            k = next(calls)
            return np.full((18, 2), np.nan, np.float32) if k in (5, 6) else walk[k]
        return detect

    rec = Recorder(own)
    with caplog.at_level("WARNING"):
        animate(rec, image, video, tmp_path / "a.mp4", detector=detector())
    assert "nobody was detected in 2 of its 12 frames" in caplog.text
    poses = np.stack(rec.poses)
    assert len(poses) == 12 and np.isfinite(poses[[5, 6]]).any(axis=(1, 2)).all()  # filled
    sizes = [body_size(p) for p in poses]
    assert np.allclose(sizes, body_size(own), rtol=0.1)  # her size, not the walker's
    assert np.nanmax(poses[0][[10, 13], 1]) == pytest.approx(np.nanmax(own[[10, 13], 1]), abs=1.5)  # her ground
    assert iio.immeta(tmp_path / "a.mp4", plugin="FFMPEG")["fps"] == 6.0
    rec = Recorder(own)
    animate(rec, image, video, tmp_path / "b.mp4", detector=detector(), retarget=False, fps=12)
    assert np.allclose(np.stack(rec.poses)[0], walk[0] * 96 / 256 + (96 / 256 - 1) / 2, atol=0.5, equal_nan=True)
    assert iio.immeta(tmp_path / "b.mp4", plugin="FFMPEG")["fps"] == 12.0


def test_the_web_api_animates_along_an_uploaded_video_within_limits(walker, photo, tmp_path):
    pytest.importorskip("mediapipe")
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    import io
    import json

    from PIL import Image

    from tests.serving import running_server

    path, _ = walker
    image, own = photo
    long = write_mp4(tmp_path / "long.mp4", [np.full((16, 16, 3), 90, np.uint8)] * 22, 1)  # 22 s
    source = json.dumps([None if np.isnan(x) else [float(x), float(y)] for x, y in own])
    answers = {}
    with running_server() as url:
        for name, data in (("walk.mp4", path.read_bytes()), ("notes.mp4", b"not a video"),
                           ("long.mp4", long.read_bytes())):
            answers[name] = httpx.post(f"{url}/api/animate", data={"source_pose": source}, timeout=300,
                                       files={"image": ("me.png", image.read_bytes(), "image/png"),
                                              "video": (name, data, "video/mp4")})
    ok = answers["walk.mp4"]
    assert ok.status_code == 200 and ok.headers["content-type"] == "image/gif"
    with Image.open(io.BytesIO(ok.content)) as gif:
        assert gif.n_frames == 16 and gif.size == (96, 96) and abs(gif.info["duration"] - 125) <= 10  # 8 fps
    assert answers["notes.mp4"].status_code == 422
    assert answers["notes.mp4"].json()["error"] == "video: not a video ffmpeg can read"
    assert answers["long.mp4"].status_code == 413
    assert answers["long.mp4"].json()["error"] == "video: 22.0 s long, over the 20 s limit"
