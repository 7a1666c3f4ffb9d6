"""Kill a training run again and again (SIGKILL), resume it each time, and check what is left;
kill the silhouette pass and ``transfer --adapt`` too (experiments/kill_resume.py).

    python benchmarks/kill_resume.py                  # 20 kills, seed 0 (and 6 + 6 cache/adapt kills)
    python benchmarks/kill_resume.py --kills 50 --seed 3
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: experiments/
from experiments.kill_resume import kill_caches, kill_resume  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--steps", type=int, default=200, help="the run's length (enough steps for the kills)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-kills", type=int, default=6, help="kills of the silhouette pass and of --adapt, each")
    args = ap.parse_args()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        c = kill_caches(Path(tmp), args.cache_kills, args.seed)
    print(f"# silhouette pass and transfer --adapt: {c['kills']} kills: {c['bad_masks']} masks trusted that do not "
          f"open or fit, {c['changed_checkpoint']} checkpoints changed, {c['half_renders']} half-written renders")
    for p in c["problems"]:
        print(f"problem: {p}")
    with tempfile.TemporaryDirectory() as tmp:
        r = kill_resume(Path(tmp), args.kills, args.steps, args.seed)
    lost = r["lost"] or [0]
    print(f"# poseshift kill/resume: {r['kills']} kills ({r['mid_write']} during a checkpoint write), "
          f"{args.steps} steps, checkpoint every 2, seed {args.seed}, {time.perf_counter() - t0:.0f} s")
    print(f"corrupt checkpoints: {r['corrupt']}")
    print(f"steps lost per kill: max {max(lost)}, mean {sum(lost) / len(lost):.2f} "
          f"(over one checkpoint interval: {r['lost_over_interval']})")
    print(f"temporary files left: {len(r['tmp_left'])}")
    print(f"log.jsonl holds each step exactly once: {r['log_each_step_once']}")
    print(f"last.json agrees with the checkpoint: {r['json_agrees']}")
    print(f"final weights equal an uninterrupted run's: {r['equal_to_uninterrupted']}")
    for p in r["problems"]:
        print(f"problem: {p}")
    ok = (c["bad_masks"] == 0 and c["changed_checkpoint"] == 0 and c["half_renders"] == 0 and not c["problems"]
          and r["corrupt"] == 0 and r["lost_over_interval"] == 0 and not r["tmp_left"] and r["log_each_step_once"]
          and r["json_agrees"] and r["equal_to_uninterrupted"] and not r["problems"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
