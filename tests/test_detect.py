"""poseshift.detect: the MediaPipe 33 -> COCO-18 mapping, detection files, real photos."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from poseshift.detect import MP_TO_COCO18, landmarks_to_coco18, write_detections
from poseshift.pose.schema import JOINT_INDEX


def _landmarks(w=200, h=300, vis=0.9):
    """33 distinct in-frame landmarks (x px, y px, z, visibility)."""
    rng = np.random.default_rng(0)
    lm = np.zeros((33, 4))
    lm[:, 0] = rng.uniform(10, w - 10, 33)
    lm[:, 1] = rng.uniform(10, h - 10, 33)
    lm[:, 3] = vis
    return lm


def test_plain_mapping_and_neck():
    lm = _landmarks()
    kp = landmarks_to_coco18(lm, 200, 300)
    assert kp.shape == (18, 2) and kp.dtype == np.float32
    for j, m in enumerate(MP_TO_COCO18):
        if m is not None:
            np.testing.assert_allclose(kp[j], lm[m, :2], atol=1e-4)
    np.testing.assert_allclose(kp[1], (lm[11, :2] + lm[12, :2]) / 2, atol=1e-4)
    # MediaPipe's right (12, 14, 16, 24, ...) is the person's right, as in COCO-18.
    assert MP_TO_COCO18[JOINT_INDEX["r_shoulder"]] == 12 and MP_TO_COCO18[JOINT_INDEX["l_shoulder"]] == 11
    assert MP_TO_COCO18[JOINT_INDEX["r_ear"]] == 8 and MP_TO_COCO18[JOINT_INDEX["l_eye"]] == 2


def test_visibility_thresholds():
    lm = _landmarks()
    lm[0, 3] = 0.5          # nose: visibility <= 0.5 -> missing
    lm[16, 3] = 0.3         # right wrist: a limb, kept above limb_visibility=0.2
    lm[24, 3] = 0.3         # right hip: trunk, needs > 0.5
    kp = landmarks_to_coco18(lm, 200, 300)
    assert np.isnan(kp[0]).all()
    assert np.isfinite(kp[JOINT_INDEX["r_wrist"]]).all()
    assert np.isnan(kp[JOINT_INDEX["r_hip"]]).all()
    plain = landmarks_to_coco18(lm, 200, 300, visibility=0.5, limb_visibility=0.5, border=0)
    assert np.isnan(plain[JOINT_INDEX["r_wrist"]]).all()


def test_neck_needs_both_shoulders():
    lm = _landmarks()
    lm[11, 3] = 0.1
    kp = landmarks_to_coco18(lm, 200, 300)
    assert np.isnan(kp[1]).all() and np.isnan(kp[5]).all() and np.isfinite(kp[2]).all()


def test_outside_frame_border_clamp():
    lm = _landmarks(w=200, h=300)
    lm[26, :2] = (100, 305)   # right knee 6 px below a 300-px frame: within 5 % -> clamped
    lm[25, :2] = (100, 340)   # left knee 40 px below: missing
    lm[28, :2] = (-3, 100)    # right ankle just left of the frame: clamped to x=0
    kp = landmarks_to_coco18(lm, 200, 300)
    np.testing.assert_allclose(kp[JOINT_INDEX["r_knee"]], (100, 299))
    assert np.isnan(kp[JOINT_INDEX["l_knee"]]).all()
    np.testing.assert_allclose(kp[JOINT_INDEX["r_ankle"]], (0, 100))
    plain = landmarks_to_coco18(lm, 200, 300, border=0)
    assert np.isnan(plain[JOINT_INDEX["r_knee"]]).all() and np.isnan(plain[JOINT_INDEX["r_ankle"]]).all()


def test_bad_landmarks_shape():
    with pytest.raises(ValueError, match="33"):
        landmarks_to_coco18(np.zeros((17, 4)), 10, 10)


def test_write_detections_csv_and_json(tmp_path):
    from poseshift.pose.keypoints_io import read_annotations_csv
    kp = np.full((18, 2), np.nan, np.float32)
    kp[0] = (10.4, 20.6)
    kp[5] = (3, 4)
    write_detections(tmp_path / "d.csv", {"a.png": kp})
    back = read_annotations_csv(tmp_path / "d.csv")["a.png"]
    np.testing.assert_allclose(back[0], (10, 21))
    assert np.isnan(back[1]).all()
    write_detections(tmp_path / "d.json", {"a.png": kp})
    obj = json.loads((tmp_path / "d.json").read_text())
    assert obj["a.png"][0] == [10.4, 20.6] and obj["a.png"][1] is None and len(obj["a.png"]) == 18
    with pytest.raises(ValueError, match="csv or .json"):
        write_detections(tmp_path / "d.txt", {"a.png": kp})


VIEWS = ("1front", "2side", "3back", "4full")


def _real_names(root, k=2):
    from poseshift.pose.keypoints_io import read_annotations_csv
    ann = read_annotations_csv(root / "deepfashion-mini" / "annotations.csv")
    picked = []
    for view in VIEWS:
        picked += [n for n in ann if n.endswith(view + ".jpg")][:k]
    return ann, picked


def test_detect_real_photos(shared_data, tmp_path):
    pytest.importorskip("mediapipe")
    from poseshift.detect import PoseDetector, detect_paths
    from poseshift.images import read_image
    from poseshift.metrics.pckh import pckh
    ann, names = _real_names(shared_data)
    paths = []
    for n in names:
        src = shared_data / "deepfashion-mini" / "images" / n.replace(".jpg", ".png")
        paths.append(Path(shutil.copy(src, tmp_path / src.name)))
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with PoseDetector() as det:
        found, failures = detect_paths(paths + [tmp_path / "broken.png"], progress=False, detector=det)
        assert set(failures) == {"broken.png"} and "not a readable image" in failures["broken.png"]
        assert len(found) == len(names)
        r = pckh([found[n.replace(".jpg", ".png")] for n in names], [ann[n] for n in names])
        assert r["value"] >= 0.85, r
        # the person mask covers the neck and not the white corner
        image = read_image(paths[0])
        mask = det.segment(image)
        assert mask.shape == image.shape[:2] and mask.dtype == bool
        x, y = np.rint(found[paths[0].name][1]).astype(int)
        assert mask[y, x] and not mask[0, 0]
        # any size, grey and tiny images work and give the image's own pixels
        small = image[::4, ::4]
        kp = det(small)
        assert kp.shape == (18, 2)
        ok = np.isfinite(kp).all(1)
        assert (kp[ok] >= 0).all() and (kp[ok, 0] <= small.shape[1] - 1).all()
        assert det(image[..., 0]).shape == (18, 2)
        assert np.isnan(det(np.full((64, 64, 3), 255, np.uint8))).all()


def test_mediapipe_native_log_lines_stay_hidden(capfd):
    """MediaPipe's graphs log from worker threads once started (TensorFlow Lite's XNNPACK line,
    inference_feedback_manager.cc): none of it reaches stderr, for pose or segmentation, even
    well after the detector was made (poseshift pose on unreadable files, evaluate --quiet)."""
    import time

    pytest.importorskip("mediapipe")
    from poseshift.detect import PoseDetector

    capfd.readouterr()
    with PoseDetector() as detector:
        time.sleep(0.5)  # the graph's threads have opened every calculator by now
        blank = np.full((48, 32, 3), 200, np.uint8)
        assert np.isnan(detector(blank)).all()
        assert detector.segment(blank).shape == (48, 32)
        time.sleep(0.5)
    err = capfd.readouterr().err
    for noise in ("inference_feedback_manager", "XNNPACK", "absl", "W0000", "I0000"):
        assert noise not in err, err


def _pasted(shared_data, names, boxes, frame=(1200, 2400)):
    """Real photos resized into ``boxes`` (x, y, side) of a white ``frame``, and their annotations
    moved with them."""
    from PIL import Image

    from poseshift.images import read_image
    from poseshift.pose.keypoints_io import read_annotations_csv
    ann = read_annotations_csv(shared_data / "deepfashion-mini" / "annotations.csv")
    canvas = np.full((*frame, 3), 255, np.uint8)
    truths = []
    for n, (x, y, side) in zip(names, boxes):
        img = read_image(shared_data / "deepfashion-mini" / "images" / n.replace(".jpg", ".png"))
        canvas[y:y + side, x:x + side] = np.asarray(Image.fromarray(img).resize((side, side), Image.BICUBIC))
        truths.append(ann[n] * side / img.shape[0] + np.array([x, y], dtype=np.float32))
    return canvas, truths


def test_a_person_a_third_of_the_frame_high_is_found_where_they_stand(shared_data):
    pytest.importorskip("mediapipe")
    from poseshift.detect import PoseDetector
    from poseshift.metrics.pckh import pckh
    _, names = _real_names(shared_data)
    with PoseDetector() as det:
        found, truths = [], []
        for i, n in enumerate(names[:4]):
            canvas, (truth,) = _pasted(shared_data, [n], [(300 + 500 * i, 700 - 150 * (i % 2), 400)])
            found.append(det(canvas))
            truths.append(truth)
        assert pckh(found, truths)["value"] >= 0.8
        # Two people, neither found by the whole frame's pass: the crops find both, largest first.
        canvas, (big, small) = _pasted(shared_data, names[:2], [(1500, 600, 420), (200, 700, 300)])
        people = det.people_in_crops(canvas)
        assert len(people) >= 2
        centre = people[0][11:25, :2].mean(0)
        assert abs(centre[0] - np.nanmean(big[:, 0])) < 80
        # A blank frame has nobody in it, crops and all.
        assert det.people_in_crops(np.full((300, 600, 3), 255, np.uint8)) == []
