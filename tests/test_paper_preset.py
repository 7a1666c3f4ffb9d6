"""The ``paper`` preset is the paper: every value the paper gives, checked against its words.

Each entry of PAPER pairs a field with the paper's own words (sections 3-6 of Pumarola et al.,
CVPR 2018) and the value they give. Where the paper's text is at hand (``$POSESHIFT_PAPER`` or
``../shared/paper.md`` beside the checkout) every quote is checked to be in it, word for word.
presets/paper.yaml must name every field of Config and mark exactly these fields ``paper``.
"""
from __future__ import annotations

import os
import re
from dataclasses import fields
from pathlib import Path

import pytest
import torch
import yaml

from poseshift.config import Config, load_config
from poseshift.config_rules import patch_output_size
from poseshift.losses import lsgan_d_loss, lsgan_g_loss
from poseshift.nets import build_discriminator, build_feature_net, build_pose_regressor
from poseshift.objective import discriminator_loss
from poseshift.pose.schema import NUM_JOINTS
from poseshift.training.step import lr_factor
from tests.conftest import REPO

PAPER_YAML = REPO / "src" / "poseshift" / "presets" / "paper.yaml"

# field -> (the value the paper gives, the paper's words that give it)
PAPER = {
    "pose.sigma_frac": (0.03, "we introduce a Gaussian peak with variance 0.03"),
    "model.image_size": (256, "Images of the dataset were initially resized to a fixed size of $256 \\times 256$"),
    "model.g_arch": ("resnet", "The generator is implemented as the variation of the network from Johnson "
                               "*et al.* [7] proposed by [38]"),
    "model.d_tail_padding": (0, "to a matrix $\\mathbf{Y}_1 \\in \\mathbb{R}^{26 \\times 26}$"),
    "model.psi_backbone": ("vgg16", "are obtained from a pretrained VGG16 [28] with $z = 7$"),
    "model.psi_layer": ("relu2_2", "are obtained from a pretrained VGG16 [28] with $z = 7$"),
    "loss.lambda_pose": (700, "The weights for the loss terms are set to $\\lambda_P = 700$"),
    "loss.lambda_id": (0.3, "and $\\lambda_{Id} = 0.3$"),
    "loss.identity": ("content_style", "\\mathcal{L}_{\\text{Id}} = \\mathcal{L}_{\\text{Content}}(\\Psi, "
                                       "I_{p_o}, \\hat{I}_o) + \\lambda \\mathcal{L}_{\\text{Patch-Style}}"),
    "train.batch_size": (12, "and a batch size 12"),
    "train.lr_g": (0.0002, "We use Adam solver [10] with learning rate of 0.0002 for the generator"),
    "train.lr_d": (0.0001, "0.0001 for the discriminators"),
    "train.epochs": (300, "We train for 300 epochs"),
    "train.decay_after": (100, "with a linear decreasing rate after epoch 100"),
    "train.schedule": ("epochs", "We train for 300 epochs with a linear decreasing rate after epoch 100"),
    "train.flip": ("all", "We then applied data augmentation with all three possible flips per each image"),
}
# Values the paper's words imply rather than write: the 26x26 grid.
IMPLIED = {"model.d_tail_padding"}
# What the paper gives that the code fixes rather than a field: the 18 joints (and eq. (8)'s two
# unweighted L_I terms, tests/test_objective.py), with the paper's words.
JOINTS = "Poses are represented by 2D skeletons with $N = 18$ joints"
# What the paper says that no single field holds, checked by the tests below.
LSGAN = "replace the negative log likelihood of the *adversarial loss* by a least square loss"
BUFFER = "we update the discriminators using a buffer with the previous rendered images"
TAG = re.compile(r"^  (\w+): .*?  # (paper|ours)\b")


def _words(text: str) -> str:
    return " ".join(text.split())


def _get(cfg: Config, key: str):
    section, name = key.split(".")
    return getattr(getattr(cfg, section), name)


def _tags() -> dict[str, str]:
    """``section.field`` -> ``paper`` or ``ours``, from each field line's comment in paper.yaml."""
    tags, section = {}, None
    for line in PAPER_YAML.read_text().splitlines():
        if re.match(r"^\w+:\s*$", line):
            section = line[:-1]
        elif m := TAG.match(line):
            tags[f"{section}.{m.group(1)}"] = m.group(2)
    return tags


def test_every_value_the_paper_gives_is_the_paper_presets():
    paper = load_config("paper")
    for key, (value, words) in PAPER.items():
        assert _get(paper, key) == value, key
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key not in IMPLIED:
            assert re.search(rf"(?<![\d.]){value:g}(?![\d])", words), f"{key}: {value} is not in {words!r}"


def test_the_paper_s_18_joints_are_the_skeleton():
    assert NUM_JOINTS == 18 and f"$N = {NUM_JOINTS}$ joints" in JOINTS
    phi = build_pose_regressor(load_config("paper"))
    assert [m for m in phi.modules() if isinstance(m, torch.nn.Conv2d)][-1].out_channels == NUM_JOINTS


def test_the_quotes_are_the_papers_own_words():
    path = Path(os.environ.get("POSESHIFT_PAPER", REPO.parent / "shared" / "paper.md"))
    if not path.is_file():
        pytest.skip(f"the paper's text is absent ({path}; only in the dev checkout)")
    text = _words(path.read_text())
    for key, (_, words) in PAPER.items():
        assert _words(words) in text, key
    assert _words(LSGAN) in text and _words(BUFFER) in text and _words(JOINTS) in text


def test_paper_yaml_names_every_field_and_marks_whose_value_it_is():
    tree = yaml.safe_load(PAPER_YAML.read_text())
    assert set(tree) == {f.name for f in fields(Config)}
    for section in fields(Config):
        want = {f.name for f in fields(getattr(Config(), section.name))}
        assert set(tree[section.name]) == want, f"presets/paper.yaml must name every field of {section.name}"
    tags = _tags()
    named = {f"{s}.{n}" for s, values in tree.items() for n in values}
    assert set(tags) == named, f"fields without a '# paper' or '# ours' comment: {sorted(named - set(tags))}"
    assert {k for k, tag in tags.items() if tag == "paper"} == set(PAPER)


def test_every_field_not_in_the_paper_is_in_the_departures_table():
    doc = (REPO / "docs" / "configuration.md").read_text()
    table = doc[doc.index("## Departures from the paper"):]
    for line in PAPER_YAML.read_text().splitlines():
        if (m := TAG.match(line)) and "not in the paper" in line:
            assert f".{m.group(1)}`" in table, f"{m.group(1)} is not in docs/configuration.md's departures"


def test_paper_d_gives_26x26_patches_at_256_and_the_other_presets_keep_30x30():
    paper = load_config("paper")
    with torch.no_grad():
        out = build_discriminator(paper)(torch.randn(1, 3, 256, 256))
    assert out.shape == (1, 1, 26, 26)
    assert patch_output_size(256, paper.model.d_layers, paper.model.d_tail_padding) == 26
    for name in ("tiny", "synthetic", "realphoto"):
        m = load_config(name).model
        assert patch_output_size(256, m.d_layers, m.d_tail_padding) == 30, name
        assert patch_output_size(m.image_size, m.d_layers, m.d_tail_padding) == 6, name


def test_paper_psi_is_vgg16_cut_at_z_7_when_its_weights_are_given(tmp_path):
    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(0)
    convs = {0: (64, 3), 2: (64, 64), 5: (128, 64), 7: (128, 128)}  # torchvision's features.N up to conv2_2
    state = {f"features.{i}.{p}": torch.randn(o, c, 3, 3, generator=g) * 0.05 if p == "weight" else torch.zeros(o)
             for i, (o, c) in convs.items() for p in ("weight", "bias")}
    save_file(state, str(tmp_path / "vgg16.safetensors"))
    psi = build_feature_net(load_config("paper", [f"model.psi_weights={tmp_path / 'vgg16.safetensors'}"]))
    layers = list(psi.body.features)
    assert psi.backbone == "vgg16" and len(layers) == 9  # features[0..7] and conv2_2's ReLU
    assert isinstance(layers[7], torch.nn.Conv2d) and isinstance(layers[8], torch.nn.ReLU)
    assert torch.equal(layers[7].weight, state["features.7.weight"])  # the given file's conv2_2
    assert psi(torch.zeros(1, 3, 32, 32)).shape == (1, 128, 16, 16)


def test_paper_losses_are_least_squares_and_d_reads_the_buffer():
    real, fake = torch.full((2, 1, 26, 26), 0.25), torch.full((2, 1, 26, 26), 0.5)
    assert lsgan_g_loss(fake).item() == pytest.approx(0.25)  # (0.5 - 1)^2
    assert lsgan_d_loss(real, fake).item() == pytest.approx(0.5 * (0.75 ** 2 + 0.5 ** 2))

    want = 0.5 * (0.75 ** 2 + 0.5 ** 2)
    assert discriminator_loss(lambda image: image[:, :1], real, fake).item() == pytest.approx(want)
    assert load_config("paper").train.pool_size > 0  # section 5's buffer of earlier renders


def test_paper_schedule_is_300_epochs_decaying_linearly_to_zero_after_100():
    t = load_config("paper").train
    assert [lr_factor(e * 10, 10, t.epochs, t.decay_after) for e in (0, 99, 100, 200, 300)] == [1, 1, 1, 0.5, 0]


# Every field of the paper preset, the paper's and ours alike: a changed default, a changed line
# of paper.yaml or a new field fails here, and the change must be made on purpose, in both places.
PINNED = {
    "pose.sigma_frac": 0.03, "model.image_size": 256, "model.g_arch": "resnet", "model.g_channels": 64,
    "model.g_blocks": 9, "model.g_upsample": "deconv", "model.d_channels": 64, "model.d_layers": 3,
    "model.d_tail_padding": 0, "model.phi_channels": 64, "model.phi_blocks": 9, "model.psi_backbone": "vgg16",
    "model.psi_layer": "relu2_2", "model.psi_weights": "", "loss.lambda_pose": 700.0, "loss.lambda_id": 0.3,
    "loss.lambda_style": 1000.0, "loss.identity": "content_style", "loss.lambda_colour": 0.0,
    "loss.cycle_grad_scale": 1.0, "train.batch_size": 12, "train.lr_g": 0.0002, "train.lr_d": 0.0001,
    "train.epochs": 300, "train.decay_after": 100, "train.schedule": "epochs", "train.pool_size": 50,
    "train.flip": "all", "train.seed": 0, "train.device": "auto", "train.bf16": False,
    "train.channels_last": False, "train.workers": 2, "train.compile": False, "train.log_every": 50,
    "train.sample_every": 1000, "train.checkpoint_every": 1000, "train.phi_warmup_steps": 0,
    "train.g_ema_decay": 0.0, "data.fit": "pad", "data.pad_value": 255, "data.cache": False,
    "data.silhouettes": "pose",
}


def test_the_paper_preset_is_pinned_field_by_field():
    from dataclasses import asdict

    got = {f"{section}.{name}": value for section, values in asdict(load_config("paper")).items()
           for name, value in values.items()}
    assert got == PINNED, {k: (got.get(k), PINNED.get(k)) for k in got.keys() | PINNED.keys() if got.get(k) != PINNED.get(k)}
