import json

import pytest

from poseshift.config import ConfigError, apply_overrides, config_from_json, load_config, preset_names


def test_presets_ship_with_the_package():
    # The paper preset, field by field against the paper's words: tests/test_paper_preset.py.
    assert {"paper", "realphoto", "synthetic", "tiny"} <= set(preset_names())
    assert load_config("paper").model.image_size == 256
    tiny = load_config("tiny")
    assert tiny.model.image_size == 64 and tiny.model.psi_backbone == "efficientnet_lite0"


def test_an_image_too_small_for_d_is_refused_in_one_line():
    # The paper's unpadded D (26x26 at 256) needs 56 px with 3 layers; CycleGAN's padded one 32.
    assert load_config("paper", ["model.image_size=56"]).model.d_tail_padding == 0
    with pytest.raises(ConfigError, match=r"model.image_size=52 is too small .* at least 56\)$"):
        load_config("paper", ["model.image_size=52"])
    assert load_config("tiny", ["model.image_size=32"]).model.d_tail_padding == 1
    with pytest.raises(ConfigError, match="at least 32"):
        load_config("tiny", ["model.image_size=28"])
    with pytest.raises(ConfigError, match="d_tail_padding must be between 0 and 1"):
        load_config("tiny", ["model.d_tail_padding=2"])


def test_overrides_are_typed_and_checked():
    cfg = load_config("tiny", ["train.lr_g=1e-3", "train.bf16=true", "loss.identity=l1"])
    assert cfg.train.lr_g == 1e-3 and cfg.train.bf16 is True and cfg.loss.identity == "l1"
    for bad in ("train.nope=1", "nosection.x=1", "train.batch_size=abc", "loss.identity=l2", "justtext",
                "loss.patch_sigma_scale=0"):
        with pytest.raises(ConfigError):
            apply_overrides(cfg, [bad])


def test_yaml_file_and_json_round_trip(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("model:\n  image_size: 128\ntrain:\n  batch_size: 3\n")
    cfg = load_config(path)
    assert cfg.model.image_size == 128 and cfg.train.batch_size == 3
    assert config_from_json(cfg.to_json()) == cfg
    assert json.loads(cfg.to_json())["model"]["image_size"] == 128
    (tmp_path / "bad.yaml").write_text("model:\n  colour: red\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match="unknown preset"):
        load_config("no-such-preset")


def test_removed_fields_load_at_the_value_that_remains_and_are_refused_otherwise_in_one_line():
    """A config written by poseshift 0.1.0 (a checkpoint's, a YAML file) names fields that are gone:
    at the value whose behaviour remains it loads; any other value is one line naming the field."""
    from poseshift.config import REMOVED, from_dict

    cfg = load_config("tiny")
    old = json.loads(cfg.to_json())
    old["pose"]["num_joints"] = 18
    old["model"].update(warp_region=0.0, norm="instance")
    old["loss"].update(lambda_adv=1.0, cycle_noise_std=0.0, patch_sigma_scale=1.0, pose_reduction="mean",
                       lambda_l1=10.0)
    old["train"].update(mode="unsupervised", beta1=0.5, beta2=0.999, lr_phi=old["train"]["lr_d"], prefetch=2,
                        max_steps=0)
    old["data"]["split"] = "train"
    assert {(s, n) for s, v in old.items() for n in v} - {(s, n) for s, v in json.loads(cfg.to_json()).items()
                                                          for n in v} == set(REMOVED)
    assert config_from_json(json.dumps(old)) == cfg
    for sec, name, value in [("loss", "cycle_noise_std", 0.1), ("loss", "lambda_adv", 0.3), ("train", "lr_phi", 2e-4),
                             ("model", "norm", "batch"), ("train", "mode", "supervised"),
                             ("loss", "pose_reduction", "sum")]:
        tree = json.loads(json.dumps(old))
        tree[sec][name] = value
        with pytest.raises(ConfigError) as e:  # a YAML file (a checkpoint's own: the next test)
            from_dict(tree, "old.yaml")
        msg = str(e.value)
        assert msg.startswith(f"old.yaml: {sec}.{name}={value!r} is no longer a setting") and "\n" not in msg
    with pytest.raises(ConfigError, match=r"--set: loss.cycle_noise_std=0.1 is no longer a setting"):
        load_config("tiny", ["loss.cycle_noise_std=0.1"])
    assert load_config("tiny", ["train.lr_d=3e-4", "train.lr_phi=3e-4"]).train.lr_d == 3e-4
    with pytest.raises(ConfigError, match="unknown field train.num_workers"):  # never in a released model
        load_config("tiny", ["train.num_workers=2"])


def test_the_packaged_model_written_before_the_removal_still_loads():
    from poseshift.checkpoint import Checkpoint
    from tests.conftest import REPO

    ckpt = Checkpoint(REPO / "src" / "poseshift" / "assets" / "synthetic-64.safetensors", prefixes=("G",))
    assert ckpt.config.model.g_arch == "flow" and ckpt.config.loss.cycle_grad_scale == 0.0


def test_train_flip_of_a_config_from_before_the_three_flips_still_reads():
    """train.flip was a bool (the packaged synthetic-64 stores true): true reads as "mirror",
    false as "none"; the paper preset draws the paper's three flips."""
    from dataclasses import asdict

    stored = json.loads(json.dumps(asdict(load_config("tiny"))))
    for old, new in ((True, "mirror"), (False, "none")):
        stored["train"]["flip"] = old
        assert config_from_json(json.dumps(stored), "old.safetensors").train.flip == new
    assert load_config("paper").train.flip == "all" and load_config("tiny").train.flip == "mirror"
    with pytest.raises(ConfigError, match="train.flip must be one of none, mirror, all"):
        load_config("tiny", ["train.flip=sideways"])


def test_a_checkpoint_with_a_removed_training_only_value_still_loads_with_a_note(capsys):
    """A run of 0.1.0 that tuned train.lr_d alone stored lr_phi != lr_d: its G renders as it did,
    so its config loads (a note says what a resume drops); a YAML or --set asking for it is
    refused, as is a removed field that changed the networks (model.norm)."""
    stored = json.loads(json.dumps(load_config("tiny").to_dict()))
    stored["train"].update(lr_d=0.0002, lr_phi=0.0001, max_steps=3000)
    cfg = config_from_json(json.dumps(stored), "old.safetensors")
    assert cfg.train.lr_d == 0.0002
    err = capsys.readouterr().err
    assert "old.safetensors: train.lr_phi=0.0001 is no longer a setting" in err and "train.max_steps" in err
    from poseshift.config import from_dict

    with pytest.raises(ConfigError, match="train.lr_phi=0.0001 is no longer a setting"):
        from_dict(stored, "my.yaml")
    for sec, name, value in (("model", "norm", "batch"), ("train", "mode", "supervised")):  # not training-only
        tree = json.loads(json.dumps(stored))
        tree[sec][name] = value
        with pytest.raises(ConfigError, match=f"{sec}.{name}='{value}' is no longer a setting"):
            config_from_json(json.dumps(tree), "old.safetensors")
