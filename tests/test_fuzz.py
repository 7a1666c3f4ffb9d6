"""The fast part of the fuzz suite (experiments/fuzzing.py; benchmarks/fuzz.py runs 1,000 and more):
a few hundred malformed inputs of every kind through the command line's entry point, in a worker."""
import collections

from experiments import fuzzing as fz


def test_malformed_inputs_of_every_kind_end_in_one_named_line(tmp_path):
    fx = fz.make_fixtures(tmp_path / "fixtures")
    cases = fz.Cases(fx, tmp_path / "cases", seed=11)
    runner = fz.Runner(timeout=90)
    seen = collections.Counter()
    short = []
    try:
        for i in range(320):
            kind = fz.KINDS[i % len(fz.KINDS)]
            case = cases.make(kind)
            outcome, detail = runner.run(case)
            seen[outcome] += 1
            if outcome not in ("ok", "error"):
                short.append(f"{outcome}: {kind}: {case.what}: {detail[:200]}")
    finally:
        runner.close()
    assert not short, short[:5]
    # the cases are mostly malformed: they do reach the checks (a damaged silhouette cache is rebuilt: ok)
    assert seen["error"] > 0.6 * sum(seen.values())
