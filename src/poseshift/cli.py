"""The ``poseshift`` command: each command's work (the arguments are in :mod:`poseshift.cli_parser`).

    poseshift train | transfer | animate | pose | prepare | evaluate | data | synth | demo | export | plot | models
    torchrun --nproc_per_node N -m poseshift train ...     (N processes, DDP; the same flags)
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from poseshift.cli_files import image_paths as _image_paths
from poseshift.cli_files import new_output as _new_output
from poseshift.cli_files import pose_for_photo

# Errors about the user's input or machine, not our bugs: one line, exit 2. A KeyError or any other
# exception is a bug of ours and keeps its traceback. POSESHIFT_DEBUG=1 shows every traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, ImportError)


def cmd_train(args: argparse.Namespace) -> int:
    from poseshift.config import apply_overrides, load_config
    from poseshift.training import Trainer
    from poseshift.training.distributed import finish_distributed

    overrides = list(args.set or [])
    if args.device:
        overrides.append(f"train.device={args.device}")
    cfg = apply_overrides(load_config(args.config), overrides)
    try:
        trainer = Trainer(cfg, args.data, args.out, resume=args.resume, progress=not args.quiet, init=args.init,
                          overwrite=args.overwrite)
        trainer.train(max_steps=args.max_steps, time_limit=args.minutes * 60 if args.minutes else None)
    except BaseException:
        finish_distributed()
        raise
    finish_distributed(barrier=True)
    if trainer.world.main:
        print(f"checkpoint: {trainer.ckpt_path} (step {trainer.step_count})")
    return 0


def cmd_transfer(args: argparse.Namespace) -> int:
    from poseshift.images import write_image
    from poseshift.transfer import Reposer

    if bool(args.pairs) == bool(args.image):
        raise ValueError("give --image (a photo or a folder) with --pose, or --pairs with --data")
    if args.image and not args.pose:
        raise ValueError("--image needs --pose (a photo, or a keypoint file)")
    if args.batch < 1:
        raise ValueError(f"--batch must be at least 1, got {args.batch}")
    out = Path(args.out)
    folder = args.pairs or Path(args.image).is_dir()
    if not folder:
        _new_output(args.out, args.overwrite)
    elif out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise FileExistsError(f"{out} is not empty; pass --overwrite to write into it")
    reposer = Reposer.from_checkpoint(args.checkpoint, device=args.device, bf16=args.bf16, adapt=args.adapt)
    reposer.retarget = not args.no_retarget  # the target's angles on this person's own bones
    try:
        if args.pairs:
            from poseshift.layouts import read_pairs
            from poseshift.pair_renders import render_pairs

            if not args.data:
                raise ValueError("--pairs needs --data (the folder holding the images and their keypoints)")
            counts = render_pairs(reposer, read_pairs(args.pairs), args.data, out, progress=not args.quiet)
            print(f"wrote {counts['rendered']} renders into {out}")
            return 0
        pose = reposer.keypoints(args.pose, "pose", args.pose_name) if args.pose_name else args.pose
        source = args.source_pose
        if not folder:  # a file naming several photos: the entry of --image's name
            source = pose_for_photo(source, args.image)
            write_image(out, reposer.render_batch([args.image], [pose], None if source is None else [source],
                                                  args.frame)[0])
            print(f"wrote {out}")
            return 0
        from poseshift.transfer_folder import render_folder

        n = render_folder(reposer, args.image, pose, out, source=source, frame=args.frame, batch=args.batch,
                          progress=not args.quiet)
        print(f"wrote {n} renders into {out}")
    finally:
        reposer.close()
    return 0


def cmd_animate(args: argparse.Namespace) -> int:
    from poseshift.animate import animate
    from poseshift.transfer import Reposer

    reposer = Reposer.from_checkpoint(args.checkpoint, device=args.device, bf16=args.bf16, adapt=args.adapt)
    try:  # animate() checks --out (suffix, --overwrite) before it renders anything
        out = animate(reposer, args.image, args.poses, args.out, fps=args.fps, frames=args.frames,
                      source_pose=pose_for_photo(args.source_pose, args.image, args.pose_name),
                      overwrite=args.overwrite, progress=not args.quiet, retarget=not args.no_retarget,
                      max_seconds=args.max_seconds)
    finally:
        reposer.close()
    print(f"wrote {out}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError:
        from poseshift.extras import missing_extra

        raise missing_extra("poseshift serve", "serve") from None
    from poseshift.serve import create_app

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"poseshift: warning: serving on {args.host}: anyone who can reach this machine can use the page",
              file=sys.stderr)
    from poseshift.serve.app import default_workers

    workers = args.workers or default_workers(args.device)
    if workers > 1 and args.device in ("cpu", "auto"):  # requests side by side, each on its share of the cores
        import torch

        torch.set_num_threads(max(1, torch.get_num_threads() // workers))
    app = create_app(args.checkpoint, args.device, adapt=args.adapt, workers=workers)
    print(f"poseshift: serving {args.checkpoint} on http://{args.host}:{args.port}/ with {workers} worker(s) "
          "(Ctrl-C stops)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from poseshift.packaged import describe_models

    print(describe_models())
    return 0


def cmd_pose(args: argparse.Namespace) -> int:
    from poseshift.cli_video import cmd_pose_video, wants_video
    from poseshift.detect import PoseDetector, detect_paths, write_detections
    from poseshift.images import read_image, write_image

    if wants_video(args.inputs):  # a video: a pose a frame
        return cmd_pose_video(args)
    paths = _image_paths(args.inputs)
    out = _new_output(args.out, args.overwrite)
    if out.suffix.lower() not in (".csv", ".json"):
        raise ValueError(f"--out {out}: detections are written as .csv or .json")
    inputs = {q.resolve() for q in paths}
    if out.resolve() in inputs:
        raise ValueError(f"--out {out} is one of the input images")
    if args.masks:
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
    if not found:  # nothing to write: not an empty file that reads as a success
        skipped = "the image was" if len(paths) == 1 else f"all {len(paths)} images were"
        raise ValueError(f"no pose found: {skipped} skipped; {out} not written")
    out = write_detections(out, found)
    print(f"wrote {out}: {len(found)} of {len(paths)} images ({len(failures)} skipped)")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from poseshift.prepare import prepare_dataset

    size = args.size[0] if len(args.size) == 1 else tuple(args.size)
    stats = prepare_dataset(args.images, args.out, size=size, mode=args.fit, progress=not args.quiet,
                            masks=args.masks, overwrite=args.overwrite, silhouettes=not args.no_silhouettes)
    print(f"wrote {args.out}: kept {stats['kept']} of {stats['images']} images; dropped "
          + (", ".join(f"{n} {why}" for why, n in stats["dropped_by_reason"].items()) or "none"))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from poseshift.evaluation_run import EvaluationRun, headline, run_evaluation

    run = EvaluationRun(data=args.data, out=args.out, generated=args.generated, checkpoint=args.checkpoint,
                        copy_source=args.copy_source, warp_only=args.warp_only, pairs=args.pairs, split=args.split,
                        sheet=args.sheet, peers=args.peers or (), metrics=args.metrics, device=args.device or "auto",
                        adapt=args.adapt, overwrite=args.overwrite, progress=not args.quiet,
                        lpips_weights=args.lpips_weights, is_weights=args.is_weights,
                        inception_weights=args.inception_weights, fid_cache=args.fid_cache)
    report, out = run_evaluation(run)
    print(json.dumps(headline(report), indent=2))
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
    from poseshift.packaged import resolve_checkpoint

    out, ckpt = Path(args.out), resolve_checkpoint(args.checkpoint)
    fmt = args.format or {".onnx": "onnx", ".safetensors": "safetensors"}.get(out.suffix.lower())
    if fmt is None:
        raise ValueError(f"--out {out}: name a .safetensors or .onnx file (or give --format)")
    want = ".onnx" if fmt == "onnx" else ".safetensors"
    if out.suffix.lower() != want:
        raise ValueError(f"--out {out}: a {fmt} export is a {want} file (its JSON is written beside it)")
    if out.resolve() == ckpt.resolve():
        raise ValueError(f"--out {out} is the checkpoint being exported")
    size = None
    if args.full_resolution:
        if fmt != "onnx":
            raise ValueError(f"--full-resolution {args.full_resolution}: only an ONNX export (.onnx) has one")
        from poseshift.onnx_photo import parse_photo_size

        size = parse_photo_size(args.full_resolution)
    _new_output(str(out), args.overwrite)
    _new_output(str(out.with_suffix(".json")), args.overwrite)
    if size:
        from poseshift.onnx_photo import check_photo_onnx, export_photo_onnx

        export_photo_onnx(ckpt, out, *size, overwrite=args.overwrite)
        print(f"wrote {out} and {out.with_suffix('.json')} ({size[0]}x{size[1]} photos; onnxruntime against "
              f"Reposer.render_in_frame: max difference {check_photo_onnx(ckpt, out)} uint8 levels)")
        return 0
    if fmt == "onnx":
        from poseshift.onnx_export import check_onnx, export_onnx

        export_onnx(ckpt, out, overwrite=args.overwrite)
        print(f"wrote {out} and {out.with_suffix('.json')} (onnxruntime against PyTorch: max abs difference "
              f"{check_onnx(ckpt, out):.2e})")
        return 0
    from poseshift.loading import export_generator

    print(f"wrote {export_generator(ckpt, out)} (what inference needs: G, and D_I and Phi for --adapt)")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from poseshift.plot import plot_losses

    run = Path(args.run)
    out = _new_output(args.out or str(run / "loss.png"), args.overwrite)
    print(f"wrote {plot_losses(run / 'log.jsonl', out)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="poseshift: %(message)s")
    from poseshift.cli_parser import build_parser

    args = build_parser(COMMANDS).parse_args(argv)
    if args.verbose:
        os.environ["POSESHIFT_VERBOSE"] = "1"
    else:  # other libraries' INFO lines would reach our handler
        for name in ("onnxscript", "onnx_ir", "torch", "absl"):
            logging.getLogger(name).setLevel(logging.WARNING)
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


COMMANDS = {"train": cmd_train, "transfer": cmd_transfer, "animate": cmd_animate, "pose": cmd_pose,
            "prepare": cmd_prepare, "evaluate": cmd_evaluate, "data": cmd_data, "synth": cmd_synth,
            "demo": cmd_demo, "export": cmd_export, "plot": cmd_plot, "models": cmd_models, "serve": cmd_serve}


if __name__ == "__main__":
    sys.exit(main())
