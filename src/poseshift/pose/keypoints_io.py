"""Reading and writing the keypoint files of the pose-transfer literature (the README, "Data").

Three formats are read everywhere a pose is accepted:

* the annotation CSV of Siarohin et al. / Zhu et al.: a header ``name:keypoints_y:keypoints_x``
  and rows ``name: [y0, y1, ...]: [x0, x1, ...]`` -- **y first**, integer pixels, ``-1`` for a
  joint the detector did not find;
* OpenPose JSON: ``people[0].pose_keypoints_2d`` as a flat ``[x, y, c] * N`` list, with
  ``N = 18`` (COCO-18) or ``N = 25`` (BODY_25, mapped through ``BODY25_TO_COCO18``);
  ``c == 0`` marks a missing joint;
* a plain JSON list of 18 ``[x, y]`` pairs or ``null``.

In memory a pose is a ``float32`` array ``[18, 2]`` of ``(x, y)`` with ``NaN`` for missing
joints (see :mod:`poseshift.pose.schema`). Every format error is a :class:`KeypointFormatError`
whose message is one line naming the file and what is wrong.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from poseshift.pose.schema import BODY25_TO_COCO18, NUM_JOINTS

__all__ = [
    "CSV_HEADER",
    "KeypointFormatError",
    "read_annotations_csv",
    "write_annotations_csv",
    "read_openpose_json",
    "write_openpose_json",
    "read_keypoints_json",
    "write_keypoints_json",
    "read_keypoints",
    "write_keypoints",
    "missing_keypoints",
]

CSV_HEADER = "name:keypoints_y:keypoints_x"
_BODY25_JOINTS = 25


class KeypointFormatError(ValueError):
    """A keypoint file that cannot be read; the message is one line naming the file."""


def missing_keypoints() -> np.ndarray:
    """An all-missing pose: ``float32 [18, 2]`` of NaN."""
    return np.full((NUM_JOINTS, 2), np.nan, dtype=np.float32)


# The largest coordinate a keypoint may have, in pixels: far beyond any photo, well inside float32.
MAX_COORD = 1e6


def _fail(path: Path | str, what: str) -> KeypointFormatError:
    # One line, always: newlines inside a quoted value would break log parsing.
    return KeypointFormatError(f"{path}: {what}".replace("\n", " "))


def _number(value: Any, path: Path | str, where: str, *, text: bool = False) -> float:
    """The one place a keypoint file's values become numbers: a CSV cell (``text=True``) or a value
    parsed from JSON. An integer too large for a float becomes +-inf, as the text ``1e400`` does, so
    the range checks of the callers (``MAX_COORD``) treat both alike; a string in JSON, a boolean or
    anything else that is not a number is a one-line KeypointFormatError."""
    if text and isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise _fail(path, f"{where} {value.strip()[:20]!r} is not a number") from None
    if isinstance(value, str):
        raise _fail(path, f"{where} {value[:20]!r} is a string, not a number")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(path, f"{where} of type {type(value).__name__} is not a number")
    try:
        return float(value)
    except OverflowError:  # an int with hundreds of digits
        return math.inf if value > 0 else -math.inf


def _coord(value: Any, path: Path | str, where: str, *, text: bool = False) -> float:
    """A pixel coordinate: a number (see :func:`_number`), finite and within ``MAX_COORD``."""
    v = _number(value, path, where, text=text)
    if not math.isfinite(v) or abs(v) > MAX_COORD:
        shown = repr(value.strip()[:20]) if isinstance(value, str) else f"{v:g}"
        raise _fail(path, f"{where} {shown} is not a pixel coordinate (finite, within {MAX_COORD:g})")
    return v


def _read_text(path: Path | str) -> str:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"keypoint file not found: {path}")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise _fail(path, f"not a text file ({e.reason} at byte {e.start})") from None


def _as_pose(kp: Any, path: Path | str = "keypoints") -> np.ndarray:
    arr = np.asarray(kp, dtype=np.float32)
    if arr.shape != (NUM_JOINTS, 2):
        raise ValueError(f"{path}: keypoints must have shape [{NUM_JOINTS}, 2], got {list(arr.shape)}")
    return arr


# ----------------------------------------------------------------------------- annotation CSV

def _parse_int_list(text: str, path: Path | str, where: str, axis: str) -> list[float]:
    text = text.strip()
    if not (text.startswith("[") and text.endswith("]")):
        raise _fail(path, f"{where}: expected a [...] list of {axis} values, got {text[:40]!r}")
    body = text[1:-1].strip()
    items = [t.strip() for t in body.split(",")] if body else []
    values = [_coord(t, path, f"{where}: {axis} value", text=True) for t in items]
    if len(values) != NUM_JOINTS:
        raise _fail(path, f"{where}: expected {NUM_JOINTS} {axis} values, got {len(values)}")
    return values


def _parse_csv_row(line: str, path: Path | str, lineno: int) -> tuple[str, np.ndarray]:
    where = f"line {lineno}"
    # The lists hold no ':' so the last two colons split name | ys | xs, even if a name had one.
    parts = line.rsplit(":", 2)
    if len(parts) != 3 or not parts[0].strip():
        raise _fail(path, f"{where}: expected 'name: [y...]: [x...]', got {line[:60]!r}")
    name = parts[0].strip()
    ys = _parse_int_list(parts[1], path, where, "y")
    xs = _parse_int_list(parts[2], path, where, "x")
    kp = np.array([xs, ys], dtype=np.float32).T  # [18, 2] as (x, y)
    # -1 in either coordinate marks a missing joint (the files always have both at -1).
    kp[(kp == -1).any(axis=1)] = np.nan
    return name, kp


def read_annotations_csv(path: Path | str) -> dict[str, np.ndarray]:
    """Read an annotation CSV into ``{name: float32 [18, 2] (x, y), NaN missing}``, in file order.

    The header line is optional; blank lines are skipped; a repeated name is an error.
    """
    text = _read_text(path)
    out: dict[str, np.ndarray] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.replace(" ", "") == CSV_HEADER:
            continue
        if lineno == 1 and "[" not in line:
            raise _fail(path, f"line 1: expected the header {CSV_HEADER!r}, got {line[:60]!r}")
        name, kp = _parse_csv_row(line, path, lineno)
        if name in out:
            raise _fail(path, f"line {lineno}: name {name!r} appears twice")
        out[name] = kp
    return out


def _format_int_list(values: np.ndarray) -> str:
    return "[" + ", ".join(str(int(v)) for v in values) + "]"


def _csv_row(name: str, kp: np.ndarray) -> str:
    missing = np.isnan(kp).any(axis=1)
    ints = np.where(missing[:, None], -1, np.rint(np.nan_to_num(kp))).astype(np.int64)
    return f"{name}: {_format_int_list(ints[:, 1])}: {_format_int_list(ints[:, 0])}"


def write_annotations_csv(path: Path | str, mapping: Mapping[str, Any]) -> None:
    """Write ``{name: [18, 2] (x, y)}`` as an annotation CSV (y first, rounded ints, NaN -> -1).

    A file read with :func:`read_annotations_csv` and written back is byte-identical when it used
    the canonical spacing. A present joint that rounds to -1 would read back as missing.
    """
    lines = [CSV_HEADER]
    for name, kp in mapping.items():
        if ":" in name or "\n" in name:
            raise ValueError(f"{path}: image name {name!r} may not contain ':' or a newline")
        lines.append(_csv_row(name, _as_pose(kp, path)))
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------- JSON formats

def _load_json(path: Path | str) -> Any:
    text = _read_text(path)
    try:
        # Every JSON integer goes through _number: no int() on hundreds of digits (Python refuses
        # over 4300), and one far too large for a float is +-inf, as 1e400 is.
        return json.loads(text, parse_int=lambda t: _number(t, path, "integer", text=True))
    except json.JSONDecodeError as e:
        raise _fail(path, f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except RecursionError:
        raise _fail(path, "JSON nested too deeply") from None


def _openpose_from_obj(obj: dict, path: Path | str) -> np.ndarray:
    people = obj.get("people")
    if not isinstance(people, list):
        raise _fail(path, "OpenPose JSON has no 'people' list")
    if not people:
        return missing_keypoints()  # nobody detected: every joint missing
    person = people[0]
    if not isinstance(person, dict):
        raise _fail(path, "people[0] is not an object")
    # OpenPose >= 1.2 writes pose_keypoints_2d; 1.0/1.1 wrote pose_keypoints.
    flat = person.get("pose_keypoints_2d", person.get("pose_keypoints"))
    if not isinstance(flat, list):
        raise _fail(path, "people[0] has no 'pose_keypoints_2d' list")
    where = "people[0].pose_keypoints_2d value"
    # null (some exporters' missing joint) reads as NaN: a joint that is not there.
    arr = np.array([np.nan if v is None else _number(v, path, where) for v in flat], dtype=np.float64)
    if arr.size % 3:
        raise _fail(path, f"people[0].pose_keypoints_2d must be a flat [x, y, c]*N list, got {arr.size} values")
    n = arr.size // 3
    triples = arr.reshape(n, 3)
    if n == _BODY25_JOINTS:
        triples = triples[list(BODY25_TO_COCO18)]  # drop MidHip (8) and the six foot joints
    elif n != NUM_JOINTS:
        raise _fail(path, f"people[0].pose_keypoints_2d has {n} joints; expected 18 (COCO-18) or 25 (BODY_25)")
    with np.errstate(invalid="ignore"):
        detected = triples[:, 2] > 0  # c == 0 (or NaN): a joint not found, whatever its x, y
        in_range = (np.abs(triples[:, :2]) <= MAX_COORD).all(1)  # False for NaN and +-inf too
    if (detected & ~in_range).any():
        raise _fail(path, f"people[0].pose_keypoints_2d holds a detected joint whose coordinate is not a pixel "
                          f"coordinate (finite, within {MAX_COORD:g})")
    present = detected & in_range
    kp = np.where(present[:, None], triples[:, :2], np.nan).astype(np.float32)
    kp[~present] = np.nan
    return kp


def parse_plain_keypoints(obj: Any, source: str) -> np.ndarray:
    """A parsed JSON list of 18 ``[x, y]`` or ``null`` -> float32 [18, 2] (NaN missing), checked as a
    keypoint file is; ``KeypointFormatError`` naming ``source``."""
    if not isinstance(obj, list):
        raise _fail(source, f"expected a list of {NUM_JOINTS} [x, y] or null, got {type(obj).__name__}")
    return _plain_from_obj(obj, source)


def _plain_from_obj(obj: list, path: Path | str) -> np.ndarray:
    if len(obj) != NUM_JOINTS:
        raise _fail(path, f"expected a list of {NUM_JOINTS} [x, y] or null, got {len(obj)} entries")
    kp = missing_keypoints()
    for i, item in enumerate(obj):
        if item is None:
            continue
        if (not isinstance(item, list) or len(item) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in item)):
            raise _fail(path, f"entry {i} must be [x, y] or null, got {json.dumps(item)[:40]}")
        kp[i] = [_coord(v, path, f"entry {i} value") for v in item]
    return kp


def _named_from_obj(obj: dict, path: Path | str, name: str | None) -> np.ndarray:
    """What ``poseshift pose --out FILE.json`` writes: ``{image name: [18 x ([x, y] | null)]}``."""
    if name is not None:
        return _plain_from_obj(pick_row(obj, name, path, "pose"), path)
    if len(obj) != 1:
        raise _fail(path, f"holds {len(obj)} poses; name the one to use (--pose-name, e.g. {next(iter(obj))!r})")
    value = next(iter(obj.values()))
    if not isinstance(value, list):
        raise _fail(path, f"unknown JSON shape: expected {{name: [{NUM_JOINTS} x [x, y] or null]}}")
    return _plain_from_obj(value, path)


def _is_named(obj: Any) -> bool:
    """Whether a JSON object is what ``poseshift pose`` writes: ``{image name: [...]}``."""
    return isinstance(obj, dict) and "people" not in obj and bool(obj) and all(isinstance(v, list) for v in obj.values())


def _keypoints_from_json(obj: Any, path: Path | str, name: str | None = None) -> np.ndarray:
    if _is_named(obj):
        return _named_from_obj(obj, path, name)
    if name is not None:
        raise ValueError(f"{path}: a pose name only applies to annotation CSVs and poseshift pose JSON")
    if isinstance(obj, dict):
        return _openpose_from_obj(obj, path)
    if isinstance(obj, list):
        return _plain_from_obj(obj, path)
    raise _fail(path, f"unknown JSON shape: expected an OpenPose object or a list of {NUM_JOINTS} [x, y], "
                      f"got {type(obj).__name__}")


def read_openpose_json(path: Path | str) -> np.ndarray:
    """Read ``people[0]`` of an OpenPose JSON (COCO-18 or BODY_25) as ``[18, 2]``; no people -> all NaN."""
    obj = _load_json(path)
    if not isinstance(obj, dict):
        raise _fail(path, f"not an OpenPose JSON object (got {type(obj).__name__})")
    return _openpose_from_obj(obj, path)


def read_keypoints_json(path: Path | str) -> np.ndarray:
    """Read a plain JSON list of 18 ``[x, y]`` or ``null`` as ``[18, 2]``."""
    obj = _load_json(path)
    if not isinstance(obj, list):
        raise _fail(path, f"not a JSON list of {NUM_JOINTS} [x, y] or null (got {type(obj).__name__})")
    return _plain_from_obj(obj, path)


def write_openpose_json(path: Path | str, kp: Any) -> None:
    """Write one person as OpenPose COCO-18 JSON: ``c = 1`` present, ``0, 0, 0`` missing."""
    arr = _as_pose(kp, path)
    flat: list[float] = []
    for x, y in arr.tolist():
        if math.isnan(x) or math.isnan(y):
            flat += [0.0, 0.0, 0.0]
        else:
            flat += [x, y, 1.0]
    obj = {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": flat}]}
    Path(path).write_text(json.dumps(obj) + "\n", encoding="utf-8")


def write_keypoints_json(path: Path | str, kp: Any) -> None:
    """Write a plain JSON list of 18 ``[x, y]`` (floats, exact for float32) or ``null``."""
    arr = _as_pose(kp, path)
    items = [None if (math.isnan(x) or math.isnan(y)) else [x, y] for x, y in arr.tolist()]
    Path(path).write_text(json.dumps(items) + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------- dispatch

def pick_row(rows: Mapping[str, Any], name: str, path: Path | str, what: str = "row") -> Any:
    """The entry called ``name`` of a file's named poses (an annotation CSV's rows, a poseshift
    pose JSON's entries), or the one entry of the same stem (a photo x.png named x.jpg in the
    file); KeypointFormatError naming ``path`` otherwise."""
    if name in rows:
        return rows[name]
    same_stem = [k for k in rows if Path(k).stem == Path(name).stem]
    if len(same_stem) == 1:
        return rows[same_stem[0]]
    raise _fail(path, f"no {what} named {name!r} among {len(rows)} {what}s")


def read_named_poses(path: Path | str) -> dict[str, np.ndarray]:
    """Every pose of a file that names its photos: an annotation CSV, or what ``poseshift pose``
    writes for a folder (``{name: [...]}``); KeypointFormatError naming ``path`` for any other."""
    if Path(path).suffix.lower() == ".csv":
        return read_annotations_csv(path)
    obj = _load_json(path)
    if not _is_named(obj):
        raise _fail(path, "names no photos: expected an annotation CSV or poseshift pose JSON ({name: [...]})")
    return {name: _plain_from_obj(value, path) for name, value in obj.items()}


def read_keypoints(path: Path | str, name: str | None = None) -> np.ndarray:
    """Read one pose from any supported file, as ``float32 [18, 2]`` (x, y), NaN missing.

    ``.csv``: an annotation CSV; it must hold one row unless ``name`` picks a row.
    ``.json``: OpenPose (an object with ``people``), a plain list of 18 ``[x, y]``/``null``, or
    what ``poseshift pose`` writes (``{name: [...]}``: one entry, or ``name`` picks one).
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        rows = read_annotations_csv(path)
        if name is not None:
            return pick_row(rows, name, path)
        if not rows:
            raise _fail(path, "annotation CSV has no rows")
        if len(rows) > 1:
            first = next(iter(rows))
            raise _fail(path, f"annotation CSV has {len(rows)} rows; name the one to use "
                              f"(e.g. name={first!r})")
        return next(iter(rows.values()))
    if suffix == ".json":
        return _keypoints_from_json(_load_json(path), path, name)
    if name is not None:
        raise ValueError(f"{path}: name={name!r} only applies to annotation CSV and JSON files")
    if not Path(path).is_file():
        raise FileNotFoundError(f"keypoint file not found: {path}")
    raise _fail(path, f"unknown keypoint file extension {suffix or '(none)'!r}; expected .csv or .json")


def write_keypoints(path: Path | str, kp: Any) -> None:
    """Write one pose by extension: ``.csv`` -> one-row annotation CSV named ``<stem>.jpg``;
    ``.json`` -> plain JSON list."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        write_annotations_csv(p, {p.stem + ".jpg": kp})
    elif suffix == ".json":
        write_keypoints_json(p, kp)
    else:
        raise ValueError(f"{path}: unknown keypoint file extension {suffix or '(none)'!r}; expected .csv or .json")
