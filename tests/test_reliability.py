"""Nothing lost, no traceback: non-finite runs, files the user had, hostile input, damaged logs,
folders without a checkpoint, kills' leftovers and the random generators on resume."""
import json
import os
import struct
import zlib
from pathlib import Path

import pytest
import torch

from poseshift.checkpoint import Checkpoint
from poseshift.cli import main
from poseshift.config import ConfigError, load_config
from poseshift.training import Trainer, TrainError
from tests.helpers import MICRO, figures, micro_config

SETS = [a for s in MICRO for a in ("--set", s)]


def _train(data, run, steps, *extra):
    return main(["train", "--config", "tiny",
                 "--data", str(data), "--out", str(run), "--max-steps", str(steps), "--quiet", *SETS,
                 *extra])


def _one_error(capsys) -> str:
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("poseshift: error:")]
    assert len(err) == 1, err
    return err[0]


def _bomb(path: Path, side: int = 30000) -> Path:
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    return path


# ----------------------------------------------------------------------------- 1. non-finite runs
def test_a_run_gone_nan_stops_and_keeps_the_good_checkpoint(tmp_path, monkeypatch):
    data, run = figures(tmp_path), tmp_path / "run"
    Trainer(micro_config(), data, run, progress=False, psi_pretrained=False).train(max_steps=10)
    good = Checkpoint(run / "checkpoints" / "last.safetensors")
    trainer = Trainer(micro_config("train.checkpoint_every=1", "train.log_every=100"), data, run, resume=True,
                      progress=False, psi_pretrained=False)
    real_step = trainer.train_step

    def poisoned(batch):  # what lr_g=inf did: G's weights become NaN at step 11
        out = real_step(batch)
        with torch.no_grad():
            next(trainer.nets.G.parameters()).fill_(float("nan"))
        return out
    monkeypatch.setattr(trainer, "train_step", poisoned)
    with pytest.raises(TrainError, match=r"step 11: G.*non-finite.*step 10"):
        trainer.train(max_steps=30)
    after = Checkpoint(run / "checkpoints" / "last.safetensors")
    assert after.state["step"] == 10
    assert all(torch.equal(v, good.tensors[k]) for k, v in after.tensors.items())


def test_inf_in_adams_moments_is_never_saved(tmp_path):
    data, run = figures(tmp_path), tmp_path / "run"
    trainer = Trainer(micro_config(), data, run, progress=False, psi_pretrained=False)
    trainer.train(max_steps=2)
    state = next(iter(trainer.opt["D"].state.values()))
    state["exp_avg_sq"].fill_(float("inf"))  # what lambda_pose=1e30 left, with finite weights
    with pytest.raises(TrainError, match=r"Adam\(D\)"):
        trainer.save()
    assert Checkpoint(run / "checkpoints" / "last.safetensors").state["step"] == 2


@pytest.mark.parametrize("override", ["train.lr_g=.inf", "train.lr_d=.inf", "loss.lambda_id=1e36",
                                      "loss.lambda_pose=1e30", "train.lr_g=.nan"])
def test_settings_that_overflow_are_refused_when_read(override):
    with pytest.raises(ConfigError, match=override.split("=")[0]):
        load_config("tiny", [override])


# ----------------------------------------------------------------------------- 2-3. files the user had
def test_pose_never_replaces_an_output_or_an_input_photo(tmp_path, capsys):
    photos = tmp_path / "imgs"
    photos.mkdir()
    from PIL import Image

    Image.new("RGB", (16, 16), "white").save(photos / "a.png")
    before = (photos / "a.png").read_bytes()
    out = tmp_path / "annotations.csv"
    out.write_text("mine\n")
    assert main(["pose", str(photos), "--out", str(out)]) == 2
    assert "--overwrite" in _one_error(capsys) and out.read_text() == "mine\n"
    assert main(["pose", str(photos), "--out", str(tmp_path / "new.csv"), "--masks", str(photos)]) == 2
    assert "input" in _one_error(capsys) and (photos / "a.png").read_bytes() == before
    assert main(["pose", str(photos), "--out", str(tmp_path / "new.csv"), "--masks", str(photos),
                 "--overwrite"]) == 2  # not even with --overwrite
    assert (photos / "a.png").read_bytes() == before and not (tmp_path / "new.csv").exists()


def test_export_never_clobbers_the_checkpoint_or_a_json(tmp_path, capsys):
    data, run = figures(tmp_path), tmp_path / "run"
    assert _train(data, run, 2) == 0
    ckpt = run / "checkpoints" / "last.safetensors"
    model_json = tmp_path / "model.json"
    model_json.write_text("{}")
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(model_json)]) == 2
    assert ".safetensors" in _one_error(capsys) and model_json.read_text() == "{}"
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(tmp_path / "model.safetensors")]) == 2
    assert "model.json" in _one_error(capsys) and model_json.read_text() == "{}"
    assert not (tmp_path / "model.safetensors").exists()
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(tmp_path / "g.safetensors")]) == 0


# ----------------------------------------------------------------------------- 4. one line, never a traceback
def test_hostile_inputs_end_in_one_line(tmp_path, capsys):
    data, run = figures(tmp_path), tmp_path / "run"
    assert _train(data, run, 2) == 0
    ckpt = str(run / "checkpoints" / "last.safetensors")
    image = str(sorted((data / "images").iterdir())[0])
    pose = tmp_path / "pose.json"
    pose.write_text(json.dumps([[1e300, 1e300]] * 18))
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100000 + "]" * 100000)
    bomb = _bomb(tmp_path / "bomb.png")
    deep_yaml = tmp_path / "deep.yaml"
    deep_yaml.write_text("model: " + "[" * 10000 + "]" * 10000 + "\n")
    cases = {
        "bomb.png": ["transfer", "--checkpoint", ckpt, "--image", str(bomb), "--pose", str(pose), "--out",
                     str(tmp_path / "o.png")],
        "pose.json": ["transfer", "--checkpoint", ckpt, "--image", image, "--pose", str(pose), "--out",
                      str(tmp_path / "o.png")],
        "deep.json": ["transfer", "--checkpoint", ckpt, "--image", image, "--pose", str(deep), "--out",
                      str(tmp_path / "o.png")],
        "deep.yaml": ["train", "--config", str(deep_yaml), "--data", str(data), "--out", str(tmp_path / "r1")],
        "psi_weights": ["train", "--config", "tiny", "--data", str(data), "--out", str(tmp_path / "r2"), *SETS, "--set",
                        "model.psi_weights=/etc/passwd", "--max-steps", "1", "--quiet"],
        "lr_g": ["train", "--config", "tiny",
                 "--data", str(data), "--out", str(tmp_path / "r3"), "--set", "train.lr_g=[1"],
        "tag": ["train", "--config", "tiny", "--data", str(data), "--out", str(tmp_path / "r4"), "--set",
                "train.lr_g=!!python/object/apply:os.system [echo]"],
    }
    for key in ["train.batch_size=0", "train.log_every=0", "train.sample_every=0", "train.checkpoint_every=0",
                "model.image_size=63", "pose.num_joints=17", "model.g_channels=0", "model.g_channels=-1",
                "train.batch_size=-100", "model.g_channels=100000", "model.image_size=1000000000"]:
        cases[key.split("=")[0]] = ["train", "--config", "tiny",
                                    "--data", str(data), "--out", str(tmp_path / "r5"), "--set", key]
    for name, argv in cases.items():
        assert main(argv) == 2, name
        assert name.lower() in _one_error(capsys).lower(), name
    # A decompression bomb inside a training folder and among evaluated pairs.
    victim = sorted((data / "images").iterdir())[0]
    _bomb(victim)
    assert _train(data, tmp_path / "r6", 1) == 2 and victim.name in _one_error(capsys)
    assert main(["evaluate", "--data", str(data), "--copy-source", "--metrics", "ssim", "--out",
                 str(tmp_path / "e.json"), "--quiet"]) in (0, 2)
    capsys.readouterr()


def test_a_huge_csv_field_is_one_line(tmp_path, capsys):
    data = figures(tmp_path)
    (data / "pairs.csv").write_text("from,to\n\"" + "x" * 200_000 + "\",b\n")
    assert main(["evaluate", "--data", str(data), "--pairs", str(data / "pairs.csv"), "--copy-source",
                 "--metrics", "ssim", "--out", str(tmp_path / "e.json"), "--quiet"]) == 2
    assert "pairs.csv" in _one_error(capsys)
    (data / "split.csv").write_text("name,person,split\n\"" + "x" * 200_000 + "\",1,train\n")
    assert main(["data", str(data)]) == 2 and "split.csv" in _one_error(capsys)


def test_a_full_disk_during_a_checkpoint_is_one_line_and_loses_nothing(tmp_path, capsys, monkeypatch):
    from safetensors import SafetensorError

    import poseshift.checkpoint as checkpoint

    data, run = figures(tmp_path), tmp_path / "run"
    assert _train(data, run, 10) == 0
    good = (run / "checkpoints" / "last.safetensors").read_bytes()

    def full(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"\0" * 100)  # what a full disk leaves: part of a file
        raise SafetensorError("Error while serializing: IoError(No space left on device (os error 28))")
    monkeypatch.setattr(checkpoint, "save_file", full)
    assert _train(data, run, 20, "--resume") == 2
    assert "last.safetensors" in _one_error(capsys)
    assert (run / "checkpoints" / "last.safetensors").read_bytes() == good
    assert not list((run / "checkpoints").glob(".*.tmp"))


def _edit_meta(path: Path, key: str, edit) -> None:
    """Rewrite the checkpoint's ``config`` or ``state`` JSON with ``edit(tree)`` applied."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), "pt") as fh:
        meta, tensors = dict(fh.metadata()), {k: fh.get_tensor(k) for k in fh.keys()}
    tree = json.loads(meta[key])
    edit(tree)
    meta[key] = json.dumps(tree)
    save_file(tensors, str(path), metadata=meta)


@pytest.mark.parametrize("edit", [("model", "image_size", 20000), ("model", "g_channels", 999),
                                  ("model", "g_channels", "x"), ("train", "batch_size", 0)])
def test_a_tampered_checkpoint_config_is_refused_before_anything_is_built(tmp_path, capsys, edit):
    data, run = figures(tmp_path), tmp_path / "run"
    assert _train(data, run, 2) == 0
    path = run / "checkpoints" / "last.safetensors"
    _edit_meta(path, "config", lambda cfg: cfg[edit[0]].__setitem__(edit[1], edit[2]))
    image = str(sorted((data / "images").iterdir())[0])
    pose = tmp_path / "p.json"
    pose.write_text(json.dumps([None] * 18))
    assert main(["transfer", "--checkpoint", str(path), "--image", image, "--pose", str(pose), "--out",
                 str(tmp_path / "o.png")]) == 2
    assert f"{edit[0]}.{edit[1]}" in _one_error(capsys)
    assert _train(data, run, 4, "--resume") == 2 and f"{edit[0]}.{edit[1]}" in _one_error(capsys)


@pytest.mark.parametrize("edit", [{"step": "abc"}, {"step": None}, {"batches": None}, {"world_size": 0},
                                  {"optimizer_groups": {"G": [{"lr": "x"}]}}])
def test_a_tampered_checkpoint_state_is_refused_in_one_line(tmp_path, capsys, edit):
    data, run = figures(tmp_path), tmp_path / "run"
    assert _train(data, run, 2) == 0
    path = run / "checkpoints" / "last.safetensors"
    _edit_meta(path, "state", lambda state: state.update(edit))
    assert _train(data, run, 4, "--resume") == 2
    assert "last.safetensors" in _one_error(capsys)


# ----------------------------------------------------------------------------- 5. the log
def test_a_cut_last_log_line_does_not_block_a_resume(tmp_path):
    data, run = figures(tmp_path), tmp_path / "run"
    assert _train(data, run, 10) == 0
    with (run / "log.jsonl").open("a") as fh:
        fh.write('{"step": 11, "loss_G": 1.2')  # a kill in the middle of a line
    assert _train(data, run, 20, "--resume") == 0
    steps = [json.loads(ln)["step"] for ln in (run / "log.jsonl").read_text().splitlines()]
    assert steps == [5, 10, 15, 20]


def test_the_log_is_never_emptied_by_an_interrupted_rewrite(tmp_path, monkeypatch):
    import poseshift.files as files
    from poseshift.training.state import truncate_log

    data, run = figures(tmp_path), tmp_path / "run"
    assert _train(data, run, 10) == 0
    before = (run / "log.jsonl").read_text()

    def killed(src, dst):
        raise KeyboardInterrupt  # the process dies before the rename
    monkeypatch.setattr(files.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        truncate_log(run, 5)
    assert (run / "log.jsonl").read_text() == before


# ----------------------------------------------------------------------------- 6. folders without a checkpoint
def test_a_folder_with_a_log_but_no_checkpoint_is_never_overwritten(tmp_path, capsys):
    data, run = figures(tmp_path), tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{\"mine\": 1}\n")
    (run / "log.jsonl").write_text('{"step": 5, "loss_G": 1.0}\n')
    for extra in ([], ["--resume"]):
        assert _train(data, run, 2, *extra) == 2
        assert "--overwrite" in _one_error(capsys)
        assert (run / "config.json").read_text() == "{\"mine\": 1}\n"
        assert (run / "log.jsonl").read_text() == '{"step": 5, "loss_G": 1.0}\n'
    assert _train(data, run, 2, "--overwrite") == 0
    assert json.loads((run / "config.json").read_text())["model"]["image_size"] == 32


# ----------------------------------------------------------------------------- 7. kills' leftovers
def test_stray_temporary_files_go_and_a_lagging_json_is_repaired(tmp_path):
    data, run = figures(tmp_path), tmp_path / "run"
    assert _train(data, run, 10) == 0
    stray = run / "checkpoints" / ".last.safetensors.abc123.tmp"
    stray.write_bytes(b"\0" * 1000)
    side = run / "checkpoints" / "last.json"
    lagging = json.loads(side.read_text())
    lagging["state"]["step"] = 0
    side.write_text(json.dumps(lagging))
    trainer = Trainer(micro_config(), data, run, resume=True, progress=False, psi_pretrained=False)
    assert not stray.exists()
    assert json.loads(side.read_text())["state"]["step"] == 10
    trainer.batches.close()


def test_every_random_generator_is_restored_on_resume(tmp_path, monkeypatch):
    """A step that draws from torch's global generator (here: noise on each batch's images) resumes
    with the draws an uninterrupted run makes, whatever the process drew in between."""
    from poseshift.training import loop

    def noisy(learner, batch):
        batch.real = batch.real + 0.1 * torch.randn_like(batch.real)
        return loop.train_step(learner, batch)

    data = figures(tmp_path)
    cfg = micro_config("train.checkpoint_every=3")
    for run, steps, resume in (("a", 6, False), ("b", 3, False), ("b", 6, True)):
        torch.manual_seed(12345)  # whatever the process did before
        trainer = Trainer(cfg, data, tmp_path / run, resume=resume, progress=False, psi_pretrained=False)
        monkeypatch.setattr(trainer, "train_step", lambda batch, t=trainer: noisy(t.learner, batch))
        trainer.train(max_steps=steps)
    a = Checkpoint(tmp_path / "a" / "checkpoints" / "last.safetensors")
    b = Checkpoint(tmp_path / "b" / "checkpoints" / "last.safetensors")
    assert all(torch.equal(v, b.tensors[k]) for k, v in a.tensors.items() if k.startswith(("G.", "D.", "Phi.")))


def test_no_temporary_files_after_a_run(tmp_path):
    data, run = figures(tmp_path), tmp_path / "run"
    assert _train(data, run, 10) == 0
    assert not [p for p in run.rglob("*") if p.name.endswith(".tmp")]
    assert not os.path.exists(run / "checkpoints" / "last.json.tmp")
