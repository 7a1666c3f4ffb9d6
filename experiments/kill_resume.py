"""Kill a training run again and again (SIGKILL), resume it each time, and check what is left
(:func:`kill_resume`); kill the silhouette pass and ``transfer --adapt`` too (:func:`kill_caches`).
``benchmarks/kill_resume.py`` runs both at length; ``tests/test_kill.py`` runs a few kills.

A micro run (32 px, 8-channel networks, a checkpoint every 2 steps, a log line every step) is
started with ``python -m poseshift train``; each start is killed either at a random moment or the
instant a checkpoint's temporary file appears (mid-write), then resumed with ``--resume``. After
each kill it checks the checkpoint opens and its JSON agrees once the next start has run, and
counts the steps lost (the last logged step minus the checkpoint's). At the end it runs to the
last step and checks: no temporary files, ``log.jsonl`` holds each step exactly once, and the
weights equal those of one uninterrupted run (resume is bit-exact).
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

MICRO = ["model.image_size=32", "model.g_channels=8", "model.g_blocks=1", "model.d_channels=8",
         "model.phi_channels=8", "model.phi_blocks=1", "train.batch_size=4", "train.log_every=1",
         "train.sample_every=1000", "train.checkpoint_every=2", "train.workers=0"]


def _command(data: Path, run: Path, steps: int, resume: bool) -> list[str]:
    """``--resume`` where a checkpoint exists; a run killed before its first one starts over
    (``--overwrite``: poseshift never replaces a run folder's files unasked)."""
    sets = [a for kv in MICRO for a in ("--set", kv)]
    again = ["--resume"] if (run / "checkpoints" / "last.safetensors").is_file() else ["--overwrite"]
    return [sys.executable, "-m", "poseshift", "train", "--config", "tiny", "--data", str(data), "--out", str(run),
            "--max-steps", str(steps), "--quiet", *sets, *(again if resume else [])]


def _env() -> dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS="1")


def _tmp_files(run: Path, where: tuple[str, ...] = ("", "checkpoints", "samples")) -> list[Path]:
    return [p for sub in where if (run / sub).is_dir() for p in (run / sub).glob(".*.tmp")]


def _logged_steps(run: Path) -> list[int]:
    path = run / "log.jsonl"
    if not path.is_file():
        return []
    steps = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            steps.append(int(json.loads(line)["step"]))
        except (ValueError, KeyError, TypeError):
            pass  # a cut last line: the next start drops it
    return steps


def _checkpoint_step(run: Path) -> int | None:
    """The checkpoint's step (None when there is none); raises when it does not open."""
    from poseshift.checkpoint import Checkpoint

    path = run / "checkpoints" / "last.safetensors"
    return int(Checkpoint(path).state["step"]) if path.is_file() else None


def kill_resume(root: Path, kills: int = 20, steps: int = 200, seed: int = 0, progress: bool = True) -> dict:
    import torch

    from poseshift.checkpoint import Checkpoint
    from poseshift.stick_figures import write_figures

    rng = random.Random(seed)
    data = write_figures(root / "data", people=6, poses_per_person=2, size=32, seed=3)
    run, straight = root / "run", root / "straight"
    report = {"kills": 0, "mid_write": 0, "corrupt": 0, "lost": [], "lost_over_interval": 0, "problems": []}
    done = False
    while report["kills"] < kills and not done:
        proc = subprocess.Popen(_command(data, run, steps, resume=run.exists()), env=_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        mid_write = rng.random() < 0.5
        # Mostly a checkpoint's write; else any (the log's rewrite at a resume, config.json).
        watch = ("checkpoints",) if rng.random() < 0.7 else ("", "checkpoints")
        # A random moment: a few steps past where the last checkpoint left off; or the instant a
        # checkpoint's temporary file appears (a kill in the middle of the write).
        target = (_checkpoint_step(run) or 0) + rng.randint(1, 8)
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if mid_write and _tmp_files(run, watch):
                break
            if not mid_write and max(_logged_steps(run), default=0) >= target:
                time.sleep(rng.uniform(0, 0.05))
                break
            time.sleep(0.002)
        if proc.poll() is not None:  # finished (or failed) before the kill
            if proc.returncode != 0:
                report["problems"].append(f"exit {proc.returncode}: {proc.stderr.read().decode()[-300:]}")
            done = True
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        report["kills"] += 1
        report["mid_write"] += bool(mid_write and _tmp_files(run, watch))
        try:
            at = _checkpoint_step(run)
        except Exception as err:  # noqa: BLE001 - what is being counted
            report["corrupt"] += 1
            report["problems"].append(f"kill {report['kills']}: checkpoint does not open ({err})")
            at = None
        logged = _logged_steps(run)
        lost = (max(logged) if logged else 0) - (at or 0)
        report["lost"].append(lost)
        report["lost_over_interval"] += lost > 2
        if progress:
            print(f"# kill {report['kills']}: {'mid-write' if mid_write else 'random'}, checkpoint at step {at}, "
                  f"{lost} logged steps lost", file=sys.stderr, flush=True)
    final = subprocess.run(_command(data, run, steps, resume=True), env=_env(), capture_output=True, text=True)
    if final.returncode != 0:
        report["problems"].append(f"final resume exit {final.returncode}: {final.stderr[-300:]}")
    subprocess.run(_command(data, straight, steps, resume=False), env=_env(), capture_output=True, check=True)
    report["tmp_left"] = [str(p) for p in _tmp_files(run)]
    logged = _logged_steps(run)
    report["log_each_step_once"] = logged == list(range(1, steps + 1))
    a = Checkpoint(run / "checkpoints" / "last.safetensors")
    b = Checkpoint(straight / "checkpoints" / "last.safetensors")
    side = json.loads((run / "checkpoints" / "last.json").read_text())["state"]["step"]
    report["json_agrees"] = side == a.state["step"] == steps
    report["equal_to_uninterrupted"] = a.tensors.keys() == b.tensors.keys() and all(
        torch.equal(v, b.tensors[k]) for k, v in a.tensors.items())
    return report


_SILHOUETTE_PASS = """
import sys
from pathlib import Path
from poseshift.images import read_image
from poseshift.silhouette import SilhouetteCache
cache = SilhouetteCache(Path(sys.argv[1]))
for p in sorted(Path(sys.argv[2]).glob("*.png")):
    cache(read_image(p))
"""


def kill_caches(root: Path, kills: int = 6, seed: int = 0, progress: bool = True) -> dict:
    """SIGKILL the silhouette pass (what ``prepare`` and first use run: poseshift.silhouette) and
    ``transfer --adapt`` at random moments. After each kill every mask in the cache must open and
    fit its image (a half-written one is never trusted), and the checkpoint must be unchanged and
    no half-written render left."""
    import hashlib

    from poseshift.images import read_image
    from poseshift.silhouette import SilhouetteCache
    from poseshift.stick_figures import write_figures

    rng = random.Random(seed)
    data = write_figures(root / "cdata", people=6, poses_per_person=2, size=96, seed=3)
    report = {"kills": 0, "bad_masks": 0, "changed_checkpoint": 0, "half_renders": 0, "problems": []}
    cache_dir = root / "silhouettes"
    for k in range(kills):
        proc = subprocess.Popen([sys.executable, "-c", _SILHOUETTE_PASS, str(cache_dir), str(data / "images")],
                                env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.0, 6.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        report["kills"] += 1
        cache = SilhouetteCache(cache_dir, segmenter=lambda im: (_ for _ in ()).throw(AssertionError("recomputed")))
        for p in sorted((data / "images").glob("*.png")):
            image = read_image(p)
            if cache.path_for(image).is_file():
                try:
                    cache(image)
                except Exception as err:  # noqa: BLE001 - what is being counted
                    report["bad_masks"] += 1
                    report["problems"].append(f"kill {k + 1}: {cache.path_for(image).name}: {err}")
    run = root / "arun"
    subprocess.run(_command(data, run, 2, resume=False) + ["--set", "model.g_arch=flow"], env=_env(),
                   capture_output=True, check=True)
    ckpt = run / "checkpoints" / "last.safetensors"
    before = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    kp = json.dumps([[float(x), float(y)] for x, y in zip(range(10, 28), range(20, 38))])
    (root / "tgt.json").write_text(kp)
    for k in range(kills):
        out = root / f"adapted{k}.png"
        proc = subprocess.Popen([sys.executable, "-m", "poseshift", "transfer", "--checkpoint", str(ckpt), "--image",
                                 str(sorted((data / "images").glob("*.png"))[0]), "--pose", str(root / "tgt.json"),
                                 "--source-pose", str(data / "annotations.csv"), "--adapt", "200", "--out", str(out)],
                                env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(2.0, 8.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        report["kills"] += 1
        if hashlib.sha256(ckpt.read_bytes()).hexdigest() != before:
            report["changed_checkpoint"] += 1
        if out.exists():
            try:
                read_image(out)
            except Exception:  # noqa: BLE001 - what is being counted
                report["half_renders"] += 1
        if progress:
            print(f"# cache/adapt kill {report['kills']}", file=sys.stderr, flush=True)
    return report
