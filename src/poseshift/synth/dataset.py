"""Write a synthetic dataset in the layout training reads.

``out_dir/images/<person>_<k>.png`` (named ``<person>_<k>.jpg`` in the CSVs; readers resolve by
stem), ``annotations.csv`` (the literature's ``name:keypoints_y:keypoints_x`` format),
``pairs.csv`` (``from,to``: one person in two poses), ``split.csv`` (``name,person,split``, the
last ~20% of people ``test``) and ``silhouettes/`` (each image's exact, anti-aliased person mask
in :class:`poseshift.silhouette.SilhouetteCache`'s format, so no segmenter is needed). Every
person's images depend only on ``(seed, person index)``, so the output is byte-identical for a
seed whatever the number of worker processes.
"""

from __future__ import annotations

import multiprocessing as mp
import struct
import time
import zlib
from pathlib import Path

import numpy as np

from poseshift.pose.keypoints_io import write_annotations_csv
from poseshift.silhouette import SilhouetteCache
from poseshift.synth.appearance import Person, sample_person
from poseshift.synth.render import render, render_full
from poseshift.synth.skeleton import Pose3D, sample_pose, sample_yaw


def person_seed_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of person ``index`` of a dataset with ``seed``."""
    return np.random.default_rng([int(seed), int(index)])


def turntable(
    person: Person, pose: Pose3D, size: int, n: int = 12, background: str = "plain", seed: int = 0
) -> list[np.ndarray]:
    """A full turn: the same person and articulation rendered at ``n`` yaws from 0 to 360 degrees
    (exclusive), on the same background. Returns ``n`` uint8 ``[S, S, 3]`` images."""
    return [
        render(person, pose, 2 * np.pi * i / n, size, background, np.random.default_rng(seed))[0]
        for i in range(n)
    ]


def encode_png(image: np.ndarray, level: int = 1) -> bytes:
    """A lossless RGB PNG of ``image`` (uint8 ``[H, W, 3]``): every row "Sub"-filtered, zlib
    ``level``. About twice as fast as Pillow's adaptive filtering on these flat-coloured images."""
    h, w, _ = image.shape
    flat = image.reshape(h, w * 3)
    rows = np.empty((h, w * 3 + 1), np.uint8)
    rows[:, 0] = 1  # filter type 1: Sub
    rows[:, 1:4] = flat[:, :3]
    np.subtract(flat[:, 3:], flat[:, :-3], out=rows[:, 4:])  # uint8 arithmetic wraps mod 256

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), level))
        + chunk(b"IEND", b"")
    )


def _render_person(args) -> list[tuple[str, np.ndarray]]:
    """Render and save every image of one person; returns ``[(csv name, keypoints [18, 2])]``."""
    out_dir, index, width, poses, size, seed, background, close_ups = args
    rng = person_seed_rng(seed, index)
    person = sample_person(rng)
    pid = f"p{index:0{width}d}"
    masks = SilhouetteCache(Path(out_dir) / "silhouettes")
    rows = []
    for k in range(poses):
        pose, yaw = sample_pose(rng), sample_yaw(rng)
        zoom = float(rng.uniform(1.25, 1.9)) if rng.random() < close_ups else 1.0
        r = render_full(person, pose, yaw, size, background, rng, zoom)
        (Path(out_dir) / "images" / f"{pid}_{k}.png").write_bytes(encode_png(r.image))
        masks.put(r.image, r.alpha)  # keyed by the pixels saved: the PNG is lossless
        rows.append((f"{pid}_{k}.jpg", r.keypoints))
    return rows


def _pairs(seed: int, index: int, names: list[str], max_pairs: int) -> list[tuple[str, str]]:
    pairs = [(a, b) for a in names for b in names if a != b]
    if len(pairs) > max_pairs:
        rng = np.random.default_rng([int(seed), int(index), 1])
        keep = np.sort(rng.choice(len(pairs), max_pairs, replace=False))
        pairs = [pairs[i] for i in keep]
    return pairs


def write_dataset(
    out_dir: str | Path,
    people: int,
    poses_per_person: int,
    size: int,
    seed: int,
    background: str = "plain",
    progress: bool = True,
    workers: int = 1,
    test_fraction: float = 0.2,
    max_pairs_per_person: int = 10,
    close_ups: float = 0.1,
) -> dict:
    """Render ``people`` x ``poses_per_person`` images of ``size`` pixels; write them, their masks and
    the three CSVs.

    A share ``close_ups`` of the images are closer crops (legs cut off by the frame, their joints
    missing), as in DeepFashion. ``workers > 1`` renders people in that many processes (same
    bytes as one). Returns counts:
    ``images``, ``people``, ``pairs``, ``train``/``test`` (images), ``test_people`` and ``seconds``.
    """
    if people < 1 or poses_per_person < 1 or size < 16:
        raise ValueError("need people >= 1, poses_per_person >= 1 and size >= 16")
    if background not in ("plain", "textured"):
        raise ValueError(f"background must be 'plain' or 'textured', got {background!r}")
    t0 = time.perf_counter()
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "silhouettes").mkdir(exist_ok=True)
    width = max(5, len(str(people - 1)))
    jobs = [
        (str(out), i, width, poses_per_person, size, seed, background, close_ups)
        for i in range(people)
    ]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=people * poses_per_person, unit="img", desc="synth")
    results: list[list[tuple[str, np.ndarray]]] = []
    if workers > 1:
        with mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn").Pool(
            workers
        ) as pool:
            for rows in pool.imap(
                _render_person, jobs, chunksize=max(1, min(32, people // (8 * workers)))
            ):
                results.append(rows)
                if bar:
                    bar.update(len(rows))
    else:
        for job in jobs:
            results.append(_render_person(job))
            if bar:
                bar.update(poses_per_person)
    if bar:
        bar.close()

    n_test = 0 if people < 2 else max(1, int(round(test_fraction * people)))
    annotations: dict[str, np.ndarray] = {}
    split_lines = ["name,person,split"]
    pair_lines = ["from,to"]
    for index, rows in enumerate(results):
        pid = f"p{index:0{width}d}"
        split = "test" if index >= people - n_test else "train"
        names = [name for name, _ in rows]
        for name, kp in rows:
            annotations[name] = kp
            split_lines.append(f"{name},{pid},{split}")
        pair_lines += [f"{a},{b}" for a, b in _pairs(seed, index, names, max_pairs_per_person)]
    write_annotations_csv(out / "annotations.csv", annotations)
    (out / "pairs.csv").write_text("\n".join(pair_lines) + "\n", encoding="utf-8")
    (out / "split.csv").write_text("\n".join(split_lines) + "\n", encoding="utf-8")
    n_img = people * poses_per_person
    return dict(
        images=n_img,
        people=people,
        pairs=len(pair_lines) - 1,
        train=(people - n_test) * poses_per_person,
        test=n_test * poses_per_person,
        test_people=n_test,
        seconds=time.perf_counter() - t0,
    )
