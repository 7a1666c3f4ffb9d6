"""The ``poseshift`` command. The only module that parses command lines.

    poseshift train --config NAME_OR_FILE --data DIR --out RUN [--max-steps N] [--resume] [--set k=v ...]
    poseshift transfer --checkpoint CKPT --image IMG --pose POSE --out OUT.png
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


def cmd_train(args: argparse.Namespace) -> int:
    from poseshift.config import apply_overrides, load_config
    from poseshift.train import Trainer

    overrides = list(args.set or [])
    if args.device:
        overrides.append(f"train.device={args.device}")
    cfg = apply_overrides(load_config(args.config), overrides)
    trainer = Trainer(cfg, args.data, args.out, resume=args.resume, progress=not args.quiet)
    trainer.train(max_steps=args.max_steps)
    print(f"checkpoint: {trainer.ckpt_path} (step {trainer.step_count})")
    return 0


def cmd_transfer(args: argparse.Namespace) -> int:
    from poseshift.images import write_image
    from poseshift.transfer import Reposer

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
    reposer = Reposer.from_checkpoint(args.checkpoint, device=args.device or "auto")
    write_image(out, reposer(args.image, args.pose))
    print(f"wrote {out}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from poseshift.demo import run_demo

    sheet = run_demo(args.out, progress=not args.quiet)
    print(f"demo sheet: {sheet}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from poseshift.plot import plot_losses

    run = Path(args.run)
    out = Path(args.out) if args.out else run / "loss.png"
    print(f"wrote {plot_losses(run / 'log.jsonl', out)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="poseshift", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"poseshift {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train G, D and Phi on a folder of images with keypoints")
    t.add_argument("--config", default="tiny", help="preset name (paper, tiny, ...) or a YAML file")
    t.add_argument("--data", required=True, help="folder with images/ and annotations.csv (split.csv optional)")
    t.add_argument("--out", required=True, help="run folder for checkpoints, samples and log.jsonl")
    t.add_argument("--max-steps", type=int, default=None, help="stop at this global step")
    t.add_argument("--resume", action="store_true", help="continue from RUN/checkpoints/last.safetensors")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field, e.g. train.lr_g=1e-4")
    t.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], help="shorthand for --set train.device=")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    r = sub.add_parser("transfer", help="render a person in a new pose with a trained checkpoint")
    r.add_argument("--checkpoint", required=True)
    r.add_argument("--image", required=True, help="photo of the person (any size)")
    r.add_argument("--pose", required=True, help="target keypoints (annotation CSV, OpenPose JSON or plain JSON) "
                                                "in the pixel frame of --image")
    r.add_argument("--out", required=True, help="output PNG")
    r.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"])
    r.add_argument("--overwrite", action="store_true")
    r.set_defaults(func=cmd_transfer)

    d = sub.add_parser("demo", help="offline demonstration: train briefly on generated figures, re-pose them")
    d.add_argument("--out", default="poseshift-demo")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=cmd_demo)

    pl = sub.add_parser("plot", help="plot a run's loss curves from log.jsonl")
    pl.add_argument("run")
    pl.add_argument("--out", help="PNG path (default RUN/loss.png)")
    pl.set_defaults(func=cmd_plot)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="poseshift: %(message)s")
    args = build_parser().parse_args(argv)
    from poseshift.train import TrainError

    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("poseshift: interrupted", file=sys.stderr)
        return 130
    except (*USER_ERRORS, TrainError) as err:
        if os.environ.get("POSESHIFT_DEBUG"):
            raise
        msg = str(err).strip().splitlines()[0] if str(err).strip() else err.__class__.__name__
        print(f"poseshift: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
