"""Faces: the face metrics find a real face and lose it in a blank render; the head moves as one
piece fitted to its keypoints; a three-quarter view keeps its face and a back view gets hair; and
a trained warping G leaves the warp's head and well-covered pixels as they are."""
import math

import numpy as np
import pytest
import torch

from poseshift.metrics import MetricOptions, PairSample, create_metric
from poseshift.metrics.face import head_crop, head_ssim
from poseshift.nets import build_generator
from poseshift.nets.flow_generator import flow_answer
from poseshift.nets.warping import FIELD_BOUND, HEAD_FROM, KEEP_AT, Guard
from poseshift.pose.heatmaps import belief_maps
from poseshift.warp import HEAD_PART, PARTS, part_warp, pose_mask
from poseshift.warp.geometry import FACE, HEAD_FIT, head_similarity, present
from tests.helpers import micro_config
from tests.test_warp import S, back_view, standing, textured

pytest.importorskip("skimage")


# -- the metrics

def test_head_crop_is_the_square_around_the_head_keypoints():
    kp = standing().numpy()
    x0, y0, x1, y1 = head_crop(kp, S, S)
    pts = kp[[0, 1, 14, 15, 16, 17]]
    cx, cy = pts.mean(0)
    half = 0.75 * (pts.max(0) - pts.min(0)).max() + 8
    assert (x0, y0, x1, y1) == (round(cx - half), max(0, round(cy - half)), round(cx + half), round(cy + half))
    no_neck = kp.copy()
    no_neck[1] = np.nan
    one_face_joint = kp.copy()
    one_face_joint[[14, 15, 16, 17]] = np.nan
    assert head_crop(no_neck, S, S) is None and head_crop(one_face_joint, S, S) is None


def test_head_ssim_is_one_for_the_truth_and_falls_with_damage_to_the_head():
    rng = np.random.default_rng(0)
    truth = (rng.random((S, S, 3)) * 255).astype(np.uint8)
    kp = standing().numpy()
    assert head_ssim(truth, truth, kp) == pytest.approx(1.0)
    damaged = truth.copy()
    damaged[:8] = 0                                             # the top of the head
    blank = np.zeros_like(truth)
    assert 0.0 < head_ssim(truth, blank, kp) < head_ssim(truth, damaged, kp) < 1.0
    body_only = truth.copy()
    body_only[40:] = 0                                          # below the head crop: no change
    assert head_ssim(truth, body_only, kp) == pytest.approx(1.0)


def test_face_found_counts_the_truths_faces_the_render_keeps(shared_data):
    from poseshift.images import read_image

    root = shared_data / "deepfashion-mini" / "images"
    names = ["fashionMENJackets_Vestsid0000065304_1front", "fashionMENJackets_Vestsid0000065304_3back"]
    front, back = (read_image(root / f"{n}.png") for n in names)
    metric = create_metric("face_found", MetricOptions())
    blank = np.full_like(front, 255)
    samples = [PairSample(0, "a", "b", None, front, front), PairSample(1, "a", "b", None, front, blank),
               PairSample(2, "a", "b", None, back, front)]       # the truth shows no face: not counted
    metric.update(samples)
    r = metric.result()
    assert r["truth_shows_face"] == 2 and r["found"] == 1 and r["value"] == 0.5 and r["lost_pairs"] == [1]


# -- the head as one piece

def tilted_head(kp: torch.Tensor, degrees: float) -> torch.Tensor:
    """The head tilted about the face's centre, the neck where it was (a person tilting the head)."""
    out = kp.clone()
    face = list(FACE)
    c = kp[face].mean(0)
    a = math.radians(degrees)
    rot = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    out[face] = (kp[face] - c) @ rot.T + c
    return out


def test_the_head_transform_maps_the_sources_head_keypoints_onto_the_targets():
    tgt = standing() * 4                                           # a 256-px person
    src = tilted_head(tgt, 18) + torch.tensor([6.0, 3.0])
    m, t, ok = head_similarity(src[None], tgt[None], present(src[None]), present(tgt[None]), torch.ones(1))
    assert ok.item()
    mapped = tgt[None] @ m.transpose(1, 2) + t[:, None]            # target -> source
    err = (mapped[0] - src).norm(dim=-1)
    assert err[list(FACE)].max() < 3.0                              # pixels, at 256 px
    assert err[list(HEAD_FIT)].max() < 5.0                          # the neck did not tilt with the face


# -- facing decided from the head

def test_a_three_quarter_view_keeps_its_face_and_a_back_view_gets_hair():
    # Source: a frontal head, green hair above the brows (rows < 8), a red face from the eyes down.
    kp_s = standing()
    img = torch.zeros(1, 3, S, S)
    img[0, 1, :8] = 1.0
    img[0, 0, 9:16] = 1.0
    sil = pose_mask(kp_s[None], S, S)
    # Looking back over the shoulder: the body shows its back (shoulders swapped), the face all
    # of its joints: the head is seen from the front and keeps its face.
    over = back_view()
    over[[0, 14, 15]] = standing()[[0, 14, 15]]
    r = part_warp(img, kp_s[None], over[None], sil, torch.zeros_like(img))
    assert (r.warped[0, 0, 9:14, 29:36] > 0.5).float().mean() > 0.8
    # Seen from behind (no nose, no eyes): the head shows the source's hair.
    r = part_warp(img, kp_s[None], back_view()[None], sil, torch.zeros_like(img))
    head = (r.masks[0, PARTS.index("head")] > 0.5) & (r.union[0, 0] > 0.5)
    head[16:] = False
    assert r.warped[0, 1][head].mean() > 0.5 and (r.warped[0, 0][head] > 0.3).float().mean() < 0.1


# -- no harm

def trained_flow_g():
    """A flow G whose last layer is far from its zero start: large field shifts, coverage and fill."""
    torch.manual_seed(0)
    g = build_generator(micro_config("model.g_arch=flow", "model.image_size=64")).eval()
    with torch.no_grad():
        g.trunk.net[-1].weight.normal_(0, 0.5)
        g.trunk.net[-1].bias.normal_(0, 3.0)
    return g


def test_a_trained_g_keeps_the_warps_head_where_the_source_shows_the_face():
    g = trained_flow_g()
    img, src, tgt = textured(), standing()[None], standing(4)[None]
    with torch.no_grad():
        out = g(img, belief_maps(tgt, S, S, 3.0), src, tgt)
        warp = part_warp(img, src, tgt)
    head = warp.masks[0, HEAD_PART] >= HEAD_FROM
    assert head.sum() > 30
    assert torch.allclose(out[0][:, head], warp.warped[0][:, head], atol=1e-5)
    assert not torch.allclose(out, warp.warped, atol=0.05)        # elsewhere it does change the render


def test_the_guard_keeps_covered_pixels_bounds_the_field_and_fills_only_the_uncovered():
    img, src, tgt = textured(), standing()[None], standing(4)[None]
    warp = part_warp(img, src, tgt)
    g = Guard(warp)
    zero2, zero1, zero3 = torch.zeros(1, 2, S, S), torch.zeros(1, 1, S, S), torch.zeros(1, 3, S, S)
    # Coverage and fill answers, however large, leave the covered pixels as the warp has them.
    out = flow_answer(img, warp, zero2, zero1 + 20, zero3 + 20)
    covered = warp.union[0, 0] >= KEEP_AT
    assert covered.sum() > 200
    assert torch.allclose(out[0][:, covered], warp.warped[0][:, covered], atol=1e-5)
    # The fill reaches only pixels the warp does not cover.
    out = flow_answer(img, warp, zero2, zero1, zero3 + 20)
    changed = (out - warp.warped).abs().amax(1)[0] > 1e-3
    assert changed.any() and (g.fill[0, 0][changed] > 0).all()
    far = warp.body[0, 0] < 1e-5                                   # the photo's own background, away from the body
    assert far.sum() > 100 and not changed[far].any()
    # The coverage answer moves the outline inside the body only: it reveals nothing elsewhere.
    out = flow_answer(img, warp, zero2, zero1 + 20, zero3)
    changed = (out - warp.warped).abs().amax(1)[0] > 1e-3
    assert changed.any() and not changed[far].any() and (g.body[0, 0][changed] > 0).all()
    # A field shift past the bound moves pixels no further than the bound.
    bound = FIELD_BOUND * S * 2 / (S - 1)
    far = flow_answer(img, warp, zero2 + 5.0, zero1, zero3)
    at_bound = flow_answer(img, warp, zero2 + bound, zero1, zero3)
    assert torch.allclose(far, at_bound, atol=1e-5) and not torch.allclose(at_bound, warp.warped, atol=1e-3)
