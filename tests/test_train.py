"""End-to-end: a short run lowers loss_Phi, resumes exactly, and its checkpoint renders."""
import json

import numpy as np
import pytest
import torch

from poseshift.checkpoint import Checkpoint
from poseshift.cli import main
from poseshift.pose.keypoints_io import write_keypoints_json
from poseshift.training import Trainer, TrainError, lr_factor
from tests.helpers import MICRO, figures, micro_config


def test_lr_schedule_is_constant_then_linear_to_zero():
    assert lr_factor(0, 10, 300, 100) == 1.0
    assert lr_factor(999, 10, 300, 100) == 1.0
    assert lr_factor(2000, 10, 300, 100) == pytest.approx(0.5)
    assert lr_factor(3000, 10, 300, 100) == 0.0
    # Fewer steps than epochs (train.schedule = "budget" over a short run): still the shape.
    assert lr_factor(10, 30 / 300, 300, 100) == 1.0
    assert lr_factor(20, 30 / 300, 300, 100) == pytest.approx(0.5)


def _rates_used(trainer, steps):
    """G's learning rate at each step of a run (set at the start of the step)."""
    lrs, step = [], trainer.train_step

    def recording(batch):
        out = step(batch)
        lrs.append(trainer.opt["G"].param_groups[0]["lr"])
        return out

    trainer.train_step = recording
    trainer.train(max_steps=steps)
    return lrs


def test_budget_schedule_decays_to_zero_over_max_steps_and_epochs_does_not(tmp_path):
    data = figures(tmp_path)
    seen = {}
    for schedule in ("epochs", "budget"):
        cfg = micro_config(f"train.schedule={schedule}", "train.epochs=300", "train.decay_after=100",
                           "train.phi_warmup_steps=0")
        trainer = Trainer(cfg, data, tmp_path / schedule, progress=False)
        seen[schedule] = _rates_used(trainer, steps=12)
    lr_g = micro_config().train.lr_g
    assert seen["epochs"] == [lr_g] * 12  # 12 steps are far inside epoch 100
    budget = seen["budget"]
    assert budget[:4] == [lr_g] * 4  # a third of the budget at the full rate
    assert budget[8] == pytest.approx(lr_g * 0.5)  # two thirds in: halfway down
    assert all(a > b for a, b in zip(budget[4:], budget[5:]))  # then linear down
    assert budget[-1] == pytest.approx(lr_g * 0.125)  # step 11 of 12; step 12 would be 0


def test_a_few_dozen_steps_lower_loss_phi_and_write_the_run(tmp_path):
    data = figures(tmp_path)
    trainer = Trainer(micro_config(), data, tmp_path / "run", progress=False)
    trainer.train(max_steps=40)
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [5, 10, 15, 20, 25, 30, 35, 40]
    for key in ("loss_G", "loss_D", "loss_pose", "loss_content", "loss_style", "loss_Phi"):
        assert all(np.isfinite(r[key]) for r in rows), key
    assert rows[-1]["loss_Phi"] < 0.5 * rows[0]["loss_Phi"]
    assert (tmp_path / "run" / "checkpoints" / "last.safetensors").is_file()
    assert json.loads((tmp_path / "run" / "checkpoints" / "last.json").read_text())["state"]["step"] == 40
    assert sorted(p.name for p in (tmp_path / "run" / "samples").iterdir())[-1] == "step_0000040.png"


def test_resume_continues_at_the_saved_step_with_the_same_optimiser_state(tmp_path):
    data = figures(tmp_path)
    run = tmp_path / "run"
    first = Trainer(micro_config(), data, run, progress=False)
    first.train(max_steps=10)
    saved = Checkpoint(run / "checkpoints" / "last.safetensors")
    with pytest.raises(TrainError, match="--resume"):
        Trainer(micro_config(), data, run, progress=False)
    second = Trainer(micro_config(), data, run, resume=True, progress=False)
    assert second.step_count == 10 and second.state.consumed == first.state.consumed == 10
    for name, opt in second.opt.items():
        mine, theirs = opt.state_dict()["state"], first.opt[name].state_dict()["state"]
        assert mine.keys() == theirs.keys()
        for idx in mine:
            a, b = mine[idx], theirs[idx]
            assert torch.equal(a["exp_avg"], b["exp_avg"]) and torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])
            assert float(a["step"]) == 10
    for key, value in saved.module_state("G").items():
        assert torch.equal(second.nets.G.state_dict()[key], value)
    assert len(second.pool.images) == len(first.pool.images)
    # The resumed run draws the same batches as an uninterrupted one would have.
    assert torch.equal(second.next_batch().real, first.next_batch().real)
    second.train(max_steps=20)
    assert Checkpoint(run / "checkpoints" / "last.safetensors").state["step"] == 20


def test_cli_train_resume_and_transfer(tmp_path, capsys):
    data = figures(tmp_path)
    run = tmp_path / "run"
    sets = [a for s in MICRO for a in ("--set", s)]
    assert main(["train", "--config", "tiny", "--data", str(data), "--out", str(run),
                 "--max-steps", "6", "--quiet", *sets]) == 0
    assert main(["train", "--config", "tiny", "--data", str(data), "--out", str(run),
                 "--max-steps", "12", "--resume", "--quiet", *sets]) == 0
    assert Checkpoint(run / "checkpoints" / "last.safetensors").state["step"] == 12
    # transfer: an image of another size, a pose in that image's pixel frame.
    from PIL import Image
    Image.new("RGB", (48, 96), (200, 40, 40)).save(tmp_path / "person.png")
    kp = np.full((18, 2), np.nan, np.float32)
    kp[1], kp[8], kp[11] = (24, 30), (20, 60), (28, 60)
    write_keypoints_json(tmp_path / "pose.json", kp)
    out = tmp_path / "out.png"
    assert main(["transfer", "--checkpoint", str(run / "checkpoints" / "last.safetensors"),
                 "--image", str(tmp_path / "person.png"), "--pose", str(tmp_path / "pose.json"),
                 "--out", str(out)]) == 0
    assert Image.open(out).size == (48, 96)  # the photo's own frame (--frame model: the 32x32 square)
    # Bad input: one line naming the file, exit 2, and nothing overwritten.
    capsys.readouterr()
    assert main(["transfer", "--checkpoint", str(tmp_path / "nope.safetensors"), "--image",
                 str(tmp_path / "person.png"), "--pose", str(tmp_path / "pose.json"),
                 "--out", str(tmp_path / "o2.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert "nope.safetensors" in err and len(err.splitlines()) == 1
    assert main(["transfer", "--checkpoint", str(run / "checkpoints" / "last.safetensors"),
                 "--image", str(tmp_path / "person.png"), "--pose", str(tmp_path / "pose.json"),
                 "--out", str(out)]) == 2


def test_supervised_baseline_trains_g_on_ground_truth_pairs(tmp_path):
    from experiments.supervised import SupervisedTrainer

    data = figures(tmp_path)
    trainer = SupervisedTrainer(micro_config(), data, tmp_path / "run", progress=False)
    assert len(trainer.pairs) == 4  # train people's pairs
    batch = trainer.next_batch()
    assert batch.target is not None and batch.target.shape == batch.real.shape
    first = trainer.train_step(batch)
    d_before = [p.clone() for p in trainer.nets.D.parameters()]
    trainer.train(max_steps=25)
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert rows[-1]["loss_identity"] < first["loss_identity"]  # the L1 to the ground truth falls
    assert all(torch.equal(a, b) for a, b in zip(d_before, trainer.nets.D.parameters()))


def test_phi_warmup_trains_phi_alone_first(tmp_path):
    data = figures(tmp_path)
    trainer = Trainer(micro_config("train.phi_warmup_steps=5"), data, tmp_path / "run", progress=False)
    g0 = [p.clone() for p in trainer.nets.G.parameters()]
    phi0 = [p.clone() for p in trainer.nets.Phi.parameters()]
    trainer.train(max_steps=5)
    assert all(torch.equal(a, b) for a, b in zip(g0, trainer.nets.G.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(phi0, trainer.nets.Phi.parameters()))
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert "loss_Phi" in rows[0] and "loss_G" not in rows[0]
    trainer.train(max_steps=10)  # then the full objective
    assert not all(torch.equal(a, b) for a, b in zip(g0, trainer.nets.G.parameters()))
