"""Two more kinds of fuzz case for :mod:`experiments.fuzzing` (issue 30):

* ``numbers``: one keypoint value replaced by a number no pixel has -- an integer of hundreds or
  thousands of digits (past Python's 4300-digit limit), a denormal, ``-0``, ``NaN``,
  ``Infinity``, a value past ``MAX_COORD``, or something that is no number at all -- in every
  keypoint format: the annotation CSV (a pose file, or a data folder's ``annotations.csv``),
  plain JSON, ``poseshift pose`` JSON (``{name: [...]}``), OpenPose COCO-18 and BODY_25.
* ``weights``: a weights file of the wrong network (another network's safetensors or torch state
  dict, a poseshift checkpoint, TorchScript of another network, the right key names with other
  shapes, text, random bytes) given to every local weights option: ``model.psi_weights`` for each
  backbone, ``train --init``, and evaluate's ``--inception-weights``, ``--lpips-weights`` and
  ``--is-weights``.

Each function takes the ``Cases`` object (its ``rng``, ``fx`` fixtures, ``_dir``, ``_train`` and
``_transfer``) and returns ``(what, argv, names)``: the mutation, the command line, and what a good
error line names.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

FORMATS = ("csv", "plain", "named", "coco18", "body25")


def number_token(rng) -> tuple[str, str]:
    """-> (the text written in the file, its class)."""
    choice = rng.randrange(9)
    if choice == 0:
        digits = rng.choice([309, 400, 1000, 4301, 6000])
        return rng.choice(["", "-"]) + "1" + "".join(rng.choice("0123456789") for _ in range(digits - 1)), \
            f"an integer of {digits} digits"
    if choice == 1:
        return rng.choice(["1e-320", "5e-324", "1e-400", "-1e-320", "0.0000000000000000000001"]), "tiny"
    if choice == 2:
        return rng.choice(["-0", "-0.0", "-0e0"]), "negative zero"
    if choice == 3:
        return "NaN", "NaN"
    if choice == 4:
        return rng.choice(["Infinity", "-Infinity", "1e400", "-1e999"]), "infinite"
    if choice == 5:
        return rng.choice(["1000001", "-2e6", "1e300", "9007199254740993"]), "past MAX_COORD"
    return rng.choice(["abc", "\"12\"", "true", "null", "{}", "[]", "[1]", "\"\"", "0x10", "1_000", "--1",
                       "\"NaN\""]), "not a number"


def _cells(kp) -> list[tuple[str, str]]:
    return [("-1", "-1") if math.isnan(x) else (str(int(x)), str(int(y))) for x, y in kp.tolist()]


def keypoint_text(fmt: str, kp, joint: int, axis: int, token: str) -> str:
    """A pose of ``fmt`` (the fixture's, rounded) with ``token`` written verbatim as ``axis`` (0 x,
    1 y, 2 OpenPose's confidence) of ``joint``."""
    from poseshift.pose.keypoints_io import CSV_HEADER

    cells = [list(c) for c in _cells(kp)]
    if fmt == "csv":
        ys, xs = [c[1] for c in cells], [c[0] for c in cells]
        (xs if axis == 0 else ys)[joint] = token
        return f"{CSV_HEADER}\npose.jpg: [{', '.join(ys)}]: [{', '.join(xs)}]\n"
    if fmt in ("plain", "named"):
        items = ["null" if c[0] == "-1" else f"[{c[0]}, {c[1]}]" for c in cells]
        c = cells[joint] if cells[joint][0] != "-1" else ["10", "10"]
        c[min(axis, 1)] = token
        items[joint] = f"[{c[0]}, {c[1]}]"
        body = "[" + ", ".join(items) + "]"
        return body if fmt == "plain" else json.dumps({"pose.jpg": None}).replace("null", body)
    triples = [["0", "0", "0"] if c[0] == "-1" else [c[0], c[1], "0.9"] for c in cells]
    if fmt == "body25":  # MidHip at 8, six foot joints after
        triples = triples[:8] + [["50", "50", "0.8"]] + triples[8:] + [["0", "0", "0"]] * 6
        joint = joint + (joint >= 8)
    triples[joint][axis] = token
    return '{"version": 1.3, "people": [{"pose_keypoints_2d": [' + ", ".join(v for t in triples for v in t) + "]}]}"


def numbers_case(cases) -> tuple[str, list[str], list[str]]:
    from poseshift.pose.keypoints_io import read_keypoints

    d, rng = cases._dir(), cases.rng
    fmt = rng.choice(FORMATS)
    token, cls = number_token(rng)
    kp = read_keypoints(cases.fx["pose"])
    joint, axis = rng.randrange(18), rng.randrange(3 if fmt in ("coco18", "body25") else 2)
    text = keypoint_text(fmt, kp, joint, axis, token)
    what = f"{fmt}: {cls} ({token[:12]}{'...' if len(token) > 12 else ''}) at joint {joint} axis {axis}"
    if fmt == "csv" and rng.random() < 0.3:  # in a data folder's annotations, read by `data` and `train`
        data = cases._data_copy(d)
        lines = (data / "annotations.csv").read_text().splitlines()
        row = rng.randrange(1, len(lines))
        name = lines[row].split(":", 1)[0]
        lines[row] = name + ":" + text.splitlines()[1].split(":", 1)[1]
        (data / "annotations.csv").write_text("\n".join(lines) + "\n")
        argv = ["data", str(data)] if rng.random() < 0.6 else cases._train(d, data)
        return f"annotations {what}", argv, ["annotations.csv"]
    bad = d / f"pose.{'csv' if fmt == 'csv' else 'json'}"
    bad.write_text(text)
    return what, cases._transfer(d, cases.fx["image"], bad), [bad.name]


# ----------------------------------------------------------------------------- weights files
def wrong_weights(cases, d: Path) -> tuple[Path, str]:
    """A file that is not the weights an option wants -> (path, what it is)."""
    import torch
    from safetensors.torch import save_file
    from torch import nn

    rng = cases.rng
    choice = rng.randrange(8)
    if choice == 0:
        return cases.fx["export"], "a poseshift checkpoint"
    if choice == 1:
        return cases.fx["ckpt"], "a poseshift run checkpoint"
    net = nn.Sequential(nn.Conv2d(3, rng.choice([2, 8, 64]), 3), nn.ReLU(), nn.Linear(4, 2))
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    if choice == 2:
        save_file(state, str(d / "other.safetensors"))
        return d / "other.safetensors", "another network (safetensors)"
    if choice == 3:
        torch.save(state, d / "other.pth")
        return d / "other.pth", "another network (torch)"
    if choice == 4:  # the key names every loader looks for, with shapes of no network it knows
        keys = ["features.0.weight", "features.0.bias", "features.3.weight", "lin0.model.1.weight",
                "_conv_stem.weight", "Conv2d_1a_3x3.conv.weight"]
        save_file({k: torch.zeros(rng.choice([1, 3, 5]), 2) for k in keys}, str(d / "renamed.safetensors"))
        return d / "renamed.safetensors", "known key names, other shapes"
    if choice == 5:
        class Other(nn.Module):
            def forward(self, x):
                return x[:, :1] * 2

        torch.jit.script(Other()).save(str(d / "other.pt"))
        return d / "other.pt", "TorchScript of another network"
    if choice == 6:
        (d / "notes.pth").write_text("not weights\n" * 10)
        return d / "notes.pth", "a text file"
    suffix = rng.choice([".safetensors", ".pth", ".pt"])
    (d / f"random{suffix}").write_bytes(os.urandom(rng.choice([0, 8, 300])))
    return d / f"random{suffix}", "random bytes"


def weights_case(cases) -> tuple[str, list[str], list[str]]:
    d, rng = cases._dir(), cases.rng
    path, kind = wrong_weights(cases, d)
    option = rng.choice(["psi:vgg16", "psi:efficientnet_lite0", "--init",
                         "--inception-weights", "--lpips-weights", "--is-weights"])
    if option.startswith("psi:"):
        backbone = option.split(":")[1]
        argv = cases._train(d, cases.fx["data"], ["--set", f"model.psi_backbone={backbone}", "--set",
                                                   "model.psi_layer=", "--set", f"model.psi_weights={path}"])
        return f"model.psi_weights ({backbone}): {kind}", argv, ["model.psi_weights", path.name]
    if option == "--init":
        return f"--init: {kind}", cases._train(d, cases.fx["data"], ["--init", str(path)]), ["--init", path.name]
    metric = {"--inception-weights": "fid", "--lpips-weights": "lpips", "--is-weights": "is"}[option]
    argv = ["evaluate", "--data", str(cases.fx["data"]), "--copy-source", "--metrics", "ssim", metric, option,
            str(path), "--out", str(d / "report.json"), "--quiet"]
    return f"{option}: {kind}", argv, [option, path.name]
