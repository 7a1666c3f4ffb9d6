"""The bf16 guard: where the device has no fast bf16 (an AVX2 CPU: a bf16 matmul hundreds of times
slower than fp32), train.bf16 and --bf16 fall back to fp32 with one warning line saying why; where
it has, bf16 is kept. The CPU's capability and flags are faked both ways."""
from __future__ import annotations

import logging

import pytest
import torch

from poseshift import devices
from poseshift.devices import bf16_is_fast, resolve_bf16
from tests.helpers import figures, micro_config


def _fake_cpu(monkeypatch, capability: str, flags: set[str] | None) -> None:
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    monkeypatch.setattr(devices, "_cpu_flags", lambda: flags)


SLOW = ("AVX2", {"fpu", "sse4_2", "avx", "avx2", "fma"})               # the AMD EPYC
FAST = [("AVX512_BF16", None), ("AVX512", {"avx512f", "avx512_bf16"}), ("AVX512", {"avx512f", "amx_bf16"}),
        ("DEFAULT", {"fp", "asimd", "bf16"})]                            # the last: an Arm CPU with BF16


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_bf16_is_slow_on_an_avx2_cpu_and_says_why(monkeypatch, caplog):
    _fake_cpu(monkeypatch, *SLOW)
    fast, why = bf16_is_fast("cpu")
    assert not fast and "AVX2" in why and "avx512_bf16" in why
    with caplog.at_level(logging.WARNING):
        assert resolve_bf16(True, torch.device("cpu"), "train.bf16=true") is False
    (line,) = _warnings(caplog)
    assert line.startswith("train.bf16=true: using fp32, not bf16: CPU capability AVX2") and "\n" not in line


def test_plain_avx512_without_bf16_units_and_an_unreadable_cpuinfo_are_slow(monkeypatch):
    _fake_cpu(monkeypatch, "AVX512", {"avx512f", "avx512bw"})
    assert bf16_is_fast("cpu")[0] is False
    _fake_cpu(monkeypatch, "AVX512", None)
    fast, why = bf16_is_fast("cpu")
    assert not fast and "no /proc/cpuinfo" in why


@pytest.mark.parametrize("capability, flags", FAST)
def test_bf16_is_kept_where_the_cpu_has_bf16_units(monkeypatch, caplog, capability, flags):
    _fake_cpu(monkeypatch, capability, flags)
    fast, why = bf16_is_fast("cpu")
    assert fast and capability in why
    with caplog.at_level(logging.WARNING):
        assert resolve_bf16(True, "cpu", "--bf16") is True
        assert resolve_bf16(False, "cpu", "--bf16") is False   # not asked: fp32, silently
    assert _warnings(caplog) == []


def test_not_asked_is_fp32_without_a_word(monkeypatch, caplog):
    _fake_cpu(monkeypatch, *SLOW)
    with caplog.at_level(logging.WARNING):
        assert resolve_bf16(False, "cpu", "train.bf16=true") is False
    assert _warnings(caplog) == []


def test_cpu_flags_of_this_machine_are_read():
    flags = devices._cpu_flags()
    assert flags is None or (isinstance(flags, set) and all(isinstance(f, str) for f in flags))


def _autocast_dtype(learner) -> torch.dtype:
    with learner.autocast():
        return torch.nn.functional.linear(torch.ones(2, 4), torch.ones(3, 4)).dtype


def test_training_falls_back_to_fp32_and_keeps_fast_bf16(tmp_path, monkeypatch, caplog):
    from poseshift.training import Trainer

    data = figures(tmp_path)
    cfg = micro_config("train.bf16=true")
    _fake_cpu(monkeypatch, *SLOW)
    with caplog.at_level(logging.WARNING):
        slow = Trainer(cfg, data, tmp_path / "slow", progress=False)
    assert slow.learner.bf16 is False and _autocast_dtype(slow.learner) == torch.float32
    assert [w for w in _warnings(caplog) if "bf16" in w] == [
        "train.bf16=true: using fp32, not bf16: CPU capability AVX2, no avx512_bf16, amx_bf16 or bf16 in "
        "/proc/cpuinfo: a bf16 matmul runs far slower than fp32 here"]
    losses = slow.train_step(slow.next_batch())                # a real step, in fp32
    assert all(torch.isfinite(v).all() for v in losses.values())
    caplog.clear()
    _fake_cpu(monkeypatch, *FAST[0])
    with caplog.at_level(logging.WARNING):
        fast = Trainer(cfg, data, tmp_path / "fast", progress=False)
    assert fast.learner.bf16 is True and _autocast_dtype(fast.learner) == torch.bfloat16
    assert not [w for w in _warnings(caplog) if "bf16" in w]
    plain = Trainer(micro_config(), data, tmp_path / "plain", progress=False)
    assert plain.learner.bf16 is False and _autocast_dtype(plain.learner) == torch.float32


def test_inference_falls_back_to_fp32_and_keeps_fast_bf16(monkeypatch, caplog):
    """Reposer is what transfer, animate, serve and evaluate's rendering run."""
    from poseshift.transfer import Reposer

    _fake_cpu(monkeypatch, *SLOW)
    with caplog.at_level(logging.WARNING):
        slow = Reposer.from_checkpoint("synthetic-64", device="cpu", bf16=True)
    assert slow.G.bf16 is False
    (line,) = [w for w in _warnings(caplog) if "bf16" in w]
    assert line.startswith("--bf16: using fp32, not bf16: CPU capability AVX2")
    _fake_cpu(monkeypatch, *FAST[1])
    assert Reposer.from_checkpoint("synthetic-64", device="cpu", bf16=True).G.bf16 is True
    assert Reposer.from_checkpoint("synthetic-64", device="cpu").G.bf16 is False


def test_train_command_with_bf16_on_a_slow_cpu_warns_and_trains(tmp_path, monkeypatch, caplog):
    from poseshift.cli import main
    from tests.helpers import MICRO

    data = figures(tmp_path)
    _fake_cpu(monkeypatch, *SLOW)
    sets = [a for s in [*MICRO, "train.bf16=true"] for a in ("--set", s)]
    with caplog.at_level(logging.WARNING):
        rc = main(["train", "--config", "tiny",
                   "--data", str(data), "--out", str(tmp_path / "run"), "--max-steps", "2", "--quiet", *sets])
    assert rc == 0 and (tmp_path / "run" / "checkpoints" / "last.safetensors").is_file()
    assert len([w for w in _warnings(caplog) if "train.bf16=true: using fp32" in w]) == 1


@pytest.mark.parametrize("capability, fast", [((7, 0), False), ((7, 5), False), ((8, 0), True), ((9, 0), True)])
def test_cuda_needs_ampere_for_fast_bf16(monkeypatch, caplog, capability, fast):
    """No GPU here: the CUDA queries are faked (a V100 / T4 emulate bf16; A100 / H100 have its tensor cores)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Fake GPU")
    ok, why = bf16_is_fast("cuda")
    assert ok is fast and f"{capability[0]}.{capability[1]}" in why and "Fake GPU" in why
    with caplog.at_level(logging.WARNING):
        assert resolve_bf16(True, torch.device("cuda"), "train.bf16=true") is fast
    assert len(_warnings(caplog)) == (0 if fast else 1)
