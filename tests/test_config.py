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


def test_retired_fields_of_old_checkpoints_are_ignored():
    cfg = load_config("tiny")
    tree = json.loads(cfg.to_json())
    tree["train"]["num_workers"] = 2  # written by poseshift 0.1.0 before the field was retired
    assert config_from_json(json.dumps(tree)) == cfg


def test_renamed_fields_of_old_checkpoints_keep_their_meaning():
    tree = json.loads(load_config("tiny").to_json())
    del tree["loss"]["cycle_grad_scale"]
    for old, scale in ((True, 0.0), (False, 1.0)):
        tree["loss"]["cycle_detach"] = old  # the boolean this field replaced
        assert config_from_json(json.dumps(tree)).loss.cycle_grad_scale == scale
