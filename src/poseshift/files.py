"""Files written so that a kill or a full disk never leaves a broken one: a temporary file in the
same folder, then a rename (checkpoints, sidecars, images, animations, caches)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from safetensors import SafetensorError

TMP_SUFFIX = ".tmp"


def new_output(path: str | Path, overwrite: bool) -> Path:
    """An output file that must not replace the user's file unless asked."""
    out = Path(path)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
    return out


def atomic_write(path: Path, write) -> None:
    """``write(tmp)`` into a temporary file beside ``path``, then rename it over ``path``. A
    failure (a full disk) leaves ``path`` as it was and raises ``OSError`` naming it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        try:
            write(tmp)
        except (SafetensorError, OSError) as err:
            raise OSError(f"{path}: could not write ({err}); the previous file is unchanged") from None
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a checkpoint is an ordinary file
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def remove_stray(folder: Path, names: tuple[str, ...]) -> list[Path]:
    """Delete the temporary files that a kill during :func:`atomic_write` of a file whose name
    starts with one of ``names`` left in ``folder`` (nothing else is touched)."""
    gone = []
    if folder.is_dir():
        for tmp in folder.glob(f".*{TMP_SUFFIX}"):
            if tmp.is_file() and tmp.name[1:].startswith(names):
                tmp.unlink()
                gone.append(tmp)
    return gone

