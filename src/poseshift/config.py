"""One frozen, typed configuration tree, loaded from packaged YAML presets or a user file.

The tree is saved as JSON inside every checkpoint and rebuilt from it on load, so a
checkpoint always knows the networks it holds (nanoGPT's GPTConfig habit). Overrides
are dotted ``section.field=value`` strings checked against the dataclass fields.

The defaults below are what a field means where a file or an older checkpoint leaves it out,
and their comments say which equation each belongs to. They are not the paper's settings:
those are ``presets/paper.yaml``, which names every field, each marked as the paper's (with
its section or equation) or ours; docs/configuration.md lists every departure from the paper.
Choices, bounds and rules between fields: :mod:`poseshift.config_rules`.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from poseshift.config_rules import ConfigError, check_config, coerce

# Adam's betas for G, D_I and Phi: CycleGAN's. The paper says "Adam solver [10]" only.
ADAM_BETAS = (0.5, 0.999)


@dataclass(frozen=True)
class PoseConfig:
    # 18 joints in COCO-18 order (section 3) is the only skeleton: poseshift.pose.schema.NUM_JOINTS.
    # Section 4.1, eq. (1): "a Gaussian peak with variance 0.03". Read as a standard
    # deviation of 0.03 x image height in pixels (7.7 px at 256).
    sigma_frac: float = 0.03


@dataclass(frozen=True)
class ModelConfig:
    image_size: int = 256
    # G's architecture. "resnet": the paper's G (section 4.2), G(I | p_f). "warp" (not in the
    # paper): the same trunk given the source warped part by part into p_f (poseshift.warp)
    # beside I_po and p_f, answering a blend of that warp and its own pixels
    # (nets/warp_generator.py); it also needs p_o. "flow" (not in the paper): the same inputs,
    # answering a correction of the warp's sampling field, of where the person is, and fill
    # pixels (nets/flow_generator.py), so a photo is re-posed at its own resolution. Eq. (8)
    # trains each unchanged.
    g_arch: str = "resnet"
    # G: CycleGAN's ResNet generator (Johnson et al.), section 4.2.
    g_channels: int = 64
    g_blocks: int = 9  # 9 residual blocks at 256, 6 below (CycleGAN's choice)
    # G's two x2 upsamplings: "deconv" = CycleGAN's transposed convolutions (section 4.2 as
    # written); "resize" = nearest resize + 3x3 conv, which cannot make the checkerboard that
    # short runs leave in flat backgrounds, where SSIM punishes it most.
    g_upsample: str = "deconv"
    # D: the 70x70 PatchGAN of pix2pix [6] (section 4.2), d_layers stride-2 convolutions then two
    # stride-1 ones padded by d_tail_padding: 1 = CycleGAN's, 30x30 output at 256 (every preset
    # but paper, and older checkpoints); 0 = the paper's 26x26 at 256 (Y_1, section 4.2). The same
    # weights and 70x70 receptive field either way; 0 has two fewer rings of patches at the border.
    d_channels: int = 64
    d_layers: int = 3
    d_tail_padding: int = 1
    # Phi: the same ResNet trunk as G, image -> 18 belief maps, no tanh.
    phi_channels: int = 64
    phi_blocks: int = 9
    # G, D and Phi use instance norm, as CycleGAN's networks (the paper's) do.
    # Psi: frozen pretrained features, section 5: VGG16 with z = 7 (relu2_2, H/2).
    psi_backbone: str = "vgg16"
    psi_layer: str = "relu2_2"
    psi_weights: str = ""  # local file for vgg16; empty = the default search path


@dataclass(frozen=True)
class LossConfig:
    # Eq. (8): L_I + lambda_P L_P on both passes, + lambda_Id L_Id + lambda_P L_Phi; the two
    # adversarial terms L_I are unweighted. ||.||_2^2 of eq. (3) is taken as the mean over maps
    # and pixels (MSE), which is what makes lambda_P = 700 a sensible weight next to L_I.
    lambda_pose: float = 700.0  # lambda_P, eq. (8), section 5
    lambda_id: float = 0.3  # lambda_Id, eq. (8), section 5
    # lambda in eq. (7) (style weight) is not given by the paper: ours. The patch-style
    # term of eq. (6) divides Gram matrices by H'W' and so is orders of magnitude
    # smaller than the content term; docs/results.md ("λ (style weight)") says why 1000.
    lambda_style: float = 1000.0
    # eq. (7) as in the paper, or "l1": the figure-5 ablation replacing lambda_Id L_Id by
    # 10 x L1(I_po, I^_po) (objective.L1_WEIGHT: CycleGAN's weight for the same L1 cycle term;
    # the paper gives none, and lambda_Id = 0.3, sized for feature distances, would leave that
    # row with no identity term to speak of).
    identity: str = "content_style"
    # Not in the paper: a third term in eq. (7), L_Id += lambda_colour x the patch-style
    # term of eq. (6) taken on the pixels (losses.patch_colour_loss): each joint's colour
    # statistics in I_pf against I_po's. It acts on the first pass directly, so it keeps
    # the person's colours where Psi is colour-blind or the cycle's gradient is cut.
    # 0 = the paper's L_Id. Part of L_Id, so the L1 and no-style ablations drop it too.
    lambda_colour: float = 0.0
    # Not in the paper: the share of the way back's gradient that reaches G's first pass through
    # I_pf (eq. 4's I^_o = G(G(I_po | p_f) | p_o)). 1 in the paper (eq. 9 minimises over G as a
    # whole). 0 = I_pf enters the second pass without gradient: the cycle's terms (content, L_I
    # and L_P on I^_o) train G only as the renderer of the way back, so the first pass cannot
    # learn to hide I_po in a code inside I_pf that only the second pass reads (Chu et al.
    # 2017, "CycleGAN, a master of steganography"); the first pass is then trained by L_I,
    # L_P and the patch-style (and colour) terms on I_pf, and by sharing G's weights.
    # Between: scaled.
    cycle_grad_scale: float = 1.0


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int = 12
    lr_g: float = 2e-4
    # The paper: 0.0001 "for the discriminators", D_I and Phi (the max side of eq. 9). Adam's
    # betas are CycleGAN's: ADAM_BETAS above.
    lr_d: float = 1e-4
    epochs: int = 300
    decay_after: int = 100  # linear decay to zero after this epoch (section 5)
    # Section 5's schedule: constant for `decay_after` of `epochs` epochs, then linear to
    # zero. "epochs" = as written, in epochs of the data. "budget" = the same shape laid
    # over the run's step budget (`train --max-steps`): constant for the first
    # decay_after/epochs of the steps (a third with 100/300), then linear to zero at the
    # last step. The paper trains to the end of its schedule; a run cut off by
    # --max-steps under "epochs" never reaches the decay. A resumed "budget" run re-lays the
    # schedule over the new budget.
    schedule: str = "epochs"
    pool_size: int = 50  # image buffer of Shrivastava et al., as CycleGAN's pool
    # Augmentation by flips, per image and per target pose, at random: "mirror" left-right
    # (left and right joints swapped), "all" the paper's three flips (section 6: left-right,
    # upside down, both; see poseshift.pose.heatmaps.flip_pose), "none".
    flip: str = "mirror"
    seed: int = 0
    device: str = "auto"
    bf16: bool = False  # autocast where bf16 is fast; fp32 with a warning elsewhere (devices.resolve_bf16)
    channels_last: bool = False
    # The input pipeline (not the paper's concern): DataLoader worker processes that decode,
    # fit and flip (0 = in the training process).
    workers: int = 2
    compile: bool = False  # torch.compile the networks of the step
    log_every: int = 10
    sample_every: int = 200
    checkpoint_every: int = 200  # `train --max-steps` ends a run early; by default it runs all `epochs`
    # The paper trains Phi jointly from the start and says nothing of its initialisation.
    # Until Phi localises joints, L_P (eq. 3) carries no signal and G learns to copy its
    # input, which a short run never leaves. These first steps train Phi alone on real
    # images (L_Phi of eq. 8); 0 = the paper's schedule as written.
    phi_warmup_steps: int = 0
    # Not in the paper: an exponential moving average of G's weights (Yazici et al. 2019,
    # "The unusual effectiveness of averaging in GAN training"; StyleGAN's G_ema), kept
    # beside G and used for inference, export and samples. The decay ramps up as
    # min(decay, (1 + n) / (10 + n)) over the n G updates, so short runs do not average in
    # their first steps. 0 = off, the paper as written.
    g_ema_decay: float = 0.0


@dataclass(frozen=True)
class DataConfig:
    # Training reads the rows of split.csv marked "train" (every row without a split.csv).
    # How a frame of another shape becomes the square training frame:
    # "pad" letterboxes (keeps aspect), "resize" stretches.
    fit: str = "pad"
    pad_value: int = 255  # DeepFashion's backgrounds are white
    cache: bool = False  # keep decoded, fitted images in memory (in each worker) after first use
    # Not in the paper (which has no warp): the source's person mask a warping G (g_arch warp,
    # flow) is given in the cycle's first pass, eq. (4). "pose": drawn from the pose;
    # "photo": the photo's own silhouette (poseshift.silhouette, cached per image), as at inference.
    silhouettes: str = "pose"


@dataclass(frozen=True)
class Config:
    pose: PoseConfig = field(default_factory=PoseConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


_SECTIONS = [f.name for f in fields(Config)]
_SECTION_TYPES = {
    "pose": PoseConfig, "model": ModelConfig, "loss": LossConfig,
    "train": TrainConfig, "data": DataConfig,
}
# Fields of poseshift 0.1.0 that are gone, each with the value whose behaviour is now the only one
# and where it went. A stored config (a checkpoint's, a YAML file) holding one with that value
# loads (the packaged model's does); any other value is refused in one line naming the field.
# docs/configuration.md ("Removed settings") says where each one's measurements are.
REMOVED: dict[tuple[str, str], tuple[Any, str]] = {
    ("pose", "num_joints"): (18, "COCO-18 is the only skeleton"),
    ("model", "warp_region"): (0.0, "measured and dropped"),
    ("model", "norm"): ("instance", "G, D and Phi use instance norm"),
    ("loss", "lambda_adv"): (1.0, "eq. (8)'s L_I terms are unweighted"),
    ("loss", "cycle_noise_std"): (0.0, "measured and dropped"),
    ("loss", "patch_sigma_scale"): (1.0, "measured and dropped"),
    ("loss", "pose_reduction"): ("mean", "eq. (3) is a mean squared error"),
    ("loss", "lambda_l1"): (10.0, "loss.identity=l1 weighs its L1 term by 10"),
    ("train", "mode"): ("unsupervised", "the ablation's supervised baseline is experiments/supervised.py"),
    ("train", "beta1"): (ADAM_BETAS[0], "Adam's betas are CycleGAN's, 0.5 and 0.999"),
    ("train", "beta2"): (ADAM_BETAS[1], "Adam's betas are CycleGAN's, 0.5 and 0.999"),
    ("train", "lr_phi"): (None, "Phi trains at train.lr_d, the paper's rate for the discriminators"),
    ("train", "prefetch"): (2, "each DataLoader worker prepares 2 batches ahead"),
    ("train", "max_steps"): (0, "use poseshift train --max-steps"),
    ("data", "split"): ("train", "training reads the train rows of split.csv"),
}


# Removed fields that only steered training (the networks and their renders do not depend on
# them): a checkpoint that stored another value still loads, with a note, since its G renders as
# it did; a resumed run trains with what remains. A YAML file or --set asking for them is refused.
TRAINING_ONLY = {("loss", "lambda_adv"), ("loss", "cycle_noise_std"), ("loss", "patch_sigma_scale"),
                 ("loss", "pose_reduction"), ("loss", "lambda_l1"), ("train", "beta1"),
                 ("train", "beta2"), ("train", "lr_phi"), ("train", "prefetch"), ("train", "max_steps"),
                 ("data", "split")}


def _check_removed(sec: str, name: str, value: Any, values: dict[str, Any], source: str,
                   stored: bool = False) -> None:
    """A removed field is accepted only at the value whose behaviour remains (see REMOVED), or,
    in a checkpoint's stored config (``stored``), at any value where it only steered training."""
    keep, where = REMOVED[(sec, name)]
    if (sec, name) == ("train", "lr_phi"):  # merged into lr_d: the same rate as D's loads
        keep = values.get("lr_d", TrainConfig.lr_d)
    try:
        same = value == keep if isinstance(keep, str) else float(value) == float(keep)
    except (TypeError, ValueError, OverflowError):
        same = False
    if isinstance(value, bool) or not same:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        if stored and (sec, name) in TRAINING_ONLY:
            print(f"poseshift: note: {source}: {sec}.{name}={shown} is no longer a setting ({where}); "
                  "its networks load as they were, a resumed run trains without it", file=sys.stderr)
            return
        raise ConfigError(f"{source}: {sec}.{name}={shown} is no longer a setting ({where}; "
                          "docs/configuration.md lists the removed settings)")


def from_dict(tree: dict[str, Any], source: str = "config", stored: bool = False) -> Config:
    """Build a Config from a nested dict, rejecting unknown sections and fields. ``stored``: a
    checkpoint's own config (removed training-only fields load at any value, with a note)."""
    if not isinstance(tree, dict):
        raise ConfigError(f"{source}: expected a mapping of sections, got {type(tree).__name__}")
    sections = {}
    for sec, values in tree.items():
        if sec not in _SECTION_TYPES:
            raise ConfigError(f"{source}: unknown section {sec!r} (known: {', '.join(_SECTIONS)})")
        values = values or {}
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: section {sec!r} must be a mapping")
        known = {f.name for f in fields(_SECTION_TYPES[sec])}
        kwargs = {}
        for name, value in values.items():
            if (sec, name) in REMOVED:
                _check_removed(sec, name, value, values, source, stored)
                continue
            if name not in known:
                raise ConfigError(f"{source}: unknown field {sec}.{name} (known: {', '.join(known)})")
            kwargs[name] = coerce(type(getattr(_SECTION_TYPES[sec](), name)), sec, name, value, source)
        sections[sec] = _SECTION_TYPES[sec](**kwargs)
    cfg = Config(**sections)
    check_config(cfg, source)
    return cfg


def preset_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("poseshift.presets").iterdir()
                  if p.name.endswith(".yaml"))


def _read_yaml(text: str, source: str) -> dict[str, Any]:
    tree = _parse_yaml(text, source)
    return {} if tree is None else tree


def _parse_yaml(text: str, source: str) -> Any:
    """Safe YAML (no tags that build objects), with every parser failure as one ConfigError."""
    try:
        tree = yaml.safe_load(text)
    except yaml.YAMLError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"{source}: not valid YAML ({first})") from None
    except RecursionError:
        raise ConfigError(f"{source}: YAML nested too deeply") from None
    return tree


def load_config(name_or_path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """A preset's name (``paper``, ``tiny``, ...) or a YAML file, then ``k=v`` overrides."""
    text = str(name_or_path)
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        if path.stat().st_size > 1 << 20:
            raise ConfigError(f"{path}: a config file over 1 MB is not a config")
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not a text file") from None
        tree = _read_yaml(text, str(path))
        source = str(path)
    else:
        res = resources.files("poseshift.presets") / f"{text}.yaml"
        if not res.is_file():
            raise ConfigError(f"unknown preset {text!r}: choose one of {', '.join(preset_names())} "
                              "or give a path to a YAML file")
        tree = _read_yaml(res.read_text(), f"preset {text}")
        source = f"preset {text}"
    return apply_overrides(from_dict(tree, source), overrides)


def apply_overrides(cfg: Config, overrides: list[str] | tuple[str, ...]) -> Config:
    """Apply ``section.field=value`` strings, e.g. ``train.lr_g=1e-4``."""
    tree = cfg.to_dict()
    for item in overrides:
        key, sep, value = item.partition("=")
        sec, dot, name = key.strip().partition(".")
        if not sep or not dot:
            raise ConfigError(f"--set {item!r}: expected section.field=value, e.g. train.lr_g=1e-4")
        if sec not in tree or (name not in tree[sec] and (sec, name) not in REMOVED):
            raise ConfigError(f"--set {item!r}: unknown field {key.strip()}")
        parsed = _parse_yaml(value, f"--set {key.strip()}") if value.strip() else ""
        tree[sec][name] = "" if parsed is None else parsed
    return from_dict(tree, "--set")


def config_from_json(text: str, source: str = "checkpoint") -> Config:
    try:
        tree = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{source}: config is not valid JSON ({err})") from None
    except RecursionError:
        raise ConfigError(f"{source}: config JSON nested too deeply") from None
    return from_dict(tree, source, stored=True)
