"""One whole evaluation of a system, what ``poseshift evaluate`` runs: where the report and the
renders go, which pairs (a pairs file, or a layout's own, kept to a split), the renders (a
checkpoint's, the copied sources, the warp alone, or a folder given as it is), a pose detector for
``pckh``, then :func:`poseshift.evaluate.evaluate_pairs`.

Where ``out`` ends in ``.json`` it is the report, and renders go beside it in ``<stem>_images/``;
otherwise it is a folder laid out as the peers lay one out: ``out/images/<from>___<to>.png`` and
``out/report.json``. The sheet is the report's ``.png`` unless named.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from poseshift.evaluate import EvaluationOptions, evaluate_pairs, read_pairs
from poseshift.files import new_output

__all__ = ["EvaluationRun", "EvaluationLayout", "run_evaluation", "headline"]

Say = Callable[[str], None]


def _warn(line: str) -> None:
    print(line, file=sys.stderr)


@dataclass
class EvaluationRun:
    """What to evaluate and how. Exactly one of ``generated`` (a folder of renders),
    ``checkpoint`` (rendered here), ``copy_source`` or ``warp_only`` (the baselines) says where
    the renders come from."""

    data: str | Path
    out: str | Path
    generated: str | Path | None = None
    checkpoint: str | Path | None = None
    copy_source: bool = False
    warp_only: bool = False
    pairs: str | Path | None = None  # None: the layout's pairs of ``split`` (default: test)
    split: str | None = None
    sheet: str | Path | None = None
    peers: Sequence[str | Path] = ()
    metrics: Sequence[str] | None = None  # None: all
    device: str = "auto"
    adapt: int = 0
    overwrite: bool = False
    progress: bool = True
    lpips_weights: str | Path | Sequence[str | Path] | None = None
    is_weights: str | Path | None = None
    inception_weights: str | Path | None = None
    fid_cache: str | Path | None = None

    def check_source(self) -> None:
        if sum(map(bool, (self.generated, self.checkpoint, self.copy_source, self.warp_only))) != 1:
            raise ValueError("give exactly one of --generated GEN_DIR, --checkpoint CKPT, --copy-source or "
                             "--warp-only")


@dataclass
class EvaluationLayout:
    """Where a run writes: the report, the sheet and the folder of renders scored."""

    report: Path
    sheet: Path
    generated: Path


def output_layout(run: EvaluationRun) -> EvaluationLayout:
    """The run's files, checked: none replaces an earlier one unless ``run.overwrite``."""
    if Path(run.out).suffix.lower() == ".json":  # a report file; renders beside it in <stem>_images/
        report = new_output(run.out, run.overwrite)
        renders = report.parent / (report.stem + "_images")
    else:  # a folder, as the peers lay one out: DIR/images/<from>___<to>.png and DIR/report.json
        report = new_output(Path(run.out) / "report.json", run.overwrite)
        renders = Path(run.out) / "images"
    sheet = new_output(run.sheet or report.with_suffix(".png"), run.overwrite)
    generated = Path(run.generated) if run.generated else renders
    if not run.generated and generated.is_dir() and any(generated.iterdir()) and not run.overwrite:
        raise FileExistsError(f"{generated} holds earlier renders; pass --overwrite to replace them")
    return EvaluationLayout(report, sheet, generated)


def select_pairs(run: EvaluationRun, say: Say = print) -> tuple[list[tuple[str, str]], str | Path]:
    """The pairs to score and the file they came from."""
    from poseshift.layouts import open_layout

    layout = open_layout(run.data)
    pairs_file = run.pairs or layout.pairs_file(run.split or "test")  # a published layout's test pairs
    pairs = read_pairs(pairs_file)
    if not pairs:
        raise ValueError(f"{pairs_file}: no from,to pairs to evaluate")
    if run.split and layout.split_file is not None:
        from poseshift.layouts import read_split

        splits = read_split(layout.split_file)
        pairs = [(a, b) for a, b in pairs if splits.get(a) == run.split and splits.get(b) == run.split]
        say(f"{len(pairs)} pairs with both images in split {run.split!r}")
    return pairs, pairs_file


def render(run: EvaluationRun, pairs: list[tuple[str, str]], generated: Path, pairs_file: str | Path,
           say: Say = print) -> None:
    """Write the renders of ``pairs`` into ``generated``, where the run makes its own."""
    if not (run.checkpoint or run.copy_source or run.warp_only):
        return
    from poseshift.pair_renders import copy_pairs, render_pairs, warp_pairs
    from poseshift.transfer import Reposer

    if run.copy_source:
        counts = copy_pairs(pairs, run.data, generated)
    elif run.warp_only:
        from poseshift.silhouette import cache_for_data

        counts = warp_pairs(pairs, run.data, generated, silhouettes=cache_for_data(run.data))
    else:
        reposer = Reposer.from_checkpoint(run.checkpoint, device=run.device or "auto", adapt=run.adapt)
        try:
            counts = render_pairs(reposer, pairs, run.data, generated, progress=run.progress)
        finally:
            reposer.close()
    if not counts["rendered"]:
        raise ValueError(f"{pairs_file}: none of its {len(pairs)} pairs names two images of {run.data}")
    say(f"wrote {counts['rendered']} images into {generated}")


def open_detector(metrics: Sequence[str] | None, warn: Say = _warn):
    """A pose detector where ``pckh`` is asked for and the ``pose`` extra is here, else ``None``."""
    if metrics is not None and "pckh" not in metrics:
        return None
    try:
        from poseshift.detect import PoseDetector
        return PoseDetector()
    except ImportError as err:
        warn(f"poseshift: pckh skipped: {err}")
        return None


def run_evaluation(run: EvaluationRun, say: Say = print, warn: Say = _warn) -> tuple[dict[str, Any], Path]:
    """Layout, pairs, renders, metrics, report: the report and the file it was written to.
    ``say``: the progress lines (the pairs of a split, the renders written); ``warn``: a metric
    left out."""
    run.check_source()
    where = output_layout(run)
    pairs, pairs_file = select_pairs(run, say)
    render(run, pairs, where.generated, pairs_file, say)
    wanted = list(run.metrics) if run.metrics else None
    detector = open_detector(wanted, warn)
    peers = {Path(p).name: p for p in (run.peers or [])}
    options = EvaluationOptions(metrics=wanted, sheet_png=run.sheet or where.sheet, peers=peers or None,
                                progress=run.progress, detector=detector, device=run.device or "auto",
                                lpips_weights=run.lpips_weights, is_weights=run.is_weights,
                                inception_weights=run.inception_weights, stats_cache=run.fid_cache,
                                pairs_source=f"{pairs_file}" + (f" (split {run.split})" if run.split else ""))
    try:
        report = evaluate_pairs(pairs, run.data, where.generated, where.report, options)
    finally:
        if detector is not None:
            detector.close()
    return report, where.report


def headline(report: dict[str, Any]) -> dict[str, Any]:
    """The numbers worth a line: pairs scored, missing, each metric's value or why it was skipped."""
    summary = {k: (v.get("value") if isinstance(v, dict) and "value" in v else v.get("skipped"))
               for k, v in report["metrics"].items()}
    return {"n": report["n"], "missing": report["missing"], **summary}
