"""poseshift train --init: a new run whose networks start from another run's weights."""
import torch

from poseshift.checkpoint import Checkpoint
from poseshift.cli import main
from poseshift.loading import export_generator
from poseshift.training import Trainer
from tests.helpers import MICRO, figures, micro_config


def _same(module, state):
    return all(torch.equal(module.state_dict()[k], v) for k, v in state.items())


def test_init_starts_a_new_run_from_the_checkpoints_networks(tmp_path):
    data = figures(tmp_path)
    src = tmp_path / "src"
    Trainer(micro_config("train.g_ema_decay=0.9"), data, src, progress=False).train(max_steps=6)
    ckpt = Checkpoint(src / "checkpoints" / "last.safetensors")
    # The new run asks for other networks: --init's model settings win.
    tuned = Trainer(micro_config("model.g_channels=4"), data, tmp_path / "tuned", progress=False,
                    init=ckpt.path)
    assert tuned.step_count == 0 and tuned.cfg.model == ckpt.config.model
    assert _same(tuned.nets.G, ckpt.module_state("G_ema"))  # the averaged G, what inference used
    assert not _same(tuned.nets.G, ckpt.module_state("G"))
    assert _same(tuned.nets.D, ckpt.module_state("D")) and _same(tuned.nets.Phi, ckpt.module_state("Phi"))
    assert all(not opt.state for opt in tuned.opt.values())  # fresh optimisers
    tuned.train(max_steps=3)
    assert Checkpoint(tmp_path / "tuned" / "checkpoints" / "last.safetensors").state["step"] == 3
    assert not _same(tuned.nets.G, ckpt.module_state("G_ema"))


def test_init_from_an_export_takes_its_g_d_and_phi(tmp_path, capsys):
    data = figures(tmp_path)
    src = tmp_path / "src"
    sets = [a for s in MICRO for a in ("--set", s)]
    assert main(["train", "--config", "tiny", "--data", str(data), "--out", str(src), "--max-steps", "4",
                 "--quiet", *sets]) == 0
    exported = export_generator(src / "checkpoints" / "last.safetensors", tmp_path / "g.safetensors")
    assert main(["train", "--config", "tiny", "--data", str(data), "--out", str(tmp_path / "tuned"),
                 "--max-steps", "2", "--quiet", "--init", str(exported), *sets]) == 0
    full, tuned = Checkpoint(src / "checkpoints" / "last.safetensors"), Trainer(
        micro_config(), data, tmp_path / "again", progress=False, init=exported)
    assert _same(tuned.nets.G, full.module_state("G"))
    # an export keeps D_I and Phi (for --adapt): a fine-tune starts from them too
    assert _same(tuned.nets.D, full.module_state("D")) and _same(tuned.nets.Phi, full.module_state("Phi"))
    # a missing file is one clear error
    assert main(["train", "--config", "tiny", "--data", str(data), "--out", str(tmp_path / "x"),
                 "--init", str(tmp_path / "nope.safetensors"), "--quiet", *sets]) == 2
    assert "nope.safetensors: no such checkpoint file" in capsys.readouterr().err
    # a packaged model's name is a checkpoint too
    assert main(["train", "--config", "tiny", "--data", str(data), "--out", str(tmp_path / "y"),
                 "--init", "synthetic-64", "--max-steps", "1", "--quiet", *sets]) == 0
    assert (tmp_path / "y" / "checkpoints" / "last.safetensors").is_file()
