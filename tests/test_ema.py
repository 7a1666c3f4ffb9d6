"""train.g_ema_decay: the averaged generator is updated by its formula, saved, resumed, and
is what inference and export use."""
import numpy as np
import pytest
import torch

from poseshift.checkpoint import Checkpoint
from poseshift.loading import export_generator
from poseshift.training import Trainer
from poseshift.transfer import Reposer
from tests.helpers import figures, micro_config


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def test_ema_follows_its_formula_and_stays_off_by_default(tmp_path):
    data = figures(tmp_path)
    assert Trainer(micro_config(), data, tmp_path / "plain", progress=False).G_ema is None
    trainer = Trainer(micro_config("train.g_ema_decay=0.9"), data, tmp_path / "run", progress=False)
    start = _params(trainer.G_ema)
    assert all(torch.equal(a, b) for a, b in zip(start, _params(trainer.nets.G)))
    trainer.train(max_steps=1)
    # First update: d = min(0.9, 2/11); G_ema = d * G_0 + (1 - d) * G_1.
    d = 2 / 11
    for avg, g0, g1 in zip(_params(trainer.G_ema), start, _params(trainer.nets.G)):
        assert torch.allclose(avg, d * g0 + (1 - d) * g1, atol=1e-6)
    assert any(not torch.equal(a, b) for a, b in zip(_params(trainer.G_ema), _params(trainer.nets.G)))


def test_ema_is_saved_resumed_and_used_for_inference_and_export(tmp_path):
    data = figures(tmp_path)
    run = tmp_path / "run"
    cfg = micro_config("train.g_ema_decay=0.99")
    first = Trainer(cfg, data, run, progress=False)
    first.train(max_steps=6)
    ckpt_path = run / "checkpoints" / "last.safetensors"
    saved = Checkpoint(ckpt_path)
    assert saved.state["ema_updates"] == 6 and saved.module_state("G_ema")
    second = Trainer(cfg, data, run, resume=True, progress=False)
    assert second.state.ema_updates == 6
    assert all(torch.equal(a, b) for a, b in zip(_params(second.G_ema), _params(first.G_ema)))

    image = torch.rand(1, 3, 32, 32) * 2 - 1
    maps = torch.rand(1, 18, 32, 32)
    with torch.no_grad():
        want = first.G_ema.eval()(image, maps)
        raw = first.nets.G.eval()(image, maps)
    assert (want - raw).abs().max() > 1e-4  # the two generators differ after six steps
    got = Reposer.from_checkpoint(ckpt_path, device="cpu").render_tensor(image, maps)
    assert torch.allclose(got, want, atol=1e-5)
    exported = export_generator(ckpt_path, tmp_path / "g.safetensors")
    # G (the averaged one), and D_I and Phi for --adapt; no second G, no optimiser state
    assert set(k.split(".")[0] for k in Checkpoint(exported).tensors) == {"G", "D", "Phi"}
    again = Reposer.from_checkpoint(exported, device="cpu").render_tensor(image, maps)
    assert torch.allclose(again, want, atol=1e-5)


@pytest.mark.parametrize("decay", [0.0, 0.5])
def test_ema_resume_from_a_run_without_it_starts_from_g(tmp_path, decay):
    data = figures(tmp_path)
    run = tmp_path / "run"
    Trainer(micro_config(), data, run, progress=False).train(max_steps=3)
    resumed = Trainer(micro_config(f"train.g_ema_decay={decay}"), data, run, resume=True, progress=False)
    if decay == 0:
        assert resumed.G_ema is None
    else:
        assert all(torch.equal(a, b) for a, b in zip(_params(resumed.G_ema), _params(resumed.nets.G)))
    assert np.isfinite(list(resumed.train(max_steps=4).values())).all()
