"""Skeleton drawings."""
from __future__ import annotations

import numpy as np
import pytest

from poseshift.pose.draw import draw_skeleton
from poseshift.pose.schema import JOINT_INDEX, LIMB_COLORS, LIMBS


def limb_color(a: str, b: str) -> tuple[int, int, int]:
    return LIMB_COLORS[LIMBS.index((JOINT_INDEX[a], JOINT_INDEX[b]))]


def arm_pose() -> np.ndarray:
    kp = np.full((18, 2), np.nan, np.float32)
    kp[JOINT_INDEX["r_shoulder"]] = (10, 40)
    kp[JOINT_INDEX["r_elbow"]] = (50, 40)      # horizontal upper arm
    kp[JOINT_INDEX["l_elbow"]] = (50, 100)     # l_shoulder missing: its limbs are not drawn
    return kp


@pytest.mark.parametrize("h, w", [(128, 128), (256, 256), (128, 64)])
def test_limb_colour_at_midpoint_and_background_elsewhere(h, w):
    out = draw_skeleton(arm_pose(), h, w)
    assert out.shape == (h, w, 3) and out.dtype == np.uint8
    assert tuple(out[40, 30]) == limb_color("r_shoulder", "r_elbow")
    assert tuple(out[70, 30]) == (0, 0, 0)                 # nothing drawn there
    assert tuple(out[h - 1, w - 1]) == (0, 0, 0)


def test_limb_to_missing_joint_not_drawn():
    out = draw_skeleton(arm_pose(), 128, 128, radius=0)
    # l_shoulder -> l_elbow would pass through here; l_elbow alone gets no line and no disc (radius=0)
    assert (out[100, :40] == 0).all()
    assert (out[60:, :] == 0).all()
    assert not any((tuple(px) == limb_color("l_shoulder", "l_elbow")) for px in out.reshape(-1, 3))


def test_joint_disc_drawn_for_lone_joint():
    out = draw_skeleton(arm_pose(), 128, 128)
    assert out[100, 50].any()            # l_elbow disc
    assert not out[100, 60].any()


def test_background_is_kept_and_not_modified():
    rng = np.random.default_rng(0)
    bg = rng.integers(0, 256, size=(96, 80, 3), dtype=np.uint8)
    before = bg.copy()
    out = draw_skeleton(arm_pose(), 96, 80, background=bg)
    np.testing.assert_array_equal(bg, before)
    assert tuple(out[40, 30]) == limb_color("r_shoulder", "r_elbow")
    changed = (out != bg).any(-1)
    assert changed.sum() > 0
    assert not changed[50:90, :].any()    # between the upper arm and the l_elbow disc
    np.testing.assert_array_equal(out[70:90, 0:30], bg[70:90, 0:30])


def test_line_width_scales_with_size():
    def drawn_rows(size: int) -> int:
        kp = np.full((18, 2), np.nan, np.float32)
        kp[JOINT_INDEX["neck"]] = (size * 0.1, size * 0.5)
        kp[JOINT_INDEX["r_shoulder"]] = (size * 0.9, size * 0.5)
        out = draw_skeleton(kp, size, size, radius=0)
        return int(out[:, size // 2].any(-1).sum())
    assert 2 <= drawn_rows(64) < drawn_rows(256)


def test_empty_pose_is_background():
    kp = np.full((18, 2), np.nan, np.float32)
    assert not draw_skeleton(kp, 64, 64).any()
