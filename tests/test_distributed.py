"""Two processes (torchrun, gloo, CPU) train as one process fed the same global batches, and
resume from their own checkpoint; a run resumes bit-exactly with DataLoader workers."""
import json
import os
import subprocess
import sys

import pytest
import torch

from poseshift.checkpoint import Checkpoint
from poseshift.loading import load_inference_generator
from poseshift.training import Trainer
from poseshift.training.batches import BatchPlan
from tests.helpers import MICRO, figures, micro_config

# No image buffer: each rank keeps its own (as CycleGAN's), which one process cannot mirror.
SETTINGS = [*MICRO, "train.pool_size=0", "train.device=cpu", "train.checkpoint_every=4", "train.log_every=2"]


def _torchrun(data, run, steps, resume=False):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "poseshift", "train", "--config", "tiny", "--data", str(data), "--out", str(run),
           "--max-steps", str(steps), "--quiet", *[a for s in SETTINGS for a in ("--set", s)]]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(cmd + (["--resume"] if resume else []), capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr[:3000] + done.stderr[-1500:]
    return done.stdout


def _assert_same_run(one, two):
    """Same gradients (Adam's first moments) and the same renders, within float tolerance.
    Weights are compared through what they compute: a conv bias before an instance norm has a
    gradient of exactly zero in exact arithmetic, and Adam turns its rounding noise (the ranks'
    sums are added in another order) into steps of up to the learning rate that change no output.
    That noise grows through a GAN's updates (1e-6 in the renders after 2 steps, 3e-4 after 3 on
    this tiny model), so the comparison is after 2 steps. Ranks that did not all-reduce would
    differ by tens of percent (each would follow the gradient of half the batch)."""
    a, b = Checkpoint(one), Checkpoint(two)
    assert a.state["step"] == b.state["step"] and b.state["world_size"] == 2
    for net in ("G", "D", "Phi"):
        keys = [k for k in a.tensors if k.startswith(f"opt.{net}.") and k.endswith("exp_avg")]
        x = torch.cat([a.tensors[k].flatten() for k in keys])
        y = torch.cat([b.tensors[k].flatten() for k in keys])
        assert keys and float((x - y).norm() / x.norm()) < 1e-3, net
    g1, _ = load_inference_generator(one)
    g2, _ = load_inference_generator(two)
    torch.manual_seed(0)
    image, maps = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 18, 32, 32)
    with torch.no_grad():
        r1, r2 = g1(image, maps), g2(image, maps)
    assert (r1 - r2).abs().max() < 1e-4
    for name in ("D", "Phi"):
        sd1, sd2 = a.module_state(name), b.module_state(name)
        assert sd1.keys() == sd2.keys()


def test_two_processes_train_as_one_and_resume(tmp_path):
    data = figures(tmp_path)
    cfg = micro_config("train.pool_size=0", "train.device=cpu", "train.checkpoint_every=4", "train.log_every=2")
    ref = tmp_path / "one"
    Trainer(cfg, data, ref, progress=False).train(max_steps=2)

    run = tmp_path / "two"
    out = _torchrun(data, run, 2)
    assert out.count("checkpoint:") == 1  # only rank 0 speaks
    _assert_same_run(ref / "checkpoints" / "last.safetensors", run / "checkpoints" / "last.safetensors")
    first = json.loads((ref / "log.jsonl").read_text().splitlines()[0])
    row = json.loads((run / "log.jsonl").read_text().splitlines()[0])
    for k in ("loss_G", "loss_D", "loss_Phi", "loss_content"):  # the losses averaged over both ranks
        assert row[k] == pytest.approx(first[k], rel=1e-5), k

    # Resumed under torchrun, the run is the one that was never stopped, bit for bit.
    _torchrun(data, run, 5, resume=True)
    straight = tmp_path / "straight"
    _torchrun(data, straight, 5)
    a, b = Checkpoint(run / "checkpoints" / "last.safetensors"), Checkpoint(straight / "checkpoints" / "last.safetensors")
    assert a.state["step"] == 5 and a.tensors.keys() == b.tensors.keys()
    for k, v in a.tensors.items():
        assert torch.equal(v, b.tensors[k]), k
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 5]  # rank 0's log, once per log step, resumed in place


def test_rank_slices_make_up_the_global_batch():
    from poseshift.training.batches import RankBatches
    from poseshift.training.distributed import World

    plan = BatchPlan(units=10, batch=4, seed=3, flip="mirror", poses=10)
    whole = iter(RankBatches(plan, World(), start=0))
    r0, r1 = iter(RankBatches(plan, World(0, 2), 0)), iter(RankBatches(plan, World(1, 2), 0))
    for b in range(5):  # across an epoch boundary (2 batches per epoch)
        assert next(whole) == next(r0) + next(r1) == [tuple(int(v) for v in k) for k in plan.keys(b)]
    assert len({k[0] for k in [*map(tuple, plan.keys(0)), *map(tuple, plan.keys(1))]}) == 8  # no repeats
    late = iter(RankBatches(plan, World(), start=3))
    assert next(late) == [tuple(int(v) for v in k) for k in plan.keys(3)]


def test_resume_with_workers_is_bit_exact(tmp_path):
    data = figures(tmp_path)
    cfg = micro_config("train.workers=2", "train.g_ema_decay=0.9", "train.checkpoint_every=5")
    Trainer(cfg, data, tmp_path / "straight", progress=False).train(max_steps=10)
    Trainer(cfg, data, tmp_path / "cut", progress=False).train(max_steps=5)
    Trainer(cfg, data, tmp_path / "cut", resume=True, progress=False).train(max_steps=10)
    a = Checkpoint(tmp_path / "straight" / "checkpoints" / "last.safetensors")
    b = Checkpoint(tmp_path / "cut" / "checkpoints" / "last.safetensors")
    assert a.tensors.keys() == b.tensors.keys()
    for k, v in a.tensors.items():
        assert torch.equal(v, b.tensors[k]), k


def test_global_batch_must_divide_among_processes(tmp_path):
    from poseshift.training.batches import BatchSource
    from poseshift.training.distributed import World

    plan = BatchPlan(units=8, batch=3, seed=0, flip="none", poses=8)
    with pytest.raises(ValueError, match="train.batch_size=3"):
        BatchSource(None, plan, World(0, 2), torch.device("cpu"), 1.0)
