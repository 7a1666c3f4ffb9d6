"""Keypoint files: annotation CSV, OpenPose JSON (COCO-18 and BODY_25), plain JSON."""
from __future__ import annotations

import json

import numpy as np
import pytest

from poseshift.pose.keypoints_io import (
    CSV_HEADER,
    KeypointFormatError,
    read_annotations_csv,
    read_keypoints,
    read_named_poses,
    read_openpose_json,
    write_annotations_csv,
    write_keypoints,
    write_keypoints_json,
    write_openpose_json,
)
from poseshift.pose.schema import BODY25_TO_COCO18, JOINT_INDEX, NUM_JOINTS


def random_pose(rng: np.random.Generator, n_missing: int = 4, size: int = 256) -> np.ndarray:
    kp = rng.integers(0, size, size=(NUM_JOINTS, 2)).astype(np.float32)
    kp[rng.choice(NUM_JOINTS, n_missing, replace=False)] = np.nan
    return kp


def assert_same_pose(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape == (NUM_JOINTS, 2) and a.dtype == b.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_array_equal(np.nan_to_num(a, nan=-7), np.nan_to_num(b, nan=-7))


# ----------------------------------------------------------------------------- annotation CSV

def test_annotation_csv_known_row_is_y_first(tmp_path):
    ys = list(range(100, 118))
    xs = list(range(10, 28))
    ys[3] = xs[3] = -1
    p = tmp_path / "a.csv"
    p.write_text(f"{CSV_HEADER}\nimg1.jpg: {ys}: {xs}\n")
    kp = read_annotations_csv(p)["img1.jpg"]
    assert kp.dtype == np.float32 and kp.shape == (18, 2)
    assert kp[0].tolist() == [10.0, 100.0]          # (x, y) in memory
    assert kp[17].tolist() == [27.0, 117.0]
    assert np.isnan(kp[3]).all()
    assert np.isfinite(np.delete(kp, 3, axis=0)).all()


def test_annotation_csv_round_trip_several_rows(tmp_path):
    rng = np.random.default_rng(1)
    names = [f"fashion{i:03d}_front.jpg" for i in (5, 1, 9, 3)]   # not sorted: order must be kept
    mapping = {n: random_pose(rng, n_missing=k) for n, k in zip(names, (0, 3, 18, 7))}
    p = tmp_path / "annotations.csv"
    write_annotations_csv(p, mapping)
    text = p.read_text()
    assert text.splitlines()[0] == CSV_HEADER
    assert "-1" in text
    back = read_annotations_csv(p)
    assert list(back) == names
    for n in names:
        assert_same_pose(back[n], mapping[n])
    # written again, byte-identical
    p2 = tmp_path / "again.csv"
    write_annotations_csv(p2, back)
    assert p2.read_bytes() == p.read_bytes()


def test_annotation_csv_rounds_floats(tmp_path):
    kp = np.full((18, 2), np.nan, np.float32)
    kp[0] = (10.4, 20.6)
    p = tmp_path / "r.csv"
    write_annotations_csv(p, {"x.jpg": kp})
    assert read_annotations_csv(p)["x.jpg"][0].tolist() == [10.0, 21.0]


@pytest.mark.parametrize("row, what", [
    ("a.jpg: [1, 2, 3]: [" + ", ".join(["1"] * 18) + "]", "expected 18 y values, got 3"),
    ("a.jpg: [" + ", ".join(["1"] * 18) + "]: [" + ", ".join(["1"] * 17) + "]", "expected 18 x values, got 17"),
    ("a.jpg: [" + ", ".join(["q"] * 18) + "]: [" + ", ".join(["1"] * 18) + "]", "is not a number"),
    ("just some words", "expected 'name: [y...]: [x...]'"),
    ("a.jpg: 1, 2: 3", "expected a [...] list"),
])
def test_annotation_csv_malformed_names_file_and_line(tmp_path, row, what):
    p = tmp_path / "broken_annotations.csv"
    good = "ok.jpg: [" + ", ".join(["5"] * 18) + "]: [" + ", ".join(["6"] * 18) + "]"
    p.write_text(f"{CSV_HEADER}\n{good}\n{row}\n")
    with pytest.raises(KeypointFormatError) as e:
        read_annotations_csv(p)
    msg = str(e.value)
    assert "broken_annotations.csv" in msg and "line 3" in msg and what in msg
    assert "\n" not in msg


def test_annotation_csv_duplicate_name(tmp_path):
    row = "a.jpg: [" + ", ".join(["5"] * 18) + "]: [" + ", ".join(["6"] * 18) + "]"
    p = tmp_path / "dup.csv"
    p.write_text(f"{CSV_HEADER}\n{row}\n{row}\n")
    with pytest.raises(KeypointFormatError, match="dup.csv.*appears twice"):
        read_annotations_csv(p)


def test_real_annotation_csv_parses(shared_data, tmp_path):
    path = shared_data / "deepfashion-mini" / "annotations.csv"
    rows = read_annotations_csv(path)
    assert len(rows) == 301
    first = next(iter(rows))
    assert first == "fashionMENJackets_Vestsid0000065304_1front.jpg"
    kp = rows[first]
    # first row: y = [39, 82, ...], x = [144, 130, ...]; r_knee (9) is -1
    assert kp[0].tolist() == [144.0, 39.0] and kp[1].tolist() == [130.0, 82.0]
    assert np.isnan(kp[JOINT_INDEX["r_knee"]]).all()
    allkp = np.stack(list(rows.values()))
    present = allkp[~np.isnan(allkp)]
    assert present.min() >= 0 and present.max() <= 255      # 256x256 frame
    # the literature's file round-trips byte for byte through our writer
    out = tmp_path / "copy.csv"
    write_annotations_csv(out, rows)
    assert out.read_bytes() == path.read_bytes()


# ----------------------------------------------------------------------------- OpenPose JSON

def test_openpose_coco18_round_trip(tmp_path):
    kp = random_pose(np.random.default_rng(2), n_missing=5)
    kp[~np.isnan(kp)] += 0.25        # sub-pixel values survive JSON
    p = tmp_path / "pose_keypoints.json"
    write_openpose_json(p, kp)
    obj = json.loads(p.read_text())
    flat = obj["people"][0]["pose_keypoints_2d"]
    assert len(flat) == 54
    assert [flat[3 * i + 2] for i in range(18)] == [0.0 if np.isnan(kp[i, 0]) else 1.0 for i in range(18)]
    assert_same_pose(read_openpose_json(p), kp)
    assert_same_pose(read_keypoints(p), kp)


def test_openpose_body25_maps_to_coco18(tmp_path):
    flat = []
    for j in range(25):                 # x encodes the BODY_25 index, y = 100 + index
        flat += [float(j), 100.0 + j, 0.9]
    flat[3 * 4 + 2] = 0.0               # BODY_25 r_wrist (4) undetected
    p = tmp_path / "body25.json"
    p.write_text(json.dumps({"version": 1.3, "people": [{"pose_keypoints_2d": flat}, {"pose_keypoints_2d": [0] * 75}]}))
    kp = read_keypoints(p)
    assert kp.shape == (18, 2)
    xs = kp[:, 0]
    present_src = [int(v) for v in xs[~np.isnan(xs)]]
    assert 8 not in present_src                       # MidHip dropped
    assert not any(v >= 19 for v in present_src)      # feet dropped
    assert kp[JOINT_INDEX["r_hip"]].tolist() == [9.0, 109.0]
    assert kp[JOINT_INDEX["l_ear"]].tolist() == [18.0, 118.0]
    assert kp[JOINT_INDEX["nose"]].tolist() == [0.0, 100.0]
    assert np.isnan(kp[JOINT_INDEX["r_wrist"]]).all()
    expected = np.array(BODY25_TO_COCO18, dtype=np.float32)
    keep = ~np.isnan(xs)
    np.testing.assert_array_equal(xs[keep], expected[keep])


def test_openpose_no_people_is_all_missing(tmp_path, recwarn):
    p = tmp_path / "empty.json"
    p.write_text(json.dumps({"version": 1.3, "people": []}))
    kp = read_keypoints(p)
    assert kp.shape == (18, 2) and kp.dtype == np.float32 and np.isnan(kp).all()
    assert len(recwarn) == 0


def test_openpose_wrong_joint_count(tmp_path):
    p = tmp_path / "odd_openpose.json"
    p.write_text(json.dumps({"people": [{"pose_keypoints_2d": [1.0, 2.0, 1.0] * 17}]}))
    with pytest.raises(KeypointFormatError, match=r"odd_openpose\.json.*17 joints"):
        read_keypoints(p)


# ----------------------------------------------------------------------------- plain JSON

def test_plain_json_round_trip_with_nulls(tmp_path):
    kp = random_pose(np.random.default_rng(3), n_missing=6)
    first = int(np.flatnonzero(~np.isnan(kp[:, 0]))[0])
    kp[first] = (12.5, 33.3)             # not exact in float32: must still round-trip
    p = tmp_path / "pose.json"
    write_keypoints_json(p, kp)
    obj = json.loads(p.read_text())
    assert len(obj) == 18 and sum(v is None for v in obj) == 6
    assert_same_pose(read_keypoints(p), kp)


@pytest.mark.parametrize("content, what", [
    ([[1, 2]] * 17, "got 17 entries"),
    ([[1, 2]] * 17 + [[1, 2, 3]], "entry 17 must be [x, y] or null"),
    ([[1, 2]] * 17 + [["a", 2]], "entry 17 must be [x, y] or null"),
    ("hello", "unknown JSON shape"),
    ({"foo": 1}, "no 'people' list"),
])
def test_plain_json_bad_shapes(tmp_path, content, what):
    p = tmp_path / "weird_pose.json"
    p.write_text(json.dumps(content))
    with pytest.raises(KeypointFormatError) as e:
        read_keypoints(p)
    assert "weird_pose.json" in str(e.value) and what in str(e.value)


def test_invalid_json_text(tmp_path):
    p = tmp_path / "trunc.json"
    p.write_text('[[1, 2], [3,')
    with pytest.raises(KeypointFormatError, match=r"trunc\.json: invalid JSON at line 1"):
        read_keypoints(p)


# ----------------------------------------------------------------------------- dispatch

def test_read_write_keypoints_dispatch(tmp_path):
    kp = random_pose(np.random.default_rng(4), n_missing=2)
    write_keypoints(tmp_path / "target_pose.csv", kp)
    rows = read_annotations_csv(tmp_path / "target_pose.csv")
    assert list(rows) == ["target_pose.jpg"]
    assert_same_pose(read_keypoints(tmp_path / "target_pose.csv"), kp)
    write_keypoints(tmp_path / "target_pose.json", kp)
    assert isinstance(json.loads((tmp_path / "target_pose.json").read_text()), list)
    assert_same_pose(read_keypoints(tmp_path / "target_pose.json"), kp)


def test_multi_row_csv_needs_a_name(tmp_path):
    rng = np.random.default_rng(5)
    poses = {"a.jpg": random_pose(rng), "b.jpg": random_pose(rng)}
    p = tmp_path / "many.csv"
    write_annotations_csv(p, poses)
    with pytest.raises(KeypointFormatError, match=r"many\.csv: annotation CSV has 2 rows; name the one"):
        read_keypoints(p)
    assert_same_pose(read_keypoints(p, name="b.jpg"), poses["b.jpg"])
    with pytest.raises(KeypointFormatError, match="no row named 'c.jpg'"):
        read_keypoints(p, name="c.jpg")


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.json"):
        read_keypoints(tmp_path / "nowhere.json")
    with pytest.raises(FileNotFoundError, match="nowhere.csv"):
        read_keypoints(tmp_path / "nowhere.csv")
    p = tmp_path / "pose.txt"
    p.write_text("[]")
    with pytest.raises(KeypointFormatError, match=r"pose\.txt: unknown keypoint file extension '\.txt'"):
        read_keypoints(p)


def test_a_file_naming_each_photo_serves_it_by_name_or_stem(tmp_path):
    """transfer --source-pose with a folder: an annotation CSV or poseshift pose JSON naming each
    photo, read once; a row named x.jpg serves the photo x.png, in both formats."""
    from poseshift.pose.keypoints_io import pick_row, read_keypoints, read_named_poses

    a = np.stack([np.arange(18), np.arange(18) + 1], 1).astype(np.float32)
    b = a + 5
    write_annotations_csv(tmp_path / "many.csv", {"x.jpg": a, "y.jpg": b})
    (tmp_path / "many.json").write_text(json.dumps({"x.jpg": a.tolist(), "y.jpg": b.tolist()}))
    for f in ("many.csv", "many.json"):
        rows = read_named_poses(tmp_path / f)
        assert sorted(rows) == ["x.jpg", "y.jpg"]
        assert np.allclose(pick_row(rows, "y.png", tmp_path / f), b)
        assert np.allclose(read_keypoints(tmp_path / f, "y.png"), b)
        with pytest.raises(KeypointFormatError, match=f"{f}: .*named 'z.png'"):
            pick_row(rows, "z.png", tmp_path / f)
    write_keypoints_json(tmp_path / "one.json", a)
    with pytest.raises(KeypointFormatError, match="one.json: names no photos"):
        read_named_poses(tmp_path / "one.json")


# ----------------------------------------------------------------------------- numbers in every format

# Each class of number as written in a file, and what reading joint 0's x gives: a float, or a
# KeypointFormatError whose message holds the fragment. JSON strings/booleans differ from CSV words.
_NUMBER_CLASSES = {
    "huge": ("1" + "0" * 400, "not a pixel coordinate"),
    "huge_negative": ("-1" + "0" * 400, "not a pixel coordinate"),
    "longer_than_python_int_reads": ("9" * 5000, "not a pixel coordinate"),
    "huge_float": ("1e400", "not a pixel coordinate"),
    "beyond_max_coord": ("2000000", "not a pixel coordinate"),
    "tiny": ("1e-320", 0.0),
    "negative_zero": ("-0", 0.0),
    "negative_zero_float": ("-0.0", 0.0),
    "nan": ("NaN", "not a pixel coordinate"),
    "infinity": ("Infinity", "not a pixel coordinate"),
    "negative_infinity": ("-Infinity", "not a pixel coordinate"),
    "word": ("abc", "not a number"),
}
_JSON_NON_NUMBERS = ['"12"', '"abc"', "true", "{}", "[1]"]


def _keypoint_file(tmp_path, fmt: str, token: str):
    """A file of ``fmt`` whose joint 0 has x written as ``token`` (verbatim), y = 7; the others (5, 7)."""
    pairs = ", ".join([f"[{token}, 7]"] + ["[5, 7]"] * 17)
    if fmt == "csv":
        text = f"{CSV_HEADER}\np.jpg: [{', '.join(['7'] * 18)}]: [{', '.join([token] + ['5'] * 17)}]\n"
    elif fmt == "plain":
        text = f"[{pairs}]"
    elif fmt == "named":
        text = f'{{"p.jpg": [{pairs}]}}'
    else:
        n = 18 if fmt == "coco18" else 25
        text = '{"people": [{"pose_keypoints_2d": [' + ", ".join([token, "7", "1"] + ["5, 7, 1"] * (n - 1)) + "]}]}"
    p = tmp_path / f"{fmt}_pose.{'csv' if fmt == 'csv' else 'json'}"
    p.write_text(text)
    return p


def _assert_one_line_error(path, fragment, fn=read_keypoints):
    with pytest.raises(KeypointFormatError) as e:
        fn(path)
    msg = str(e.value)
    assert msg.startswith(str(path)) and "\n" not in msg and len(msg) < 300, msg
    assert fragment in msg, msg


@pytest.mark.parametrize("fmt", ["csv", "plain", "named", "coco18", "body25"])
@pytest.mark.parametrize("cls", sorted(_NUMBER_CLASSES))
def test_every_class_of_number_in_every_format(tmp_path, fmt, cls):
    """Huge (even past Python's 4300-digit int limit), tiny, -0, NaN, infinite and non-numeric values:
    a clean parse or a one-line KeypointFormatError naming the file, never another exception."""
    token, expected = _NUMBER_CLASSES[cls]
    if cls == "word" and fmt != "csv":
        token, expected = '"abc"', ("must be [x, y] or null" if fmt in ("plain", "named") else "not a number")
    path = _keypoint_file(tmp_path, fmt, token)
    if isinstance(expected, str):
        _assert_one_line_error(path, expected)
        if fmt == "named":
            _assert_one_line_error(path, expected, read_named_poses)
        return
    kp = read_keypoints(path)
    assert kp.dtype == np.float32 and kp.shape == (18, 2)
    assert kp[0].tolist() == [expected, 7.0] and np.isfinite(kp).all()
    assert (kp[1:] == [5.0, 7.0]).all()


@pytest.mark.parametrize("fmt", ["plain", "named", "coco18", "body25"])
@pytest.mark.parametrize("token", _JSON_NON_NUMBERS + ["null"])
def test_json_non_numbers_are_one_line_errors(tmp_path, fmt, token):
    path = _keypoint_file(tmp_path, fmt, token)
    if fmt in ("plain", "named"):
        _assert_one_line_error(path, "entry 0 must be [x, y] or null")
    elif token == "null":   # an OpenPose null reads as a joint not there; detected (c = 1), it is an error
        _assert_one_line_error(path, "detected joint whose coordinate is not a pixel coordinate")
    else:
        _assert_one_line_error(path, "people[0].pose_keypoints_2d value")


@pytest.mark.parametrize("n", [18, 25])
def test_openpose_undetected_joint_may_hold_any_number(tmp_path, n):
    """c == 0 marks a joint not found whatever its x, y: a huge int there reads as missing, as 1e300
    always did; a huge confidence is just a confident detection."""
    big = "1" + "0" * 400
    flat = [big, big, "0", "5", "7", big] + ["5, 7, 1"] * (n - 2)
    p = tmp_path / "undetected.json"
    p.write_text('{"people": [{"pose_keypoints_2d": [' + ", ".join(flat) + "]}]}")
    kp = read_keypoints(p)
    assert np.isnan(kp[0]).all() and kp[1].tolist() == [5.0, 7.0] and np.isfinite(kp[1:]).all()


def test_parse_plain_keypoints_takes_python_ints_too_large_for_a_float():
    """The serve path parses the JSON itself; a Python int with 400 digits is refused the same way."""
    from poseshift.pose.keypoints_io import parse_plain_keypoints

    obj = [[10 ** 400, 7]] + [[5, 7]] * 17
    with pytest.raises(KeypointFormatError, match=r"^target_keypoints: entry 0 value inf is not a pixel"):
        parse_plain_keypoints(obj, "target_keypoints")
    obj[0] = [-0, 7]
    assert parse_plain_keypoints(obj, "target_keypoints")[0].tolist() == [0.0, 7.0]
