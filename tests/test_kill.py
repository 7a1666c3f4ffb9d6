"""Kills during training and around checkpoint writes, then resumes (benchmarks/kill_resume.py
does 20): no corrupt checkpoint, at most one interval lost, no temporary files, each step
logged once, and the same weights as a run never killed."""
from experiments.kill_resume import kill_resume


def test_killed_and_resumed_three_times_equals_an_uninterrupted_run(tmp_path):
    r = kill_resume(tmp_path, kills=3, steps=30, seed=1, progress=False)
    assert r["kills"] == 3 and not r["problems"], r["problems"]
    assert r["corrupt"] == 0 and r["lost_over_interval"] == 0
    assert r["tmp_left"] == [] and r["log_each_step_once"] and r["json_agrees"]
    assert r["equal_to_uninterrupted"]
