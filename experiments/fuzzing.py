"""Malformed inputs for every file and setting poseshift reads, and a runner that feeds them
through the command line's own entry point (``poseshift.cli.main``) in a worker process.

Kinds: keypoint files (annotation CSV, OpenPose JSON, plain JSON), images, annotation CSVs,
pairs CSVs, split CSVs, YAML configs, ``--set`` values and checkpoints; and (:mod:`.fuzzing_extra`)
numbers no pixel has in every keypoint format, and weights files of the wrong network for every
weights option; and (:mod:`.fuzzing_media`) malformed videos for ``pose`` and ``animate``, and a
damaged silhouette cache. Each case is a command
line and the files it names, written into a fresh folder. Outcomes:

* ``ok``: exit 0;  ``error``: exit 2 with exactly one line ``poseshift: error: ...``;
* ``traceback``: an exception escaped ``main`` (or any other exit);  ``hang``: no answer in
  ``timeout`` seconds;  ``crash``: the worker process died (a segfault, an abort).

An ``error`` whose line names neither the file nor the setting the case broke is counted as
``unnamed``. Used by ``benchmarks/fuzz.py`` (at least 1,000 cases) and ``tests/test_fuzz.py``.
"""
from __future__ import annotations

import io
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import zlib
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("keypoints", "image", "annotations", "pairs", "split", "yaml", "set", "checkpoint", "numbers", "weights",
         "video", "cache")
MICRO = ["model.image_size=32", "model.g_channels=8", "model.g_blocks=1", "model.d_channels=8",
         "model.phi_channels=8", "model.phi_blocks=1", "train.batch_size=4", "train.log_every=1",
         "train.sample_every=100", "train.checkpoint_every=100", "train.workers=0"]


@dataclass
class Case:
    kind: str
    what: str  # the mutation, for the report
    argv: list[str]
    names: list[str] = field(default_factory=list)  # what a good error line names (any one)
    env: dict = field(default_factory=dict)  # environment variables set for the run (POSESHIFT_CACHE)


# ----------------------------------------------------------------------------- fixtures
def make_fixtures(root: Path) -> dict[str, Path]:
    """A micro data folder, a 2-step run, its export, a photo and a pose file."""
    from poseshift.cli import main
    from poseshift.stick_figures import write_figures

    data = write_figures(root / "data", people=6, poses_per_person=2, size=32, seed=3)
    sets = [a for kv in MICRO for a in ("--set", kv)]
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        main(["train", "--config", "tiny", "--data", str(data), "--out", str(root / "run"), "--max-steps", "2",
              "--quiet", *sets])
        main(["export", "--checkpoint", str(root / "run/checkpoints/last.safetensors"), "--out",
              str(root / "export.safetensors")])
    image = sorted((data / "images").iterdir())[0]
    from poseshift.pose.keypoints_io import read_annotations_csv, write_keypoints_json

    pose = root / "pose.json"
    write_keypoints_json(pose, next(iter(read_annotations_csv(data / "annotations.csv").values())))
    return {"data": data, "run": root / "run", "ckpt": root / "run/checkpoints/last.safetensors",
            "export": root / "export.safetensors", "image": image, "pose": pose}


# ----------------------------------------------------------------------------- mutations
NASTY_NUMBERS = ["1e400", "-1e400", "1e30", "-1e308", "NaN", "nan", "Infinity", "-inf", "1e-400", "0x10",
                 "99999999999999999999999999", "-0", "3.", ".5e", "1_000", "", " ", "null", "true", "[]", "{}"]


def _bytes_mutate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    choice = rng.randrange(6)
    if choice == 0 or not data:
        return data[: rng.randrange(len(data) + 1)], "truncated"
    if choice == 1:
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b), "bytes flipped"
    if choice == 2:
        return b"", "empty"
    if choice == 3:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 400))), "random bytes"
    if choice == 4:
        i = rng.randrange(len(data))
        return data[:i] + data[i:i + 40] * rng.randint(2, 50) + data[i:], "a span repeated"
    return b"\xef\xbb\xbf" + data, "a BOM"


def _text_mutate(text: str, rng: random.Random) -> tuple[str, str]:
    choice = rng.randrange(9)
    if choice == 0:
        return "[" * rng.choice([50, 5000, 200000]) + "]" * rng.choice([0, 50]), "nested deeply"
    if choice == 1:
        tokens = [t for t in _tokens(text) if t]
        if tokens:
            t = rng.choice(tokens)
            return text.replace(t, rng.choice(NASTY_NUMBERS), 1), f"number {t} replaced"
    if choice == 2:
        return text + "x" * rng.choice([1000, 200_000]), "a huge field"
    if choice == 3:
        return text.replace(",", "", rng.randint(1, 3)), "commas dropped"
    if choice == 4:
        lines = text.splitlines()
        return "\n".join(lines + lines), "rows repeated"
    if choice == 5:
        return text.replace("[", "{", 1), "a bracket changed"
    if choice == 6:
        return text.replace(":", "\x00", 1), "a NUL byte"
    if choice == 7:
        return "\u00e9\u2603" + text[::-1], "reversed"
    data, what = _bytes_mutate(text.encode(), rng)
    return data.decode("latin-1"), what


def _tokens(text: str) -> list[str]:
    import re

    return re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", text)


def _png(w: int, h: int, depth: int = 8, colour: int = 2, body: bytes | None = None) -> bytes:
    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    raw = body if body is not None else zlib.compress(b"\0" * 64)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def _image_bytes(good: bytes, rng: random.Random) -> tuple[bytes, str, str]:
    """-> (bytes, mutation, file suffix)."""
    from PIL import Image

    choice = rng.randrange(10)
    if choice == 0:
        side = rng.choice([30000, 65535, 100000, 2 ** 31 - 1])
        return _png(side, side), f"a {side}x{side} header", ".png"
    if choice == 1:
        return _png(rng.choice([0, 1, 5000]), rng.choice([0, 1, 3])), "a degenerate header", ".png"
    if choice == 2:
        return _png(4, 4, rng.choice([1, 2, 4, 16, 7]), rng.choice([0, 2, 3, 4, 6, 5])), "odd depth or mode", ".png"
    if choice in (3, 4):
        buf = io.BytesIO()
        mode = rng.choice(["L", "LA", "P", "RGBA", "I;16", "CMYK", "1", "F", "I"])
        size = rng.choice([(1, 1), (1, 3000), (3000, 1), (7, 5), (40, 90)])
        im = Image.new(mode, size)
        fmt = rng.choice(["PNG", "TIFF", "GIF", "BMP", "JPEG", "WEBP"])
        try:
            im.save(buf, fmt)
        except (OSError, ValueError, KeyError):
            im.convert("RGB").save(buf, "PNG")
            fmt = "PNG"
        suffix = rng.choice([".png", ".jpg", ".bmp", ".webp"])
        return buf.getvalue(), f"{mode} {size[0]}x{size[1]} {fmt} as {suffix}", suffix
    data, what = _bytes_mutate(good, rng)
    return data, what, ".png"


# ----------------------------------------------------------------------------- the cases
class Cases:
    def __init__(self, fx: dict[str, Path], work: Path, seed: int = 0):
        self.fx, self.work, self.rng, self.n = fx, work, random.Random(seed), 0

    def _dir(self) -> Path:
        self.n += 1
        d = self.work / f"c{self.n:05d}"
        d.mkdir(parents=True)
        return d

    def _data_copy(self, d: Path) -> Path:
        """A data folder whose images are links to the fixture's (the CSVs are the case's)."""
        data = d / "data"
        data.mkdir()
        (data / "images").symlink_to(self.fx["data"] / "images")
        for name in ("annotations.csv", "split.csv", "pairs.csv"):
            shutil.copy(self.fx["data"] / name, data / name)
        return data

    def _train(self, d: Path, data: Path, extra: list[str] = (), config: str = "tiny") -> list[str]:
        sets = [a for kv in MICRO for a in ("--set", kv)]
        return ["train", "--config", config, "--data", str(data), "--out", str(d / "run"), "--max-steps", "1",
                "--quiet", *sets, *extra]

    def _transfer(self, d: Path, image: Path, pose: Path, ckpt: Path | None = None) -> list[str]:
        return ["transfer", "--checkpoint", str(ckpt or self.fx["export"]), "--image", str(image), "--pose",
                str(pose), "--out", str(d / "out.png")]

    def keypoints(self) -> Case:
        d, rng = self._dir(), self.rng
        from poseshift.pose.keypoints_io import read_keypoints, write_keypoints, write_openpose_json

        kp = read_keypoints(self.fx["pose"])
        fmt = rng.choice(["csv", "openpose", "plain"])
        good = d / f"good.{'csv' if fmt == 'csv' else 'json'}"
        (write_openpose_json if fmt == "openpose" else write_keypoints)(good, kp)
        text, what = _text_mutate(good.read_text(), rng)
        bad = d / f"pose.{good.suffix[1:]}"
        bad.write_bytes(text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text)
        return Case("keypoints", f"{fmt}: {what}", self._transfer(d, self.fx["image"], bad), [bad.name])

    def image(self) -> Case:
        d, rng = self._dir(), self.rng
        data, what, suffix = _image_bytes(self.fx["image"].read_bytes(), rng)
        bad = d / f"photo{suffix}"
        bad.write_bytes(data)
        if rng.random() < 0.8:
            return Case("image", what, self._transfer(d, bad, self.fx["pose"]), [bad.name])
        folder = self._data_copy(d)
        (folder / "images").unlink()
        shutil.copytree(self.fx["data"] / "images", folder / "images")
        victim = sorted((folder / "images").iterdir())[0]
        victim.write_bytes(data)
        argv = ["data", str(folder)] if rng.random() < 0.5 else self._train(d, folder)
        return Case("image", f"in a data folder: {what}", argv, [victim.name])

    def _csv_case(self, kind: str, name: str) -> Case:
        d, rng = self._dir(), self.rng
        data = self._data_copy(d)
        path = data / name
        text, what = _text_mutate(path.read_text(), rng)
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        if kind == "pairs":
            argv = ["evaluate", "--data", str(data), "--pairs", str(path), "--copy-source", "--metrics", "ssim",
                    "--out", str(d / "report.json"), "--quiet"]
        else:
            argv = ["data", str(data)] if rng.random() < 0.6 else self._train(d, data)
        return Case(kind, what, argv, [name])

    def annotations(self) -> Case:
        return self._csv_case("annotations", "annotations.csv")

    def pairs(self) -> Case:
        return self._csv_case("pairs", "pairs.csv")

    def split(self) -> Case:
        return self._csv_case("split", "split.csv")

    def _bad_value(self) -> tuple[str, str]:
        rng = self.rng
        value = rng.choice(NASTY_NUMBERS + [
            "0", "-1", "-100", "1e9", "1000000000", "100000", "63", "17", "[1", "{a: 1}", "!!python/object/apply:os.system [ls]",
            "/etc/passwd", "'" + "a" * 5000 + "'", "[[[[[[[[[[1]]]]]]]]]]", "*a", "&a 1", "~", "yes", "on",
            "2", "0.5", "1e36", "1e-30", ".inf", "-.inf", ".nan", "\x00", "\u2603"])
        key = rng.choice(["train.batch_size", "train.lr_g", "train.lr_d", "train.log_every", "train.sample_every",
                          "train.checkpoint_every", "model.image_size", "pose.num_joints", "model.g_channels",
                          "model.g_blocks", "model.d_layers", "model.psi_weights", "model.psi_backbone",
                          "loss.lambda_id", "loss.lambda_pose", "pose.sigma_frac", "train.seed", "train.epochs",
                          "train.decay_after", "train.pool_size", "train.workers", "train.prefetch", "data.fit",
                          "data.pad_value", "train.g_ema_decay", "loss.cycle_noise_std", "train.device",
                          "train.bf16", "model.norm", "loss.patch_sigma_scale", "nosuch.field", "train"])
        return key, value

    def set(self) -> Case:
        d = self._dir()
        key, value = self._bad_value()
        return Case("set", f"{key}={value[:30]}", self._train(d, self.fx["data"], ["--set", f"{key}={value}"]),
                    [key])

    def yaml(self) -> Case:
        d, rng = self._dir(), self.rng
        key, value = self._bad_value()
        sec, _, name = key.partition(".")
        choice = rng.randrange(4)
        if choice == 0:
            text = f"{sec}:\n  {name}: {value}\n" if name else f"{sec}: {value}\n"
        elif choice == 1:
            text, _ = _text_mutate("model:\n  image_size: 32\ntrain:\n  batch_size: 4\n  lr_g: 0.0002\n", rng)
        elif choice == 2:
            text = rng.choice(["- 1\n- 2\n", "just a string\n", "model: [1, 2]\n", "model:\n  - image_size\n",
                               "a: &x [*x]\n", "model: !!binary AAAA\n", "? [a]\n: b\n", "%YAML 9.9\n---\n"])
        else:
            text = "model:\n" + "  " * 0 + "x: " + "{a: " * rng.choice([100, 3000]) + "1" + "}" * 10 + "\n"
        cfg = d / "config.yaml"
        cfg.write_bytes(text.encode("utf-8", "surrogateescape"))
        return Case("yaml", f"{key}: {value[:30]}" if choice == 0 else f"yaml form {choice}",
                    self._train(d, self.fx["data"], config=str(cfg)), [cfg.name, key])

    def checkpoint(self) -> Case:
        from safetensors import safe_open
        from safetensors.torch import save_file

        d, rng = self._dir(), self.rng
        src = self.fx["ckpt"]
        with safe_open(str(src), framework="pt") as fh:
            meta = dict(fh.metadata())
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
        choice = rng.randrange(7)
        setting = []
        if choice == 0:  # the config
            cfg = json.loads(meta["config"])
            sec = rng.choice(list(cfg))
            name = rng.choice(list(cfg[sec]))
            cfg[sec][name] = rng.choice([20000, 999, -1, 0, "x", None, [1], {"a": 1}, 1e300, True, 17, 63])
            meta["config"], what = json.dumps(cfg), f"config {sec}.{name}={cfg[sec][name]!r}"
            setting = [f"{sec}.{name}"]
        elif choice == 1:  # the state
            st = json.loads(meta["state"])
            key = rng.choice(["step", "batches", "ema_updates", "world_size", "optimizer_groups", "epoch"])
            st[key] = rng.choice(["abc", -1, 2 ** 70, None, [], {"G": [{"lr": "x"}]}, 1.5, {"G": []}])
            meta["state"], what = json.dumps(st), f"state {key}={st[key]!r}"
        elif choice == 2:
            meta[rng.choice(["config", "state", "format"])] = rng.choice(["", "[" * 100000, "{}", "null", "1"])
            what = "metadata replaced"
        elif choice == 3:  # a tensor dropped, reshaped, retyped or poisoned
            import torch

            key = rng.choice(sorted(tensors))
            op = rng.randrange(4)
            if op == 0:
                del tensors[key]
            elif op == 1:
                tensors[key] = torch.zeros(3, 5)
            elif op == 2:
                tensors[key] = tensors[key].to(torch.int32) if tensors[key].is_floating_point() else tensors[key].float()
            else:
                tensors[key] = torch.full_like(tensors[key].float(), float("nan")).to(tensors[key].dtype)
            what = f"tensor {key} {['dropped', 'reshaped', 'retyped', 'NaN'][op]}"
        elif choice == 4:
            data, what = _bytes_mutate(src.read_bytes(), rng)
        elif choice == 5:
            data = struct.pack("<Q", rng.choice([2 ** 63, 10 ** 12, 8])) + b"{" * 8
            what = "a header length"
        else:
            data, what = b"\x80\x04\x95" + os.urandom(64), "a pickle"
        if choice <= 3:
            save_file(tensors, str(d / "tmp.safetensors"), metadata=meta)
            data = (d / "tmp.safetensors").read_bytes()
        target = rng.randrange(3)
        if target == 0:
            ckpt = d / "model.safetensors"
            ckpt.write_bytes(data)
            argv = self._transfer(d, self.fx["image"], self.fx["pose"], ckpt)
        elif target == 1:
            ckpt = d / "model.safetensors"
            ckpt.write_bytes(data)
            argv = ["export", "--checkpoint", str(ckpt), "--out", str(d / "export.safetensors")]
        else:
            run = d / "run"
            shutil.copytree(self.fx["run"], run)
            ckpt = run / "checkpoints" / "last.safetensors"
            ckpt.write_bytes(data)
            argv = self._train(d, self.fx["data"]) + ["--resume", "--max-steps", "3"]
            argv[argv.index("--out") + 1] = str(run)
        return Case("checkpoint", what, argv, [ckpt.name, "checkpoint", *setting])

    def numbers(self) -> Case:
        return Case("numbers", *_extra().numbers_case(self))

    def weights(self) -> Case:
        return Case("weights", *_extra().weights_case(self))

    def video(self) -> Case:
        return Case("video", *_media().video_case(self))

    def cache(self) -> Case:
        return Case("cache", *_media().cache_case(self))

    def make(self, kind: str) -> Case:
        return getattr(self, kind)()


def _extra():
    from experiments import fuzzing_extra

    return fuzzing_extra


def _media():
    from experiments import fuzzing_media

    return fuzzing_media


# ----------------------------------------------------------------------------- running
def run_one(argv: list[str], env: dict | None = None) -> dict:
    """``main(argv)`` in this process (with ``env`` set in ``os.environ`` for the run): the exit
    code and what it printed on stderr."""
    from poseshift.cli import main

    err, out = io.StringIO(), io.StringIO()
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        with redirect_stderr(err), redirect_stdout(out):
            rc = main(argv)
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 1
    except BaseException as e:  # the defect being looked for
        return {"rc": None, "stderr": err.getvalue()[:4000], "exception": f"{type(e).__name__}: {e}"[:300]}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return {"rc": rc, "stderr": err.getvalue()[:4000]}


def worker() -> None:
    """Read case command lines (JSON, a line each: a list, or ``{"argv": [...], "env": {...}}``) on
    stdin; answer each on stdout."""
    import logging

    logging.disable(logging.WARNING)
    proto = sys.stdout
    sys.stdout = sys.stderr  # nothing but answers on the protocol stream
    for line in sys.stdin:
        msg = json.loads(line)
        proto.write(json.dumps(run_one(msg["argv"], msg.get("env")) if isinstance(msg, dict) else run_one(msg))
                    + "\n")
        proto.flush()


def classify(case: Case, result: dict | None, how: str = "") -> tuple[str, str]:
    """-> (outcome, the error line or the exception)."""
    if result is None:
        return how, ""
    if result.get("exception"):
        return "traceback", result["exception"]
    errors = [ln for ln in result["stderr"].splitlines() if ln.startswith("poseshift: error:")]
    if result["rc"] == 0:
        if "Traceback (most recent call last)" in result["stderr"]:  # one caught and printed: still a defect
            return "traceback", result["stderr"][-300:]
        return "ok", ""
    if result["rc"] == 2 and len(errors) == 1 and "Traceback" not in result["stderr"]:
        line = errors[0]
        named = any(n.lower() in line.lower() for n in case.names) or "--" in line
        return ("error" if named else "unnamed"), line
    return "traceback", result["stderr"][-300:]


class Runner:
    def __init__(self, timeout: float = 60.0):
        self.timeout, self.proc = timeout, None

    def _start(self) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1", POSESHIFT_FUZZ="1")
        env.pop("POSESHIFT_DEBUG", None)
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)

    def run(self, case: Case) -> tuple[str, str]:
        import selectors

        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.proc.stdin.write(json.dumps({"argv": case.argv, "env": case.env} if case.env else case.argv) + "\n")
        self.proc.stdin.flush()
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        if not sel.select(self.timeout):
            self.close()
            return classify(case, None, "hang")
        line = self.proc.stdout.readline()
        if not line:
            self.close()
            return classify(case, None, "crash")
        return classify(case, json.loads(line))

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


if __name__ == "__main__" and "--worker" in sys.argv:  # the Runner's worker: this file run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    worker()
