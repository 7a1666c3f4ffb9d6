"""One form for every "install this" hint, naming only what pip can find:

    MP4 output needs the 'video' extra: pip install -e "/home/me/poseshift[video]"

poseshift is not on PyPI, so a hint never says ``pip install poseshift[...]`` to a copy installed
from a folder: it names that folder (the source tree it runs from, or pip's ``direct_url.json``).
Imports nothing of poseshift (any layer may use it).
"""
from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

__all__ = ["install_command", "missing_extra", "missing_dependency"]


def install_command(extra: str | None = None) -> str:
    """The pip command that installs poseshift (with ``extra``) the way this copy was installed:
    ``pip install -e "DIR[extra]"`` for a source folder DIR (an editable install, or PYTHONPATH),
    ``pip install "DIR[extra]"`` for a plain install from a folder or an archive, and
    ``pip install "poseshift[extra]"`` for one from an index."""
    suffix = f"[{extra}]" if extra else ""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "src" / "poseshift").is_dir():
        return f'pip install -e "{root}{suffix}"'
    try:
        origin = json.loads(metadata.distribution("poseshift").read_text("direct_url.json") or "null")
    except (metadata.PackageNotFoundError, OSError, ValueError):
        origin = None
    if not isinstance(origin, dict) or not str(origin.get("url", "")).startswith("file:"):
        return f'pip install "poseshift{suffix}"'
    return f'pip install "{unquote(urlparse(origin["url"]).path)}{suffix}"'


def missing_extra(what: str, extra: str) -> ImportError:
    """``raise missing_extra("MP4 output", "video") from None`` where an optional package is absent."""
    return ImportError(f"{what} needs the {extra!r} extra: {install_command(extra)}")


def missing_dependency(what: str, requirement: str) -> ImportError:
    """For a package poseshift itself depends on that is absent (an install made with --no-deps)."""
    return ImportError(f"{what} needs {requirement}, a dependency of poseshift: pip install \"{requirement}\"")
