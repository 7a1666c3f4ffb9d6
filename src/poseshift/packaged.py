"""The models that ship inside the package, by name: ``--checkpoint synthetic-64``.

Each entry says what it is good for, so that ``poseshift models`` can tell a user before
they try it on a photo. A name that is not a packaged model is read as a checkpoint path.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ASSETS = Path(__file__).parent / "assets"


@dataclass(frozen=True)
class PackagedModel:
    name: str
    file: str
    resolution: int
    data: str
    good_for: str
    licence: str = "MIT, as the code"

    @property
    def path(self) -> Path:
        return ASSETS / self.file


MODELS = {m.name: m for m in [
    PackagedModel("synthetic-64", "synthetic-64.safetensors", 64,
                  "synthetic clothed people (poseshift synth), 64x64, plain backgrounds; the G that corrects "
                  "the part warp's sampling field (model.g_arch flow): needs the photo's own pose (detected or "
                  "--source-pose)",
                  "the offline demo and trying the commands; not real photos (train one: see README)"),
]}


# transfer's default for photos
PHOTO_MODEL = "synthetic-64"


def resolve_checkpoint(name_or_path: str | Path) -> Path:
    """A packaged model's file, or the path itself when it is a file."""
    from poseshift.checkpoint import CheckpointError

    text = str(name_or_path)
    if text in MODELS:
        return MODELS[text].path
    path = Path(text).expanduser()
    if path.is_file():
        return path
    raise CheckpointError(f"{text}: no such checkpoint file, nor a packaged model "
                          f"(packaged: {', '.join(MODELS)}; see poseshift models)")


def describe_models() -> str:
    import textwrap

    def fill(text: str) -> str:
        return textwrap.fill(text, 100, initial_indent=" " * 23, subsequent_indent=" " * 23).lstrip()

    rows = [f"{m.name:<14} {m.resolution:>4} px  {fill('trained on ' + m.data)}\n{'':<23}{fill('good for: ' + m.good_for)}"
            f"\n{'':<23}{fill('licence: ' + m.licence)}" for m in MODELS.values()]
    return "\n".join(rows)
