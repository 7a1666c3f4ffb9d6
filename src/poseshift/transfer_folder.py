"""A folder of photos, each rendered in one pose (what ``poseshift transfer --image FOLDER`` writes):
the folder's images in name order, their source poses read once from one file naming each photo
(or detected where the generator needs them), renders in batches, ``<stem>.png`` each."""
from __future__ import annotations

from pathlib import Path

from poseshift.images import image_paths, write_image
from poseshift.transfer import PoseLike, Reposer

__all__ = ["render_folder"]


def render_folder(reposer: Reposer, folder: str | Path, pose: PoseLike, out: str | Path,
                  source: str | Path | None = None, frame: str = "photo", batch: int = 16,
                  progress: bool = True) -> int:
    """Render every image of ``folder`` in ``pose`` into ``out/<stem>.png``, ``batch`` a pass of
    the generator; the number of renders. ``source``: a keypoint file (annotations CSV or
    poseshift pose JSON) naming each photo's own pose; ``frame``: ``photo`` (each photo's own
    size and frame) or ``model`` (the model's square)."""
    from tqdm import tqdm

    from poseshift.pose.keypoints_io import pick_row, read_named_poses

    out = Path(out)
    paths = image_paths([str(folder)])
    rows = read_named_poses(source) if source else None
    for i in tqdm(range(0, len(paths), batch), desc="transfer", unit="batch", disable=not progress):
        chunk = paths[i:i + batch]
        sources = None if rows is None else [pick_row(rows, p.name, source) for p in chunk]
        renders = reposer.render_batch(chunk, [pose] * len(chunk), sources, frame)
        for path, render in zip(chunk, renders, strict=True):
            write_image(out / f"{path.stem}.png", render)
    return len(paths)
