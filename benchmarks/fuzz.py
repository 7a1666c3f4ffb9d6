"""Fuzz every input poseshift reads through its command line; print counts per kind and outcome.

    python benchmarks/fuzz.py                   # 1,200 cases (150 of each kind), seed 0
    python benchmarks/fuzz.py --cases 4000 --seed 7 --timeout 120

The cases and outcomes are described in ``experiments/fuzzing.py``. The goal: 0 tracebacks,
0 hangs, 0 crashes, and every error one line naming the file or setting (``unnamed`` counts
those that do not). Exit status 1 when any case falls short.
"""
from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: experiments/
from experiments.fuzzing import KINDS, Cases, Runner, make_fixtures  # noqa: E402

OUTCOMES = ("ok", "error", "unnamed", "traceback", "hang", "crash")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1200, help="in all, spread evenly over the kinds")
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=90.0, help="seconds before a case counts as a hang")
    ap.add_argument("--show", type=int, default=20, help="failures to print in full")
    args = ap.parse_args()
    counts = {k: collections.Counter() for k in args.kinds}
    failures = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        fx = make_fixtures(Path(tmp) / "fixtures")
        cases = Cases(fx, Path(tmp) / "cases", args.seed)
        runner = Runner(args.timeout)
        try:
            for i in range(args.cases):
                kind = args.kinds[i % len(args.kinds)]
                case = cases.make(kind)
                outcome, detail = runner.run(case)
                counts[kind][outcome] += 1
                if outcome not in ("ok", "error"):
                    failures.append((case, outcome, detail))
                if (i + 1) % 100 == 0:
                    print(f"# {i + 1}/{args.cases} cases, {time.perf_counter() - t0:.0f} s, "
                          f"{len(failures)} short", file=sys.stderr, flush=True)
        finally:
            runner.close()
    print(f"# poseshift fuzz: {args.cases} cases, seed {args.seed}, {time.perf_counter() - t0:.0f} s")
    print(f"| {'kind':<11} | " + " | ".join(f"{o:>9}" for o in OUTCOMES) + " | total |")
    print("| --- | " + " | ".join("---:" for _ in OUTCOMES) + " | ---: |")
    for kind, c in counts.items():
        print(f"| {kind:<11} | " + " | ".join(f"{c[o]:>9}" for o in OUTCOMES) + f" | {sum(c.values()):>5} |")
    total = sum(counts.values(), collections.Counter())
    print(f"| {'all':<11} | " + " | ".join(f"{total[o]:>9}" for o in OUTCOMES) + f" | {sum(total.values()):>5} |")
    for case, outcome, detail in failures[: args.show]:
        print(f"\n{outcome}: {case.kind}: {case.what}\n  argv: {' '.join(case.argv)[:300]}\n  {detail[:400]}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
