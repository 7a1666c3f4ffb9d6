"""Metrics on hand-made inputs: SSIM, Mask-SSIM's body mask, PCKh, the registry's skip path,
LPIPS' weights loader and the Inception Score."""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("skimage")

from poseshift.metrics import (  # noqa: E402
    MetricOptions,
    MetricSkipped,
    body_mask,
    create_metric,
    head_box,
    list_metrics,
    mask_ssim,
    pckh,
    pckh_joints,
    ssim_gfla,
    ssim_patn,
)
from poseshift.pose.schema import JOINT_INDEX, NUM_JOINTS  # noqa: E402


def standing_pose(h: int = 256) -> np.ndarray:
    """A frontal person in a 256 x 256 frame (x, y), scaled by h / 256."""
    kp = np.array([
        [128, 40], [128, 70],                 # nose, neck
        [100, 72], [92, 110], [88, 150],      # right arm
        [156, 72], [164, 110], [168, 150],    # left arm
        [110, 150], [108, 195], [106, 240],   # right leg
        [146, 150], [148, 195], [150, 240],   # left leg
        [122, 34], [134, 34], [114, 38], [142, 38],  # eyes, ears
    ], dtype=np.float32)
    return kp * (h / 256)


def _rand_image(h=64, w=48, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# ----------------------------------------------------------------------------- SSIM

def test_ssim_identical_is_one_and_matches_skimage():
    from skimage.metrics import structural_similarity
    a = _rand_image(seed=1)
    b = np.clip(a.astype(int) + np.random.default_rng(2).integers(-40, 40, a.shape), 0, 255).astype(np.uint8)
    assert ssim_patn(a, a) == pytest.approx(1.0)
    ref = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                channel_axis=-1, data_range=b.max() - b.min())
    assert ssim_patn(a, b) == ref
    assert 0 < ssim_patn(a, b) < 1


def test_ssim_gfla_uses_win51_on_unit_floats():
    from skimage.metrics import structural_similarity
    a = _rand_image(64, 64, seed=3)
    b = _rand_image(64, 64, seed=4)
    # float32, as GFLA's script reads its PNGs (imread(...).astype(np.float32) / 255).
    ref = structural_similarity(a.astype(np.float32) / 255.0, b.astype(np.float32) / 255.0, data_range=1,
                                win_size=51, channel_axis=-1)
    assert ssim_gfla(a, b) == pytest.approx(ref)
    assert ssim_gfla(a, a) == pytest.approx(1.0)


# ----------------------------------------------------------------------------- Mask-SSIM

def test_body_mask_covers_limbs_not_corners():
    kp = standing_pose()
    m = body_mask(kp, 256, 256)
    assert m.dtype == bool and m.shape == (256, 256)
    for a, b in [(1, 2), (2, 3), (3, 4), (8, 9), (9, 10), (1, 8)]:  # points along limbs
        for t in (0.0, 0.5, 1.0):
            x, y = kp[a] * (1 - t) + kp[b] * t
            assert m[int(round(y)), int(round(x))], (a, b, t)
    # torso centre, between the hips and the shoulders
    assert m[110, 128]
    for y, x in [(0, 0), (0, 255), (255, 0), (255, 255), (5, 5), (128, 10), (128, 245)]:
        assert not m[y, x]
    assert 0.08 < m.mean() < 0.5


def test_body_mask_scales_with_height_and_ignores_missing():
    kp = standing_pose(128)
    kp[[JOINT_INDEX["l_wrist"], JOINT_INDEX["l_elbow"]]] = np.nan
    m_small = body_mask(standing_pose(128), 128, 128)
    m_big = body_mask(standing_pose(256), 256, 256)
    assert m_small.mean() == pytest.approx(m_big.mean(), rel=0.1)  # same coverage at half the size
    m_missing = body_mask(kp, 128, 128)
    assert m_missing.sum() < m_small.sum()
    x, y = standing_pose(128)[JOINT_INDEX["l_wrist"]]
    assert not m_missing[int(y) + 6, int(x) + 6]
    assert not body_mask(np.full((NUM_JOINTS, 2), np.nan, np.float32), 64, 64).any()


def test_mask_ssim_identical_is_one_and_ignores_background():
    a = _rand_image(256, 256, seed=5)
    m = body_mask(standing_pose(), 256, 256)
    assert mask_ssim(a, a, m) == pytest.approx(1.0)
    b = a.copy()
    b[~m] = 255 - b[~m]  # change only the background: far from the body it does not matter
    assert mask_ssim(a, b, m) > 0.95
    assert ssim_patn(a, b) < 0.5


# ----------------------------------------------------------------------------- PCKh

def test_head_box_is_patn_box_of_head_joints():
    kp = standing_pose()
    # nose (128, 40), neck (128, 70), eyes y 34, ears x 114..142, y 38
    assert head_box(kp) == pytest.approx((28.0, 36.0))
    only_one = np.full((NUM_JOINTS, 2), np.nan, np.float32)
    only_one[0] = (10, 10)
    assert head_box(only_one) is None


def test_pckh_all_exact_is_one():
    kp = standing_pose()
    r = pckh([kp, kp], [kp, kp])
    assert r["value"] == 1.0 and r["counted"] == 36
    assert all(v == 1.0 for v in r["per_joint"].values())


def test_pckh_joint_off_by_more_than_half_head_is_wrong():
    kp = standing_pose()
    w, h = head_box(kp)
    det = kp.copy()
    det[JOINT_INDEX["r_wrist"], 0] += 0.5 * w + 0.5   # beyond the threshold in x
    det[JOINT_INDEX["l_wrist"], 1] += 0.5 * h - 0.5   # within the threshold in y
    correct, counted = pckh_joints(det, kp)
    assert counted.all()
    assert not correct[JOINT_INDEX["r_wrist"]] and correct[JOINT_INDEX["l_wrist"]]
    r = pckh([det], [kp])
    assert r["value"] == pytest.approx(17 / 18)
    assert r["per_joint"]["r_wrist"] == 0.0 and r["per_joint"]["l_wrist"] == 1.0


def test_pckh_missing_target_ignored_missing_detection_wrong():
    kp = standing_pose()
    tgt = kp.copy()
    tgt[JOINT_INDEX["r_ankle"]] = np.nan
    tgt[JOINT_INDEX["l_ankle"]] = np.nan
    det = kp.copy()
    det[JOINT_INDEX["r_ankle"]] = (0, 0)  # anything where the target is missing: ignored
    det[JOINT_INDEX["l_knee"]] = np.nan   # not detected: wrong
    r = pckh([det], [tgt])
    assert r["counted"] == 16 and r["correct"] == 15
    assert r["per_joint"]["r_ankle"] is None and r["per_joint"]["l_knee"] == 0.0
    # a target without a head box is skipped and counted
    headless = np.full((NUM_JOINTS, 2), np.nan, np.float32)
    headless[2:14] = kp[2:14]
    r2 = pckh([kp, kp], [tgt, headless])
    assert r2["pairs_without_head"] == 1 and r2["counted"] == 16


# ----------------------------------------------------------------------------- registry and skips

def test_registry_lists_all_and_skips_with_reasons(tmp_path):
    assert {"ssim", "ssim_gfla", "ssim_256", "ssim_256_pidm", "mask_ssim", "pckh", "fid", "fid_tf", "kid", "lpips",
            "is"} <= set(list_metrics())
    opts = MetricOptions()
    for name, words in [("pckh", "detector"), ("lpips", "LPIPS weights"), ("is", "Inception Score")]:
        with pytest.raises(MetricSkipped, match=words):
            create_metric(name, opts)
    with pytest.raises(MetricSkipped, match="not found"):
        create_metric("lpips", MetricOptions(lpips_weights=str(tmp_path / "nope.pth")))
    with pytest.raises(MetricSkipped, match="not found"):
        create_metric("fid_tf", MetricOptions(fid_torchscript=str(tmp_path / "nope.pt")))
    with pytest.raises(MetricSkipped, match="inception-weights"):
        create_metric("fid", opts)
    with pytest.raises(ValueError, match="unknown metric"):
        create_metric("nope", opts)


# ----------------------------------------------------------------------------- LPIPS and IS

def test_lpips_loader_torchvision_and_lpips_layouts(tmp_path):
    from poseshift.metrics.lpips import LPIPS, load_lpips
    torch.manual_seed(0)
    ref = LPIPS().eval()
    sd = ref.state_dict()
    backbone = {}
    for k, v in sd.items():  # torchvision layout: net.sliceK.N.weight -> features.N.weight
        if k.startswith("net."):
            backbone["features." + k.split(".", 2)[2]] = v
    backbone["classifier.1.weight"] = torch.zeros(4, 4)  # ignored
    lins = {k: v.abs() for k, v in sd.items() if k.startswith("lin")}
    torch.save(backbone, tmp_path / "alexnet.pth")
    torch.save({k.replace("lin", "lins.", 1): v for k, v in lins.items()}, tmp_path / "alex_lins.pth")
    model = load_lpips([tmp_path / "alexnet.pth", tmp_path / "alex_lins.pth"])
    x0 = torch.rand(2, 3, 64, 64) * 2 - 1
    x1 = torch.rand(2, 3, 64, 64) * 2 - 1
    ref.load_state_dict(dict(sd, **lins))
    with torch.no_grad():
        assert torch.allclose(model(x0, x1), ref(x0, x1))
        assert torch.allclose(model(x0, x0), torch.zeros(2), atol=1e-6)
        assert (model(x0, x1) > 0).all()
    torch.save(backbone, tmp_path / "only_backbone.pth")
    with pytest.raises(MetricSkipped, match="lin0.model.1.weight"):
        load_lpips(tmp_path / "only_backbone.pth")


def test_inception_score_from_probs_and_metric(tmp_path):
    from poseshift.metrics.inception_score import inception_score_from_probs
    uniform = np.full((20, 10), 0.1)
    assert inception_score_from_probs(uniform, 2)["value"] == pytest.approx(1.0)
    onehot = np.eye(10)[np.arange(20) % 10]
    assert inception_score_from_probs(onehot, 1)["value"] == pytest.approx(10.0, rel=1e-6)

    class Net(torch.nn.Module):
        def forward(self, x):
            return x.mean(dim=(2, 3)) * 10

    path = tmp_path / "cls.pt"
    torch.jit.script(Net()).save(str(path))
    m = create_metric("is", MetricOptions(is_weights=str(path), is_splits=1))
    from poseshift.metrics import PairSample
    ims = [_rand_image(32, 32, seed=i) for i in range(4)]
    m.update([PairSample(i, "a", "b", None, im, im) for i, im in enumerate(ims)])
    r = m.result()
    assert m.n == 4 and r["value"] >= 1.0


def _peer_pair(tmp_path, w=176, h=256):
    """Two images written to PNG and read back, as the peers' scripts read theirs."""
    from PIL import Image

    rng = np.random.default_rng(7)
    a = rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8)
    a = np.asarray(Image.fromarray(a).resize((w, h), Image.BICUBIC))
    b = np.clip(a.astype(int) + rng.integers(-40, 40, a.shape), 0, 255).astype(np.uint8)
    for name, im in (("gt.png", a), ("gen.png", b)):
        Image.fromarray(im).save(tmp_path / name)
    return (np.asarray(Image.open(tmp_path / "gt.png")), np.asarray(Image.open(tmp_path / "gen.png")))


def test_each_ssim_protocol_equals_its_reference_call(tmp_path):
    from skimage.metrics import structural_similarity as sk

    from poseshift.metrics.ssim import ssim_256

    gt, gen = _peer_pair(tmp_path)
    # PATN (tool/getMetrics_fashion.py): addBounding pads 40 white columns each side, uint8, sigma 1.5.
    def bound(im):
        out = np.ones((im.shape[0], im.shape[1] + 80, 3)) * 255
        out = out.astype(np.uint8)
        out[:, 40:40 + im.shape[1]] = im
        return out
    g, p = bound(gt), bound(gen)
    patn = sk(g, p, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, channel_axis=-1,
              data_range=p.max() - p.min())
    assert ssim_patn(gt, gen) == patn
    # GFLA / DPTN / CFLD ssim: float32 in [0, 1], data_range 1, win_size 51, unpadded.
    a, b = gt.astype(np.float32) / 255.0, gen.astype(np.float32) / 255.0
    assert ssim_gfla(gt, gen) == sk(a, b, data_range=1, win_size=51, channel_axis=-1)
    # Their SSIM_256 (sigma 1.5) and PIDM's (sigma 1.2): float32 [0, 255], PATN's arguments.
    for sigma in (1.5, 1.2):
        ref = sk(a * 255.0, b * 255.0, gaussian_weights=True, sigma=sigma, use_sample_covariance=False,
                 channel_axis=-1, data_range=(b * 255.0).max() - (b * 255.0).min())
        assert ssim_256(gt, gen, sigma) == ref
    assert ssim_256(gt, gen, 1.2) != ssim_256(gt, gen, 1.5)
    assert len({ssim_patn(gt, gen), ssim_gfla(gt, gen), ssim_256(gt, gen)}) == 3  # four protocols, four numbers


def test_every_ssim_protocol_is_registered_with_its_settings():
    from poseshift.metrics import create_metric, list_metrics
    from poseshift.metrics.registry import MetricOptions

    for name in ("ssim", "ssim_gfla", "ssim_256", "ssim_256_pidm"):
        assert name in list_metrics()
        settings = create_metric(name, MetricOptions()).settings
        assert settings["protocol"] and settings["call"] and settings["input"]
    assert "sigma=1.2" in create_metric("ssim_256_pidm", MetricOptions()).settings["call"]
