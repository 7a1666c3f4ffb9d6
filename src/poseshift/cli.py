"""The ``poseshift`` command. The only module that parses command lines.

    poseshift train --config NAME_OR_FILE --data DIR --out RUN [--max-steps N] [--resume] [--set k=v ...]
    torchrun --nproc_per_node N -m poseshift train ...     (N processes, DDP; the same flags)
    poseshift data DIR                                     (what a data folder holds)
    poseshift transfer --checkpoint CKPT --image IMG --pose POSE --out OUT.png
    poseshift pose IMAGE_OR_DIR ... --out FILE.csv|FILE.json [--masks DIR]
    poseshift prepare --images DIR --out DIR [--size N | --size H W] [--fit pad|resize]
    poseshift evaluate --pairs PAIRS.csv --data DIR (--generated GEN_DIR | --checkpoint CKPT) --out REPORT.json
    poseshift synth --out DIR --people N --poses-per-person K --size S --seed X [--background plain|textured]
    poseshift demo
    poseshift plot RUN
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from poseshift import __version__

# Errors about the user's input or machine, not our bugs: one line, exit 2.
# POSESHIFT_DEBUG=1 shows the traceback instead.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, ImportError, KeyError)


def _new_output(path: str, overwrite: bool) -> Path:
    """An output file that must not replace the user's file unless asked."""
    out = Path(path)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
    return out


def cmd_train(args: argparse.Namespace) -> int:
    from poseshift.config import apply_overrides, load_config
    from poseshift.training import build_trainer
    from poseshift.training.distributed import finish_distributed

    overrides = list(args.set or [])
    if args.device:
        overrides.append(f"train.device={args.device}")
    cfg = apply_overrides(load_config(args.config), overrides)
    try:
        trainer = build_trainer(cfg, args.data, args.out, resume=args.resume, progress=not args.quiet,
                                init=args.init, overwrite=args.overwrite)
        trainer.train(max_steps=args.max_steps, time_limit=args.minutes * 60 if args.minutes else None)
    finally:
        finish_distributed()
    if trainer.world.main:
        print(f"checkpoint: {trainer.ckpt_path} (step {trainer.step_count})")
    return 0


def cmd_transfer(args: argparse.Namespace) -> int:
    from poseshift.images import write_image
    from poseshift.transfer import Reposer

    out = _new_output(args.out, args.overwrite)
    reposer = Reposer.from_checkpoint(args.checkpoint, device=args.device or "auto")
    try:
        write_image(out, reposer(args.image, args.pose, args.source_pose))
    finally:
        reposer.close()
    print(f"wrote {out}")
    return 0


def _image_paths(items: list[str]) -> list[Path]:
    from poseshift.images import IMAGE_SUFFIXES

    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            paths += sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
        elif p.is_file():
            paths.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such image or folder")
    if not paths:
        raise ValueError(f"no images in {' '.join(items)}")
    return paths


def cmd_pose(args: argparse.Namespace) -> int:
    from poseshift.detect import PoseDetector, detect_paths, write_detections
    from poseshift.images import read_image, write_image

    paths = _image_paths(args.inputs)
    out = _new_output(args.out, args.overwrite)
    if out.suffix.lower() not in (".csv", ".json"):
        raise ValueError(f"--out {out}: detections are written as .csv or .json")
    if out.resolve() in {q.resolve() for q in paths}:
        raise ValueError(f"--out {out} is one of the input images")
    if args.masks:
        inputs = {q.resolve() for q in paths}
        if Path(args.masks).resolve() in {q.parent for q in inputs}:
            raise ValueError(f"--masks {args.masks} is a folder of input images; choose another folder")
        for q in paths:
            mask = (Path(args.masks) / f"{q.stem}.png")
            if mask.resolve() in inputs:
                raise ValueError(f"--masks {args.masks}: the mask {mask} would replace an input image; "
                                 f"choose another folder")
            _new_output(str(mask), args.overwrite)
    with PoseDetector() as detector:
        found, failures = detect_paths(paths, progress=not args.quiet, detector=detector)
        if args.masks:
            for p in paths:
                if p.name in found:
                    mask = detector.segment(read_image(p))
                    write_image(Path(args.masks) / f"{p.stem}.png", (mask[..., None] * 255).repeat(3, -1))
    for name, reason in failures.items():
        print(f"poseshift: skipped {name}: {reason}", file=sys.stderr)
    out = write_detections(out, found)
    print(f"wrote {out}: {len(found)} of {len(paths)} images ({len(failures)} skipped)")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from poseshift.prepare import prepare_dataset

    size = args.size[0] if len(args.size) == 1 else tuple(args.size)
    stats = prepare_dataset(args.images, args.out, size=size, mode=args.fit, progress=not args.quiet,
                            masks=args.masks, overwrite=args.overwrite)
    print(f"wrote {args.out}: kept {stats['kept']} of {stats['images']} images; dropped "
          + (", ".join(f"{n} {why}" for why, n in stats["dropped_by_reason"].items()) or "none"))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from poseshift.evaluate import evaluate_pairs, read_pairs

    if sum(map(bool, (args.generated, args.checkpoint, args.copy_source, args.warp_only))) != 1:
        raise ValueError("give exactly one of --generated GEN_DIR, --checkpoint CKPT, --copy-source or --warp-only")
    out = _new_output(args.out, args.overwrite)
    _new_output(args.sheet or str(out.with_suffix(".png")), args.overwrite)
    generated = Path(args.generated) if args.generated else out.parent / (out.stem + "_images")
    if not args.generated and generated.is_dir() and any(generated.iterdir()) and not args.overwrite:
        raise FileExistsError(f"{generated} holds earlier renders; pass --overwrite to replace them")
    from poseshift.layouts import open_layout

    layout = open_layout(args.data)
    pairs_file = args.pairs or layout.pairs_file(args.split or "test")  # a published layout's test pairs
    pairs = read_pairs(pairs_file)
    if not pairs:
        raise ValueError(f"{pairs_file}: no from,to pairs to evaluate")
    if args.split and layout.split_file is not None:
        from poseshift.layouts import read_split

        splits = read_split(layout.split_file)
        pairs = [(a, b) for a, b in pairs if splits.get(a) == args.split and splits.get(b) == args.split]
        print(f"{len(pairs)} pairs with both images in split {args.split!r}")
    if args.checkpoint or args.copy_source or args.warp_only:
        from poseshift.transfer import Reposer, copy_pairs, render_pairs, warp_pairs

        if args.copy_source:
            counts = copy_pairs(pairs, args.data, generated)
        elif args.warp_only:
            counts = warp_pairs(pairs, args.data, generated)
        else:
            reposer = Reposer.from_checkpoint(args.checkpoint, device=args.device or "auto")
            try:
                counts = render_pairs(reposer, pairs, args.data, generated, progress=not args.quiet)
            finally:
                reposer.close()
        if not counts["rendered"]:
            raise ValueError(f"{pairs_file}: none of its {len(pairs)} pairs names two images of {args.data}")
        print(f"wrote {counts['rendered']} images into {generated}")
    detector = None
    wanted = args.metrics or None
    if wanted is None or "pckh" in wanted:
        try:
            from poseshift.detect import PoseDetector
            detector = PoseDetector()
        except ImportError as err:
            print(f"poseshift: pckh skipped: {err}", file=sys.stderr)
    peers = {Path(p).name: p for p in (args.peers or [])}
    try:
        report = evaluate_pairs(pairs, args.data, generated, out, metrics=wanted,
                                sheet_png=args.sheet or out.with_suffix(".png"), peers=peers or None,
                                progress=not args.quiet, detector=detector, device=args.device or "auto",
                                lpips_weights=args.lpips_weights, is_weights=args.is_weights,
                                pairs_source=f"{pairs_file}" + (f" (split {args.split})" if args.split else ""))
    finally:
        if detector is not None:
            detector.close()
    summary = {k: (v.get("value") if isinstance(v, dict) and "value" in v else v.get("skipped"))
               for k, v in report["metrics"].items()}
    print(json.dumps({"n": report["n"], "missing": report["missing"], **summary}, indent=2))
    print(f"wrote {out}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from poseshift.layouts import describe

    print(describe(args.dir))
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from poseshift.synth import write_dataset

    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty; choose a new --out")
    stats = write_dataset(out, args.people, args.poses_per_person, args.size, args.seed,
                          background=args.background, progress=not args.quiet, workers=args.workers)
    print(f"wrote {out}: {stats['images']} images of {stats['people']} people, {stats['pairs']} pairs "
          f"({stats['seconds']:.1f} s)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from poseshift.demo import run_demo, run_training_demo

    if args.train:
        print(f"demo sheet: {run_training_demo(args.out, progress=not args.quiet)}")
        return 0
    sheet, gif = run_demo(args.out, checkpoint=args.checkpoint)
    print(f"demo sheet: {sheet}\nfull turn: {gif}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from poseshift.checkpoint import export_generator

    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise ValueError(f"--out {out}: an export is a .safetensors file (its JSON is written beside it)")
    if out.resolve() == Path(args.checkpoint).resolve():
        raise ValueError(f"--out {out} is the checkpoint being exported")
    _new_output(str(out), args.overwrite)
    _new_output(str(out.with_suffix(".json")), args.overwrite)
    print(f"wrote {export_generator(args.checkpoint, out)} (generator only)")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from poseshift.plot import plot_losses

    run = Path(args.run)
    out = _new_output(args.out or str(run / "loss.png"), args.overwrite)
    print(f"wrote {plot_losses(run / 'log.jsonl', out)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="poseshift", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"poseshift {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train G, D and Phi on a folder of images with keypoints")
    t.add_argument("--config", default="tiny", help="preset name (paper, tiny, ...) or a YAML file")
    t.add_argument("--data", required=True, help="folder with images/ and annotations.csv (split.csv optional), "
                                                 "or a published DeepFashion or Market-1501 layout (see poseshift data)")
    t.add_argument("--out", required=True, help="run folder for checkpoints, samples and log.jsonl")
    t.add_argument("--max-steps", type=int, default=None, help="stop at this global step")
    t.add_argument("--minutes", type=float, help="stop (with a checkpoint) after this many minutes; --resume goes on")
    t.add_argument("--resume", action="store_true", help="continue from RUN/checkpoints/last.safetensors")
    t.add_argument("--overwrite", action="store_true", help="start a new run in --out, replacing the run there")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field, e.g. train.lr_g=1e-4")
    t.add_argument("--init", metavar="CKPT", help="fine-tune: a new run whose networks start from this checkpoint's "
                                                  "(its model settings are kept; ignored on --resume)")
    t.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], help="shorthand for --set train.device=")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    r = sub.add_parser("transfer", help="render a person in a new pose with a trained checkpoint")
    r.add_argument("--checkpoint", required=True)
    r.add_argument("--image", required=True, help="photo of the person (any size)")
    r.add_argument("--pose", required=True, help="target keypoints (annotation CSV, OpenPose JSON or plain JSON) "
                                                "in the pixel frame of --image")
    r.add_argument("--source-pose", help="keypoints of --image itself, for a generator that warps the source "
                                          "(model.g_arch=warp); detected when absent")
    r.add_argument("--out", required=True, help="output PNG")
    r.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"])
    r.add_argument("--overwrite", action="store_true")
    r.set_defaults(func=cmd_transfer)

    po = sub.add_parser("pose", help="detect 18 COCO keypoints per image (MediaPipe, offline)")
    po.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR")
    po.add_argument("--out", required=True, help="FILE.csv (annotation format) or FILE.json")
    po.add_argument("--masks", help="also write a person mask per image into this folder")
    po.add_argument("--overwrite", action="store_true", help="replace an existing --out file and masks")
    po.add_argument("--quiet", action="store_true")
    po.set_defaults(func=cmd_pose)

    pr = sub.add_parser("prepare", help="make a training folder from unlabeled photos")
    pr.add_argument("--images", required=True, help="folder of photos")
    pr.add_argument("--out", required=True, help="new folder: images/ and annotations.csv")
    pr.add_argument("--size", type=int, nargs="+", default=[256], help="N (square) or H W")
    pr.add_argument("--fit", choices=["pad", "resize"], default="pad")
    pr.add_argument("--masks", action="store_true", help="also write person masks")
    pr.add_argument("--overwrite", action="store_true", help="allow a non-empty --out")
    pr.add_argument("--quiet", action="store_true")
    pr.set_defaults(func=cmd_prepare)

    ev = sub.add_parser("evaluate", help="SSIM, mask-SSIM, PCKh, FID/KID (and LPIPS/IS with weights) on pairs")
    ev.add_argument("--pairs", help="CSV with from,to (default: a published layout's pairs of --split, "
                                    "test unless given)")
    ev.add_argument("--data", required=True, help="folder with images/ and annotations.csv, or a published "
                                                  "DeepFashion or Market-1501 layout")
    ev.add_argument("--generated", help="folder of <from stem>___<to stem>.png")
    ev.add_argument("--checkpoint", help="render the pairs with this checkpoint (kept beside the report)")
    ev.add_argument("--copy-source", action="store_true", help="baseline: the source image as the render")
    ev.add_argument("--warp-only", action="store_true", help="baseline: the source warped part by part into the "
                                                             "target pose, untrained (poseshift.warp)")
    ev.add_argument("--split", help="only pairs whose two images are in this split of DATA/split.csv")
    ev.add_argument("--out", required=True, help="report JSON")
    ev.add_argument("--overwrite", action="store_true", help="replace an existing report, sheet and renders")
    ev.add_argument("--metrics", nargs="+", help="subset of metrics (default: all)")
    ev.add_argument("--peers", nargs="+", help="other systems' output folders, shown on the sheet")
    ev.add_argument("--sheet", help="sheet PNG (default: the report's name with .png)")
    ev.add_argument("--lpips-weights", help="local LPIPS weights file(s)")
    ev.add_argument("--is-weights", help="local Inception Score classifier (TorchScript)")
    ev.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"])
    ev.add_argument("--quiet", action="store_true")
    ev.set_defaults(func=cmd_evaluate)

    da = sub.add_parser("data", help="what a data folder holds: its layout, images, rows and frame sizes")
    da.add_argument("dir")
    da.set_defaults(func=cmd_data)

    sy = sub.add_parser("synth", help="render a synthetic dataset of clothed people with exact keypoints")
    sy.add_argument("--out", required=True)
    sy.add_argument("--people", type=int, default=100)
    sy.add_argument("--poses-per-person", type=int, default=4)
    sy.add_argument("--size", type=int, default=64)
    sy.add_argument("--seed", type=int, default=0)
    sy.add_argument("--background", choices=["plain", "textured"], default="plain")
    sy.add_argument("--workers", type=int, default=1)
    sy.add_argument("--quiet", action="store_true")
    sy.set_defaults(func=cmd_synth)

    d = sub.add_parser("demo", help="offline demonstration: re-pose new synthetic people with the shipped model")
    d.add_argument("--out", default="poseshift-demo")
    d.add_argument("--checkpoint", help="another checkpoint than the shipped synthetic one")
    d.add_argument("--train", action="store_true", help="instead, train tiny briefly on simple figures (~2 min)")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=cmd_demo)

    ex = sub.add_parser("export", help="write an inference-only checkpoint: G (its average G_ema where "
                                       "the run kept one) and the config")
    ex.add_argument("--checkpoint", required=True)
    ex.add_argument("--out", required=True)
    ex.add_argument("--overwrite", action="store_true")
    ex.set_defaults(func=cmd_export)

    pl = sub.add_parser("plot", help="plot a run's loss curves from log.jsonl")
    pl.add_argument("run")
    pl.add_argument("--out", help="PNG path (default RUN/loss.png)")
    pl.add_argument("--overwrite", action="store_true", help="replace an existing PNG")
    pl.set_defaults(func=cmd_plot)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="poseshift: %(message)s")
    args = build_parser().parse_args(argv)
    from poseshift.training import TrainError

    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("poseshift: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("poseshift: error: out of memory (a setting or input larger than this machine holds)", file=sys.stderr)
        return 2
    except (*USER_ERRORS, TrainError) as err:
        if os.environ.get("POSESHIFT_DEBUG"):
            raise
        msg = str(err).strip().splitlines()[0] if str(err).strip() else err.__class__.__name__
        if len(msg) > 400:  # a message quoting a huge input stays readable
            msg = msg[:380] + " ... (cut)"
        print(f"poseshift: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
