"""Retargeting a pose to the person: the target's bone directions, the source's bone lengths, at the
source's place and size; fixed points, missing joints, mirror bones, motions and Reposer's use."""
import numpy as np
import pytest
import torch

from poseshift.motions import motion
from poseshift.pose.retarget import FORESHORTENED, body_size, bone_lengths, retarget, retarget_sequence
from poseshift.pose.schema import LIMBS

ANKLES = [10, 13]


def stretched(kp, legs=1.25, arms=0.9):
    """Another build: longer legs, shorter arms (LIMBS lists parents first: children follow)."""
    out = kp.copy()
    for (a, b), f in zip(LIMBS, [1, 1, arms, arms, arms, arms, 1, legs, legs, 1, legs, legs, 1, 1, 1, 1, 1]):
        out[b] = out[a] + (kp[b] - kp[a]) * f
    return out


@pytest.fixture(scope="module")
def people():
    """A big source person (a 900 px picture, long legs) and small targets of another build."""
    source = stretched(motion("turn", 8, 900, 700)[0] + np.float32([40, -30]))
    walk = motion("walk", 12, 240, 320)  # a small walker, far from the source's place
    return source, walk


def bone(kp, a, b):
    return kp[b] - kp[a]


def test_every_bone_has_the_sources_length_and_the_targets_direction(people):
    source, walk = people
    checked = 0
    for target in walk[::3]:
        for foreshortening in (False, True):
            out = retarget(target, source, foreshortening=foreshortening)
            for a, b in LIMBS:
                if not (np.isfinite(target[[a, b]]).all() and np.isfinite(source[[a, b]]).all()):
                    continue
                t, o = bone(target, a, b), bone(out, a, b)
                if np.linalg.norm(t) < 1e-3:
                    continue
                cos = float(t @ o / (np.linalg.norm(t) * np.linalg.norm(o)))
                assert cos > 1 - 1e-5, (a, b)  # the target's direction
                share = np.linalg.norm(t) * body_size(source) / body_size(target) / np.linalg.norm(bone(source, a, b))
                if foreshortening and share < FORESHORTENED:
                    continue  # seen at an angle: keeps that share (tested below)
                assert np.linalg.norm(o) == pytest.approx(np.linalg.norm(bone(source, a, b)), rel=1e-4), (a, b)
                checked += 1
    assert checked > 40


def test_a_small_gallery_skeleton_takes_the_big_persons_size_and_place(people):
    from poseshift.serve.app import gallery

    source, _ = people
    for entry in gallery():
        shares = np.array([[np.nan, np.nan] if p is None else p for p in entry["keypoints"]], np.float32)
        small = shares * 700 * 0.5 + 20  # half the person's size, in a corner of a 700 px picture
        out = retarget(small, source)
        assert np.isnan(out).any(axis=1).tolist() == np.isnan(small).any(axis=1).tolist(), entry["name"]
        if np.isfinite(body_size(small)):  # a side view hides a shoulder, so the neck
            assert body_size(out) == pytest.approx(body_size(source), rel=0.05), entry["name"]
        # a standing person stays standing: the lower ankle on the source's ground line, hips above hers
        assert np.nanmax(out[ANKLES, 1]) == pytest.approx(np.nanmax(source[ANKLES, 1]), abs=1e-3)
        centre = [8, 11] if np.isfinite(small[[8, 11]]).all() else [1]  # the mid-hip, else the neck
        assert out[centre, 0].mean() == pytest.approx(source[centre, 0].mean(), abs=1e-3)
        height = lambda kp: np.nanmax(kp[:, 1]) - np.nanmin(kp[:, 1])  # noqa: E731
        assert height(out) == pytest.approx(height(source), rel=0.15), entry["name"]
        assert height(out) > 1.6 * height(small)


def test_the_sources_own_pose_is_a_fixed_point():
    rng = np.random.default_rng(0)
    for k, source in enumerate(motion("walk", 6, 480, 360)):
        source = source + rng.normal(0, 3, source.shape).astype(np.float32)
        if k % 2:
            source[[3, 16]] = np.nan  # missing joints too
        if k == 3:
            source[1] = np.nan  # no neck: every chain is broken
        assert np.allclose(retarget(source, source), source, atol=1e-3, equal_nan=True)
        assert np.allclose(retarget_sequence(source[None], source)[0], source, atol=1e-3, equal_nan=True)


def test_missing_joints_stay_missing_and_missing_bones_come_from_the_mirror(people):
    source, walk = people
    target = walk[2].copy()
    target[[4, 9, 15]] = np.nan  # r_wrist, r_knee (the r_ankle below it stays: placed by scale)
    out = retarget(target, source)
    assert np.isnan(out).any(axis=1).tolist() == np.isnan(target).any(axis=1).tolist()
    assert np.isfinite(out[10]).all()
    # The source lacks its right forearm: the left one's length serves.
    one_armed = source.copy()
    one_armed[4] = np.nan
    lengths = bone_lengths(one_armed)
    r_forearm, l_forearm = LIMBS.index((3, 4)), LIMBS.index((6, 7))
    assert lengths[r_forearm] == pytest.approx(np.linalg.norm(bone(source, 6, 7)))
    out = retarget(walk[2], one_armed, foreshortening=False)
    assert np.linalg.norm(bone(out, 3, 4)) == pytest.approx(lengths[l_forearm], rel=1e-4)
    # Neither forearm: the target's, scaled by the ratio of the torsos.
    no_arms = one_armed.copy()
    no_arms[7] = np.nan
    out = retarget(walk[2], no_arms, foreshortening=False)
    ratio = body_size(no_arms) / body_size(walk[2])
    assert np.linalg.norm(bone(out, 3, 4)) == pytest.approx(ratio * np.linalg.norm(bone(walk[2], 3, 4)), rel=1e-4)
    # Nothing to retarget onto: the target as it is.
    assert np.allclose(retarget(walk[2], np.full((18, 2), np.nan)), walk[2], equal_nan=True)
    with pytest.raises(ValueError, match=r"target pose must be 18 \(x, y\) keypoints"):
        retarget(np.zeros((17, 2)), source)


def test_a_side_view_keeps_its_narrow_shoulders(people):
    source, _ = people
    side = motion("turn", 8, 240, 320)[2]  # turned 90 degrees: the shoulders almost on the neck
    out = retarget(side, source)
    for a, b in ((1, 2), (1, 5)):
        if np.isfinite(side[[a, b]]).all():
            assert np.linalg.norm(bone(out, a, b)) < 0.5 * np.linalg.norm(bone(source, a, b))
    exact = retarget(side, source, foreshortening=False)
    for a, b in ((1, 2), (1, 5)):
        if np.isfinite(side[[a, b]]).all() and np.linalg.norm(bone(side, a, b)) > 1e-3:
            assert np.linalg.norm(bone(exact, a, b)) == pytest.approx(np.linalg.norm(bone(source, a, b)), rel=1e-4)


def test_a_sequence_keeps_its_travel_scaled(people):
    source, walk = people
    across = walk + (np.arange(len(walk), dtype=np.float32) * 4.0)[:, None, None] * np.float32([1, 0])
    out = retarget_sequence(across, source)
    assert out.shape == across.shape and out.dtype == np.float32
    both = np.isfinite(across[:, [8, 11]]).all(axis=(1, 2))  # frames showing both hips (the anchor)
    hips, theirs = out[both][:, [8, 11], 0].mean(1), across[both][:, [8, 11], 0].mean(1)
    ratio = body_size(source) / np.median([body_size(kp) for kp in walk])
    assert both[0] and hips[0] == pytest.approx(source[[8, 11], 0].mean(), abs=1e-3)  # starts where she stands
    assert np.allclose(hips - hips[0], ratio * (theirs - theirs[0]), atol=1e-2)  # walks as far, at her scale
    assert hips[-1] - hips[0] > 3 * len(walk) * ratio
    for t in range(len(walk)):  # each frame still has her bones
        for a, b in ((8, 9), (11, 12), (2, 3)):
            if np.isfinite(across[t, [a, b]]).all():
                share = np.linalg.norm(bone(across[t], a, b)) * ratio / np.linalg.norm(bone(source, a, b))
                if share >= FORESHORTENED:
                    assert np.linalg.norm(bone(out[t], a, b)) == pytest.approx(
                        np.linalg.norm(bone(source, a, b)), rel=1e-4)


class Painter(torch.nn.Module):
    """A stand-in G that paints the target's belief maps."""

    def forward(self, image, maps, kp_o=None, kp_f=None):
        return (maps.max(1, keepdim=True).values * 2 - 1).expand(-1, 3, -1, -1)


def test_reposer_retargets_by_default_and_not_when_told(people):
    from poseshift.config import load_config
    from poseshift.transfer import Reposer

    source, walk = people
    reposer = Reposer(Painter(), load_config("tiny", ["model.image_size=32"]), torch.device("cpu"))
    photo = np.full((900, 700, 3), 128, np.uint8)
    target = walk[3]
    _, _, _, kp_f, fit = reposer.prepare(photo, target, source)
    assert np.allclose(fit.invert(kp_f[0].numpy()), retarget(target, source), atol=1e-2, equal_nan=True)
    _, _, _, kp_f, fit = reposer.prepare(photo, target, source, retarget=False)
    assert np.allclose(fit.invert(kp_f[0].numpy()), target, atol=1e-2, equal_nan=True)
    reposer.retarget = False
    assert np.array_equal(reposer(photo, target, source), reposer(photo, target, source, retarget=False))
    assert not np.array_equal(reposer(photo, target, source), reposer(photo, target, source, retarget=True))


def test_the_web_api_and_page_retarget_unless_told_not_to():
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    import io
    import json

    from PIL import Image

    from poseshift.serve.app import gallery
    from poseshift.synth import Pose3D, render, sample_person
    from poseshift.transfer import Reposer
    from tests.serving import running_server

    image, own, _ = render(sample_person(np.random.default_rng(2)), Pose3D(), 0.0, 96)
    shares = np.array([[np.nan, np.nan] if p is None else p for p in gallery()[4]["keypoints"]], np.float32)
    small = shares * 48 + 10  # the gallery's stride at half her size, off to one side
    as_json = lambda kp: json.dumps([None if np.isnan(x) else [float(x), float(y)] for x, y in kp])  # noqa: E731
    png = io.BytesIO()
    Image.fromarray(image).save(png, format="PNG")
    reposer = Reposer.from_checkpoint("synthetic-64", device="cpu")
    with running_server() as url:
        assert 'id="retarget" checked' in httpx.get(url).text  # the page's switch, on by default
        renders = {}
        for field in (None, "true", "false", "maybe"):
            data = {"pose": as_json(small), "source_pose": as_json(own)}
            if field is not None:
                data["retarget"] = field
            r = httpx.post(f"{url}/api/transfer", files={"image": ("me.png", png.getvalue(), "image/png")},
                           data=data, timeout=120)
            renders[field] = r
    assert renders["maybe"].status_code == 422 and "retarget" in renders["maybe"].json()["error"]
    got = {k: np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB")).astype(int)
           for k, r in renders.items() if k != "maybe"}
    assert np.array_equal(got[None], got["true"])
    for flag, field in ((True, "true"), (False, "false")):
        want = reposer.render_in_frame(image, small, own, retarget=flag).astype(int)
        assert np.abs(got[field] - want).max() <= 1, field
    assert np.abs(got["true"] - got["false"]).mean() > 2  # she keeps her size, or shrinks to the skeleton's


def test_evaluation_renders_the_pairs_poses_as_they_are(tmp_path):
    """render_pairs (poseshift evaluate --checkpoint, transfer --pairs): a pair's target pose is its
    ground truth, never retargeted, whatever the Reposer's default."""
    from poseshift.config import load_config
    from poseshift.images import read_image
    from poseshift.layouts import open_layout
    from poseshift.pair_renders import render_pairs
    from poseshift.pose.keypoints_io import read_annotations_csv
    from poseshift.transfer import Reposer
    from tests.helpers import figures

    data = figures(tmp_path, people=3, size=32)
    ann = read_annotations_csv(data / "annotations.csv")
    names = sorted(ann)
    src, tgt = names[0], names[-1]  # two different people
    reposer = Reposer(Painter(), load_config("tiny", ["model.image_size=32"]), torch.device("cpu"))
    assert reposer.retarget is True
    render_pairs(reposer, [(src, tgt)], data, tmp_path / "out", progress=False)
    got = read_image(next((tmp_path / "out").iterdir()))
    image = read_image(open_layout(data).image_path(src))
    assert np.array_equal(got, reposer.render_in_frame(image, ann[tgt], ann[src], retarget=False))
    assert not np.array_equal(got, reposer.render_in_frame(image, ann[tgt], ann[src]))
