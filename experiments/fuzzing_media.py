"""Two more kinds of fuzz case for :mod:`experiments.fuzzing` (issue 30): the new inputs.

* ``video``: a malformed video given to ``poseshift pose VIDEO --out x.csv`` and to ``poseshift
  animate --poses VIDEO``: an MP4 cut at a random byte or with bytes flipped, random bytes, text
  or nothing named ``.mp4``, a container with no video frames (a video stream cut to 0 frames, or
  sound alone), a 2-frame file whose stated length is 4 hours (fps 1/7200) or 2,000 s, a small file
  longer than a small ``--max-seconds``, frames 4100x16 and 16x4100 (over ``MAX_SIDE``), a good
  video under another video suffix.
* ``cache``: the silhouette cache (``POSESHIFT_CACHE``, or a data folder's ``silhouettes/``)
  damaged before ``poseshift evaluate --warp-only`` or ``poseshift transfer`` with the packaged
  warping model: mask files truncated, random bytes, a PNG of the wrong size or mode, a folder
  or a link to ``/dev/zero`` where a mask should be, a folder where the cache folder should be, a
  read-only cache folder (as root this one writes anyway), ``POSESHIFT_CACHE`` naming a file, an
  old half-written temporary.

Each function takes the ``Cases`` object and returns ``(what, argv, names, env)``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def _write_video(path: Path, w: int, h: int, n: int, fps: float = 10.0) -> Path:
    import imageio_ffmpeg
    import numpy as np

    rng = np.random.default_rng(0)
    g = imageio_ffmpeg.write_frames(str(path), (w, h), fps=fps, macro_block_size=1, ffmpeg_log_level="error")
    g.send(None)
    for _ in range(n):
        g.send(rng.integers(0, 256, (h, w, 3), dtype=np.uint8).tobytes())
    g.close()
    return path


def video_fixtures(cases) -> dict[str, Path]:
    """Made once per run, beside the other fixtures."""
    if "videos" in cases.fx:
        return cases.fx["videos"]
    import imageio_ffmpeg

    root = cases.work.parent / "fixtures" / "videos"
    root.mkdir(parents=True, exist_ok=True)
    v = {"good": _write_video(root / "good.mp4", 32, 32, 10),
         "wide": _write_video(root / "wide.mp4", 4100, 16, 2),
         "tall": _write_video(root / "tall.mp4", 16, 4100, 2),
         "hours": _write_video(root / "hours.mp4", 32, 32, 2, fps=1 / 7200),
         "long": _write_video(root / "long.mp4", 32, 32, 2, fps=0.001)}
    ff = imageio_ffmpeg.get_ffmpeg_exe()
    for name, args in (("zero", ["-i", str(v["good"]), "-frames:v", "0", "-c", "copy"]),
                       ("sound", ["-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "0.5"])):
        out = root / f"{name}.mp4"
        subprocess.run([ff, "-y", "-loglevel", "error", *args, str(out)], check=True, capture_output=True)
        v[name] = out
    cases.fx["videos"] = v
    return v


def video_case(cases) -> tuple[str, list[str], list[str], dict]:
    import sys

    _bytes_mutate = sys.modules[type(cases).__module__]._bytes_mutate
    d, rng = cases._dir(), cases.rng
    v = video_fixtures(cases)
    good = v["good"].read_bytes()
    suffix, extra = ".mp4", []
    choice = rng.randrange(12)
    if choice == 0:
        cut = rng.randrange(len(good))
        data, what = good[:cut], f"cut at byte {cut} of {len(good)}"
    elif choice == 1:
        data, what = bytes(rng.randrange(256) for _ in range(rng.choice([1, 100, 5000]))), "random bytes"
    elif choice == 2:
        data, what = b"this is not a video\n" * rng.randint(1, 50), "a text file"
    elif choice == 3:
        data, what = b"", "empty"
    elif choice in (4, 5):
        key = rng.choice(["zero", "sound"])
        data, what = v[key].read_bytes(), {"zero": "a video stream of 0 frames", "sound": "sound alone"}[key]
    elif choice == 6:
        key = rng.choice(["hours", "long"])
        data, what = v[key].read_bytes(), {"hours": "2 frames stating 4 hours", "long": "2 frames stating 2000 s"}[key]
    elif choice == 7:
        limit = rng.choice(["0.3", "0.9", "0.05", "0", "-1", "nan", "inf", "1e-300"])
        data, what, extra = good, f"1 s with --max-seconds {limit}", ["--max-seconds", limit]
    elif choice == 8:
        key = rng.choice(["wide", "tall"])
        data, what = v[key].read_bytes(), {"wide": "4100x16 frames", "tall": "16x4100 frames"}[key]
    elif choice == 9:
        suffix = rng.choice([".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg"])
        data, what = good, f"an MP4 named {suffix}"
    else:
        data, what = _bytes_mutate(good, rng)
    bad = d / f"motion{suffix}"
    bad.write_bytes(data)
    if rng.random() < 0.5:
        argv = ["pose", str(bad), "--out", str(d / "x.csv"), "--quiet", *extra]
        what = f"pose: {what}"
    else:
        argv = ["animate", "--checkpoint", str(cases.fx["export"]), "--image", str(cases.fx["image"]),
                "--poses", str(bad), "--out", str(d / "y.mp4"), "--quiet", *extra]
        what = f"animate: {what}"
    return what, argv, [bad.name, "--max-seconds"], {}


# ----------------------------------------------------------------------------- cache
def _transfer_argv(cases, d: Path) -> list[str]:
    return ["transfer", "--checkpoint", "synthetic-64", "--image", str(cases.fx["image"]), "--pose",
            str(cases.fx["pose"]), "--source-pose", str(cases.fx["pose"]), "--out", str(d / "out.png")]


def cache_fixture(cases) -> Path:
    """A full cache (POSESHIFT_CACHE layout) for the fixture data's pairs and photo, made once."""
    if "cache" in cases.fx:
        return cases.fx["cache"]
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from poseshift.cli import main

    root = cases.work.parent / "fixtures" / "cache"
    tmp = cases.work.parent / "fixtures" / "cache-run"
    tmp.mkdir(parents=True, exist_ok=True)
    old = os.environ.get("POSESHIFT_CACHE")
    os.environ["POSESHIFT_CACHE"] = str(root)
    try:
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            main(["evaluate", "--data", str(cases.fx["data"]), "--warp-only", "--metrics", "ssim", "--out",
                  str(tmp / "r.json"), "--quiet"])
            main(_transfer_argv(cases, tmp))
    finally:
        if old is None:
            os.environ.pop("POSESHIFT_CACHE", None)
        else:
            os.environ["POSESHIFT_CACHE"] = old
    cases.fx["cache"] = root
    return root


def cache_case(cases) -> tuple[str, list[str], list[str], dict]:
    import io
    import time

    from PIL import Image

    d, rng = cases._dir(), cases.rng
    base = cache_fixture(cases)
    in_data = rng.random() < 0.3  # the data folder's own cache (poseshift prepare's)
    if in_data:
        data = cases._data_copy(d)
        folder = data / "silhouettes"
        shutil.copytree(base / "silhouettes", folder)
        env = {"POSESHIFT_CACHE": str(d / "user-cache")}
    else:
        data = cases.fx["data"]
        shutil.copytree(base, d / "cache")
        folder = d / "cache" / "silhouettes"
        env = {"POSESHIFT_CACHE": str(d / "cache")}
    masks = sorted(folder.glob("*.png"))
    victims = masks if rng.random() < 0.3 else [rng.choice(masks)]
    choice = rng.randrange(11)
    what = ""
    for p in victims:
        raw = p.read_bytes()
        if choice == 0:
            p.write_bytes(raw[: rng.randrange(len(raw))]); what = "truncated"
        elif choice == 1:
            p.write_bytes(os.urandom(rng.choice([0, 10, 500]))); what = "random bytes"
        elif choice == 2:
            w, h = rng.choice([(7, 5), (1, 1), (3000, 2), (33, 32)])
            Image.new("L", (w, h), 255).save(p, "PNG"); what = f"a {w}x{h} PNG"
        elif choice == 3:
            buf = io.BytesIO()
            with Image.open(io.BytesIO(raw)) as im:
                mode = rng.choice(["RGBA", "I;16", "1", "P", "F"])
                try:
                    im.convert(mode).save(buf, rng.choice(["PNG", "TIFF"]))
                except (OSError, ValueError, KeyError):
                    im.convert(mode).save(buf, "TIFF")
            p.write_bytes(buf.getvalue()); what = "another mode or format"
        elif choice == 4:
            p.unlink(); p.mkdir(); (p / "x").write_text("x"); what = "a folder in its place"
        elif choice == 5:
            p.unlink(); p.symlink_to("/dev/zero"); what = "a link to /dev/zero"
        elif choice == 6:
            p.unlink(); p.symlink_to(d / "nowhere.png"); what = "a dangling link"
        elif choice == 7:
            p.write_bytes(raw[:33] + b"\0" * 16 + raw[33:]); what = "junk after the header"
    if choice == 8:
        shutil.rmtree(folder); folder.write_text("not a folder"); what = "a file where the cache folder is"
        if in_data:  # a data folder's file named silhouettes
            what += " (data)"
    elif choice == 9:
        for p in folder.iterdir():
            p.unlink()
        tmp = folder / ".tmp-abc123.png"
        tmp.write_bytes(masks[0].name.encode()[:5])
        old = time.time() - 3600
        os.utime(tmp, (old, old))
        os.chmod(folder, 0o555); what = "a read-only, emptied cache folder with an old temporary"
    elif choice == 10:
        if not in_data:
            shutil.rmtree(d / "cache")
            (d / "cache").write_text("a file")
            what = "POSESHIFT_CACHE names a file"
        else:
            os.chmod(folder, 0o555); what = "a read-only data cache"
    if rng.random() < 0.7 or in_data:
        argv = ["evaluate", "--data", str(data), "--warp-only", "--metrics", "ssim", "--out",
                str(d / "report.json"), "--quiet"]
        what = f"evaluate{' (data cache)' if in_data else ''}: {what}"
    else:
        argv = _transfer_argv(cases, d)
        what = f"transfer: {what}"
    return what, argv, ["silhouette", "cache", *(p.name for p in victims)], env
